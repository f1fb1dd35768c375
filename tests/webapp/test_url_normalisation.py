"""url and webhook_url are IRIs, as the OpenAPI document says (`format: iri`), stored as ASCII URIs:
an internationalised host in its IDNA (punycode) form, other non-ASCII percent-encoded; what is not an
IRI, or has a host no IDNA name can spell, is a 422 naming the field. The API never answers or stores
a URL that is not a URI."""

from __future__ import annotations

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthmon.db import database
from healthmon.models import Monitor
from webapp.schemas import URL_PATTERN, HttpUrl
from webapp.urls import UrlProblem, normalise_url

IRI = jsonschema_rs.validator_for({"type": "string", "format": "iri", "pattern": URL_PATTERN}, validate_formats=True)
URI = jsonschema_rs.validator_for({"type": "string", "format": "uri"}, validate_formats=True)
BASE = {"name": "Shop", "check_interval": 30, "timeout": 5}

NORMALISED = [
    ("https://bücher.de/", "https://xn--bcher-kva.de/"),
    ("https://Bücher.DE:8443/ä?q=ö#ü", "https://xn--bcher-kva.de:8443/%C3%A4?q=%C3%B6#%C3%BC"),
    ("https://faß.de/", "https://xn--fa-hia.de/"),  # IDNA 2008, as libcurl resolves it: not fass.de
    ("https://例え.テスト/", "https://xn--r8jz45g.xn--zckzah/"),
    ("https://ü:pw@bücher.de/", "https://%C3%BC:pw@xn--bcher-kva.de/"),
    ("https://[2001:db8::1]:8080/ä", "https://[2001:db8::1]:8080/%C3%A4"),
    ("https://Example.COM/Path?x=1", "https://Example.COM/Path?x=1"),  # ASCII: unchanged
]

REFUSED = [
    ("https://😀.com/", "idna"),  # an IRI, but no IDNA 2008 name
    ("https://" + "ä" * 64 + ".de/", "idna"),  # a label over 63 octets once encoded
    ("https://\U000f092e/", "malformed"),  # private use: not an IRI character in a host
    ("https://a<b>.com/", "malformed"),
    ("https://example.com/a|b", "malformed"),
    ("https://example.com/{id}", "malformed"),
    ("https://example.com/%zz", "malformed"),
    ("https://example.com/#a#b", "malformed"),
    ("https://example.com/\ufffe", "malformed"),
    ("https://example.com:80a/", "malformed"),
]


@pytest.mark.parametrize(("given_url", "stored"), NORMALISED)
def test_an_iri_is_stored_as_its_uri(given_url, stored):
    assert normalise_url(given_url) == stored
    assert IRI.is_valid(given_url) and URI.is_valid(stored)


@pytest.mark.parametrize(("given_url", "key"), REFUSED)
def test_what_is_not_an_iri_or_not_an_idna_name_is_refused(given_url, key):
    with pytest.raises(UrlProblem) as refused:
        normalise_url(given_url)
    assert refused.value.key == key
    assert IRI.is_valid(given_url) is (key == "idna")  # the one rule the format does not state: the description does


URL_CHARS = st.sampled_from("aZ09-._~:/?#[]@!$&'()*+,;=%<>|{}^`\"\\ éß例\U0001f600\ue000\ufffe\x00")


@settings(max_examples=400, deadline=None)
@given(host=st.text(URL_CHARS, min_size=1, max_size=12), rest=st.text(URL_CHARS, max_size=12))
def test_an_accepted_url_is_one_the_schema_allows_and_becomes_a_uri(host, rest):
    """The field is never laxer than its OpenAPI format and pattern, and never stores a non-URI."""
    text = f"https://{host}{rest}"
    try:
        out = HttpUrl().deserialize(text)
    except Exception:  # noqa: BLE001 - a refusal; the property is about what is accepted
        return
    assert IRI.is_valid(text), text
    assert URI.is_valid(out), (text, out)


def _stored(monitor_id: int) -> Monitor:
    monitor = Monitor.get_by_id(monitor_id)
    database.close()
    return monitor


def test_the_api_stores_and_shows_the_idna_form_on_every_write(api):
    created = api.post("/monitors", json={**BASE, "url": "https://bücher.de/ä",
                                           "webhook_url": "https://hooks.bücher.de/services/T0/B0/SECRETSECRET"})
    assert created.status_code == 201, created.get_json()
    mid = created.get_json()["id"]
    assert created.get_json()["url"] == "https://xn--bcher-kva.de/%C3%A4"
    assert created.get_json()["webhook_url"].startswith("https://hooks.xn--bcher-kva.de/")
    stored = _stored(mid)
    assert (stored.url, stored.webhook_url) == (
        "https://xn--bcher-kva.de/%C3%A4", "https://hooks.xn--bcher-kva.de/services/T0/B0/SECRETSECRET")

    replaced = api.put(f"/monitors/{mid}", json={**BASE, "url": "https://faß.de/"})
    assert replaced.status_code == 200 and replaced.get_json()["url"] == "https://xn--fa-hia.de/"
    patched = api.patch(f"/monitors/{mid}", json={"webhook_url": "https://例え.テスト/hook"})
    assert patched.status_code == 200, patched.get_json()
    assert _stored(mid).webhook_url == "https://xn--r8jz45g.xn--zckzah/hook"

    bulk = api.post("/monitors/bulk", json={"monitors": [{**BASE, "url": "https://bücher.de/"}]})
    assert bulk.status_code == 201 and bulk.get_json()[0]["url"] == "https://xn--bcher-kva.de/"


@pytest.mark.parametrize("field", ["url", "webhook_url"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "BULK"])
def test_a_host_no_idna_name_can_spell_is_a_422_naming_the_field(api, method, field):
    existing = api.post("/monitors", json={**BASE, "url": "https://shop.example/"}).get_json()
    body = {**BASE, "url": "https://shop.example/", field: "https://😀.com/"}
    if method == "BULK":
        response, name = api.post("/monitors/bulk", json={"monitors": [body]}), f"monitors.0.{field}"
    else:
        path = "/monitors" if method == "POST" else f"/monitors/{existing['id']}"
        response, name = api.open(method, path, json=body), field
    assert response.status_code == 422, response.get_json()
    reasons = response.get_json()["errors"]["json"][name]
    assert "not a valid internationalised domain name" in reasons[0]
    assert api.get(f"/monitors/{existing['id']}").get_json() == existing
    assert len(api.get("/monitors").get_json()) == 1
