"""Monitors carry tags and a stable key: validated and normalised on every write, shown in every read,
filtered by (`?tag=` all of them, `?key=`), a duplicate key a 409 naming key; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.webapp.conftest import ApiClient

VALID = {"name": "Shop", "url": "https://shop.example/health", "check_interval": 30, "timeout": 5}


def _create(api: ApiClient, **fields) -> dict:
    response = api.post("/monitors", json={**VALID, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _names(api: ApiClient, query: str) -> list[str]:
    response = api.get(f"/monitors?{query}")
    assert response.status_code == 200, response.get_json()
    return [m["name"] for m in response.get_json()]


def test_tags_are_lower_cased_deduplicated_and_kept_in_order(api):
    created = _create(api, tags=["Prod", "eu", "prod", "team:payments", "v1.2_x-y"], key="shop-health")
    assert created["tags"] == ["prod", "eu", "team:payments", "v1.2_x-y"]
    assert created["key"] == "shop-health"
    assert api.get(f"/monitors/{created['id']}").get_json()["tags"] == created["tags"]
    assert api.get("/monitors").get_json()[0]["tags"] == created["tags"]


def test_a_monitor_without_tags_or_key_shows_an_empty_list_and_null(api):
    created = _create(api)
    assert (created["tags"], created["key"]) == ([], None)


@pytest.mark.parametrize(("tags", "reason"), [
    (["-prod"], "starts with a letter or digit"),
    (["pro d"], "starts with a letter or digit"),
    ([""], "1 to 50 characters"),
    (["x" * 51], "1 to 50 characters"),
    ([f"t{i}" for i in range(21)], "at most 20 tags"),
    ("prod", "Not a valid list."),
])
def test_a_bad_tag_list_is_refused_naming_tags(api, tags, reason):
    response = api.post("/monitors", json={**VALID, "tags": tags})
    assert response.status_code == 422
    assert reason in str(response.get_json()["errors"]["json"]["tags"])


@pytest.mark.parametrize(("key", "reason"), [
    ("-x", "starts with a letter or digit"),
    ("a b", "starts with a letter or digit"),
    ("x" * 101, "1 to 100 characters"),
    ("monitor-12", "is reserved"),
])
def test_a_bad_key_is_refused_naming_key(api, key, reason):
    response = api.post("/monitors", json={**VALID, "key": key})
    assert response.status_code == 422
    assert reason in str(response.get_json()["errors"]["json"]["key"])


def test_twenty_tags_after_deduplication_are_accepted(api):
    tags = [f"t{i}" for i in range(20)]
    assert _create(api, tags=[*tags, "T0"])["tags"] == tags


def test_a_duplicate_key_is_a_409_naming_key_and_nothing_is_stored(api):
    first = _create(api, key="shop")
    other = _create(api, name="Other")
    for response in (api.post("/monitors", json={**VALID, "key": "shop", "tags": ["x"]}),
                     api.patch(f"/monitors/{other['id']}", json={"key": "shop"}),
                     api.put(f"/monitors/{other['id']}", json={**VALID, "key": "shop"})):
        assert response.status_code == 409, response.get_json()
        body = response.get_json()
        assert list(body["errors"]["json"]) == ["key"]
        assert f"monitor {first['id']}" in body["message"]
    assert len(api.get("/monitors").get_json()) == 2
    assert api.get(f"/monitors/{other['id']}").get_json()["key"] is None


def test_a_key_can_be_changed_and_removed_and_sending_it_unchanged_is_no_conflict(api):
    created = _create(api, key="shop")
    assert api.patch(f"/monitors/{created['id']}", json={"key": "shop"}).status_code == 200
    assert api.patch(f"/monitors/{created['id']}", json={"key": "shop-2"}).get_json()["key"] == "shop-2"
    assert _create(api, key="shop")["key"] == "shop"  # the old key is free again
    assert api.patch(f"/monitors/{created['id']}", json={"key": None}).get_json()["key"] is None


def test_patch_replaces_the_tags_put_without_tags_removes_them_and_the_state_is_kept(api):
    created = _create(api, tags=["a", "b"])
    patched = api.patch(f"/monitors/{created['id']}", json={"tags": ["c", "A"]}).get_json()
    assert patched["tags"] == ["c", "a"]
    assert patched["status"] == "UNKNOWN" and patched["next_check_at"] == created["next_check_at"]  # no recheck
    assert api.patch(f"/monitors/{created['id']}", json={"enabled": False}).get_json()["tags"] == ["c", "a"]
    assert api.put(f"/monitors/{created['id']}", json=VALID).get_json()["tags"] == []
    assert api.get("/monitors?tag=c").get_json() == []


def test_bulk_create_takes_tags_and_keys_and_names_a_duplicate_key_by_index(api):
    items = [{**VALID, "name": f"m{i}", "key": f"k{i}", "tags": ["bulk", f"n{i % 2}"]} for i in range(4)]
    created = api.post("/monitors/bulk", json={"monitors": items}).get_json()
    assert [(m["key"], m["tags"]) for m in created] == [(f"k{i}", ["bulk", f"n{i % 2}"]) for i in range(4)]
    again = api.post("/monitors/bulk", json={"monitors": [{**VALID, "key": "new"}, {**VALID, "key": "k2"}]})
    assert again.status_code == 409
    assert list(again.get_json()["errors"]["json"]) == ["monitors.1.key"]
    twice = api.post("/monitors/bulk", json={"monitors": [{**VALID, "key": "z"}, {**VALID, "key": "z"}]})
    assert twice.status_code == 422
    assert list(twice.get_json()["errors"]["json"]) == ["monitors.1.key"]
    assert len(api.get("/monitors").get_json()) == 4


def test_the_tag_filter_keeps_monitors_with_every_tag_given(api):
    _create(api, name="a", tags=["prod", "eu"])
    _create(api, name="b", tags=["prod", "us"])
    _create(api, name="c", tags=["staging", "eu"])
    _create(api, name="d")
    assert _names(api, "tag=prod") == ["a", "b"]
    assert _names(api, "tag=prod&tag=eu") == ["a"]
    assert _names(api, "tag=PROD&tag=eu&enabled=true") == ["a"]
    assert _names(api, "tag=nowhere") == []
    response = api.get("/monitors?tag=prod&page_size=1")
    assert response.headers["X-Pagination"].startswith('{"total": 2')


def test_the_key_filter_finds_one_monitor(api):
    _create(api, name="a", key="alpha")
    _create(api, name="b", key="beta")
    assert _names(api, "key=beta") == ["b"]
    assert _names(api, "key=Beta") == []  # keys are case-sensitive


def test_deleting_a_monitor_deletes_its_tags(api):
    created = _create(api, tags=["gone"])
    assert api.delete(f"/monitors/{created['id']}").status_code == 204
    assert _names(api, "tag=gone") == []
    from healthmon.models import MonitorTag

    assert MonitorTag.select().count() == 0


@pytest.mark.parametrize("path", ["/monitors", "/summary"])
def test_a_filter_tag_no_tag_can_be_is_a_422_naming_tag(api, path):
    refused = api.get(f"{path}?tag=prod&tag=%C3%A9t%C3%A9")  # "été": tags are ASCII
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]["query"]) == ["tag"]


def test_a_filter_key_no_key_can_be_is_a_422_naming_key(api):
    for query in ("key=" + "k" * 101, "key=%C3%A9t%C3%A9", "key=a%20b"):
        refused = api.get(f"/monitors?{query}")
        assert refused.status_code == 422, query
        assert list(refused.get_json()["errors"]["query"]) == ["key"]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_under_gunicorn_the_longest_filter_is_answered_and_a_non_ascii_one_is_a_json_422(tmp_path):
    """gunicorn answers a request line over its limit with an HTML 414 (by default 4094 bytes, which 20
    percent-encoded non-ASCII tags of 30 characters pass); 20 valid tags of 50 characters are far below."""
    import json
    import urllib.error
    import urllib.request

    from tests.webapp.live import live_api

    def get(api, query):
        request = urllib.request.Request(f"{api.base_url}/summary?{query}",
                                         headers={"Authorization": f"Bearer {api.key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    with live_api(f"sqlite:///{tmp_path}/live.db", tmp_path) as api:
        longest = "&".join(f"tag={i:02d}" + "x" * 48 for i in range(20))
        status, body = get(api, longest)
        assert status == 200 and body["monitors"]["total"] == 0
        status, body = get(api, "&".join(f"tag={i:02d}" + "%F0%9F%98%80" * 28 for i in range(20)))
        assert status == 422, body
        assert list(json.loads(body)["errors"]["query"]) == ["tag"]
