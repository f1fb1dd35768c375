"""`since` and `until` take every RFC 3339 date-time the OpenAPI document allows (`format: date-time`):
out-of-range years are clamped to what can be stored, a leap second is read as :59, and an `until` at
or before `since` is an empty range, never a 422 the document does not explain."""

from __future__ import annotations

import pytest

BASE = {"name": "Shop", "url": "https://shop.example/", "check_interval": 30, "timeout": 5}


@pytest.mark.parametrize("query", [
    "since=0000-01-01T00:00:00Z", "since=0436-01-15T16:45:22%2B19:48", "since=0001-01-01T00:00:00%2B01:00",
    "until=9999-12-31T23:59:59-05:00", "until=9999-12-31T23:59:60Z", "since=2026-06-30T23:59:60Z",
])
def test_a_date_time_outside_the_stored_range_is_clamped_not_refused(api, query):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    for path in ("events", "results"):
        response = api.get(f"/monitors/{mid}/{path}?{query}")
        assert response.status_code == 200, (query, response.get_json())


@pytest.mark.parametrize("until", ["2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z"])
def test_an_until_at_or_before_since_is_an_empty_page(api, until):
    mid = api.post("/monitors", json=BASE).get_json()["id"]
    api.patch(f"/monitors/{mid}", json={"url": "https://shop.example/new"})  # no event: it was UNKNOWN
    for path in ("events", "results"):
        response = api.get(f"/monitors/{mid}/{path}?since=2026-01-01T00:00:00Z&until={until}")
        assert response.status_code == 200 and response.get_json() == []
        assert '"total": 0' in response.headers["X-Pagination"]
