"""POST /apply vets the addresses of new and changed monitors before its transaction: no DNS lookup happens
while the write lock is held (dry run or not), and a blocked host is still a 400 naming the item and field,
with nothing stored; on SQLite and PostgreSQL. Names resolve through a stand-in resolver that records
whether a transaction was open at each lookup (and sends nothing off this machine)."""

from __future__ import annotations

import pytest

from healthmon import netguard
from healthmon.db import database
from healthmon.models import Monitor
from tests.webapp.conftest import monitor_count
from webapp import service

ADDRESSES = {"api.example.com": ["93.184.216.34"], "www.example.com": ["93.184.216.35"],
             "new.example.com": ["93.184.216.36"], "intranet.example.com": ["10.1.2.3"]}


@pytest.fixture
def lookups(monkeypatch):
    """(host, whether a transaction was open) for each lookup the address guard makes."""
    seen: list[tuple[str, bool]] = []

    def resolve(host: str) -> list[str]:
        seen.append((host, database.in_transaction()))
        return ADDRESSES.get(host, [])

    monkeypatch.setattr(netguard, "resolve", resolve)
    return seen


def _apply(api, monitors: list[dict], **flags):
    return api.post("/apply", json={"monitors": monitors, **flags})


def _monitor(key: str, url: str) -> dict:
    return {"key": key, "name": key.title(), "url": url, "check_interval": 30}


@pytest.mark.parametrize("dry_run", [True, False])
def test_apply_looks_up_new_and_changed_hosts_but_never_inside_its_transaction(api, lookups, dry_run):
    assert _apply(api, [_monitor("api", "https://api.example.com/health")]).status_code == 200
    lookups.clear()
    response = _apply(api, [_monitor("api", "https://www.example.com/health"),
                            _monitor("new", "https://new.example.com/")], dry_run=dry_run)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"] == {"create": 1, "change": 1, "delete": 0, "unchanged": 0}
    assert {host for host, _ in lookups} == {"www.example.com", "new.example.com"}
    assert [host for host, in_transaction in lookups if in_transaction] == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_blocked_new_host_is_a_400_naming_the_item_and_nothing_is_stored(api, lookups, dry_run):
    response = _apply(api, [_monitor("api", "https://api.example.com/health"),
                            _monitor("intranet", "https://intranet.example.com/")], dry_run=dry_run)
    assert response.status_code == 400
    errors = response.get_json()["errors"]["json"]
    assert list(errors) == ["monitors.1.url"]
    assert "10.1.2.3 is a private address" in errors["monitors.1.url"][0]
    assert monitor_count() == 0


def test_a_changed_url_to_a_blocked_host_is_a_400_and_the_monitor_keeps_its_url(api, lookups):
    assert _apply(api, [_monitor("web", "https://www.example.com/"),
                        _monitor("api", "https://api.example.com/health")]).status_code == 200
    response = _apply(api, [_monitor("web", "https://www.example.com/"),
                            _monitor("api", "https://intranet.example.com/health")])
    assert response.status_code == 400
    assert list(response.get_json()["errors"]["json"]) == ["monitors.1.url"]
    assert Monitor.get(Monitor.key == "api").url == "https://api.example.com/health"
    assert [host for host, in_transaction in lookups if in_transaction] == []


def test_sealed_verdicts_answer_from_what_was_vetted_and_refuse_to_look_up_another_host(lookups):
    verdicts = service.HostVerdicts(netguard.AddressGuard())
    verdicts.check_url_host("https://api.example.com/")
    with verdicts.sealed():
        verdicts.check_url_host("https://api.example.com/other")
        with pytest.raises(service.UnvettedHost):
            verdicts.check_url_host("https://www.example.com/")
    assert [host for host, _ in lookups] == ["api.example.com"]
