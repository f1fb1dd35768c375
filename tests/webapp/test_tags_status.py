"""/status groups monitors by tag (a section per tag, a monitor in each of its tags', untagged last) and
/status?tag= shows one group; GET /summary?tag= counts only the monitors with those tags."""

from __future__ import annotations

import re

import pytest

from healthmon.models import Monitor
from tests.conftest import make_settings
from tests.webapp.conftest import ApiClient, make_key
from webapp.app import create_app

VALID = {"url": "https://shop.example/health", "check_interval": 30, "timeout": 5}


@pytest.fixture
def public(db_url):
    app = create_app(make_settings(database_url=db_url, status_page="public"), TESTING=True)
    api = ApiClient(app.test_client(), make_key())
    for name, tags in (("api", ["prod", "eu"]), ("web", ["prod"]), ("lab", ["staging"]), ("misc", [])):
        assert api.post("/monitors", json={**VALID, "name": name, "tags": tags}).status_code == 201
    Monitor.update(status="DOWN").where(Monitor.name == "web").execute()
    Monitor.update(status="UP").where(Monitor.name != "web").execute()
    return api


def _sections(html: str) -> list[tuple[str, list[str]]]:
    """(heading, monitor names) in page order."""
    out = []
    for chunk in re.split(r'<h2 class="group"', html)[1:]:
        heading = re.sub(r"<[^>]+>", " ", chunk.split("</h2>")[0].split(">", 1)[1]).split()
        out.append((heading[0], re.findall(r'<a href="/status/\d+">([^<]+)</a>', chunk.split("</h2>")[1])))
    return out


def test_the_overview_has_a_section_per_tag_and_untagged_last(public):
    html = public.get("/status").get_data(as_text=True)
    assert _sections(html) == [("eu", ["api"]), ("prod", ["api", "web"]), ("staging", ["lab"]),
                               ("Untagged", ["misc"])]
    assert "1 of 4 monitors down" in html  # the banner counts monitors, not rows
    assert '<a class="chip" href="/status?tag=prod">prod</a>' in html


def test_one_tag_shows_its_group_only(public):
    page = public.get("/status?tag=PROD")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _sections(html) == [("prod", ["api", "web"])]
    assert "1 of 2 monitors down" in html and "<h1>Status · prod</h1>" in html
    assert "No monitors tagged nothing" in public.get("/status?tag=nothing").get_data(as_text=True)
    assert public.get("/status?tag=no%20such").status_code == 404


def test_without_any_tag_the_page_is_one_list(db_url):
    app = create_app(make_settings(database_url=db_url, status_page="public"), TESTING=True)
    api = ApiClient(app.test_client(), make_key())
    api.post("/monitors", json={**VALID, "name": "solo"})
    html = api.get("/status").get_data(as_text=True)
    assert "<h2>Monitors</h2>" in html and "Untagged" not in html and html.count('class="mon"') == 1


def test_the_summary_takes_tags(public):
    everything = public.get("/summary").get_json()["monitors"]
    assert (everything["total"], everything["down"]) == (4, 1)
    prod = public.get("/summary?tag=prod").get_json()
    assert (prod["monitors"]["total"], prod["monitors"]["up"], prod["monitors"]["down"]) == (2, 1, 1)
    assert [m["name"] for m in prod["down_now"]] == ["web"]
    assert public.get("/summary?tag=prod&tag=eu").get_json()["monitors"]["total"] == 1
    assert public.get("/summary?tag=none").get_json()["monitors"]["total"] == 0
    assert public.get("/summary?tags=prod").status_code == 422  # a typo is not ignored
