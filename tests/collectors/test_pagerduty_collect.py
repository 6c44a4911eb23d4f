"""The PagerDuty collector end to end: the official client, over HTTPS to the fake with a certificate made
here, rows checked against the hand-written account of tests/fixtures/pagerduty.

Services there: Checkout (our `checkout` by name), Legacy Checkout Worker (mapped to `checkout` by a name
pattern), Payments API (ours has no such service: unmapped), Search (mapped to `search` by id).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from collectors.base import CollectorError
from collectors.pagerduty import settings as pagerduty_settings
from doralytics.config import ConfigError
from tests.support.collect import incidents, rows
from tests.support.collect import pagerduty_settings as settings_for
from tests.support.collect import run_pagerduty as run
from tests.support.fake_pagerduty import FakePagerDuty, incident, load_fixture


@pytest.fixture
def fake(tls: tuple[Path, Path]):
    with load_fixture(tls=tls) as server:
        yield server


def windows(fake: FakePagerDuty, path: str = "/incidents?") -> list[tuple[dt.datetime, dt.datetime]]:
    found = []
    for r in fake.requests(re.escape(path)):
        query = dict(part.split("=", 1) for part in r.path.split("?", 1)[1].split("&"))
        if query.get("offset") == "0":
            since, until = (
                dt.datetime.fromisoformat(query[k].replace("%3A", ":")[:-1]) for k in ("since", "until")
            )
            found.append((since, until))
    return found


def test_incidents_mapped_to_services(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    result = run(fake, warehouse, tls)
    assert result.errors == {}
    assert incidents(warehouse) == [
        # priority P2 is the severity; resolved_at from the incident's status history
        (
            "pagerduty:PT1CHK1",
            "checkout",
            "p2",
            dt.datetime(2026, 3, 2, 16, 30),
            dt.datetime(2026, 3, 2, 18, 45),
        ),
        # no resolved_at in the payload: the resolve log entry (12:30), not updated_at (a note on 03-05)
        (
            "pagerduty:PT2LEG2",
            "checkout",
            "low",
            dt.datetime(2026, 3, 3, 10, 30),
            dt.datetime(2026, 3, 3, 12, 30),
        ),
        ("pagerduty:PT4CHK4", "checkout", "p1", dt.datetime(2026, 3, 3, 11, 30), None),  # still open
    ]
    # the Payments API's incident belongs to no service: kept raw and reported, not lost
    assert result.unmapped == {"Payments API": 1}
    assert rows(warehouse, "select key from raw.pagerduty__incidents order by 1") == [
        ("PT1CHK1",),
        ("PT2LEG2",),
        ("PT3PAY3",),
        ("PT4CHK4",),
    ]
    assert {s["pd_service"]: s["service"] for s in result.services} == {
        "Checkout": "checkout", "Legacy Checkout Worker": "checkout", "Payments API": None, "Search": "search"
    }  # fmt: skip
    # classic pagination: `offset` moves on while `more` is true
    assert fake.requests(r"^/incidents\?.*offset=2") and fake.requests(r"^/services\?.*offset=2")
    # history from --since in windows of 30 days up to now: each query within PagerDuty's limits
    spans = windows(fake)
    assert spans[0][0] == dt.datetime(2026, 3, 1) and all(b - a <= dt.timedelta(days=30) for a, b in spans)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))


def test_open_incidents_are_asked_again_and_nothing_else_is_refetched(
    fake: FakePagerDuty, warehouse: Path, tls
) -> None:
    run(fake, warehouse, tls)
    fake.reset_log()
    still_open = run(fake, warehouse, tls)
    assert still_open.errors == {}
    # the services, the open incident, one short window from the last run's end (less a 10-minute overlap)
    assert [r.path.split("?")[0] for r in fake.requests()] == ["/services", "/services", "/incidents/PT4CHK4",
                                                                "/incidents"]  # fmt: skip
    (span,) = windows(fake)
    assert span[1] - span[0] < dt.timedelta(minutes=11)
    # then it is resolved, and a note later moves updated_at: the resolution time is what counts
    pt4 = next(i for i in fake.incidents if i["id"] == "PT4CHK4")
    pt4.update(status="resolved", resolved_at="2026-03-03T13:30:00Z", updated_at="2026-03-09T09:00:00Z")
    run(fake, warehouse, tls)
    assert incidents(warehouse)[-1][-1] == dt.datetime(2026, 3, 3, 13, 30)
    fake.reset_log()
    run(fake, warehouse, tls)
    assert not fake.requests(r"^/incidents/PT4CHK4")  # no longer open: not asked again


def test_a_run_again_changes_nothing(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    run(fake, warehouse, tls)
    before = incidents(warehouse)
    run(fake, warehouse, tls, full=True)
    assert incidents(warehouse) == before
    assert rows(warehouse, "select count(*), count(distinct key) from raw.pagerduty__incidents") == [(4, 4)]


def test_service_ids_choose_services_and_keep_their_own_cursors(
    fake: FakePagerDuty, warehouse: Path, tls
) -> None:
    result = run(fake, warehouse, tls, service_ids=["PCHK001"])
    assert result.errors == {} and result.unmapped == {}
    assert all("service_ids%5B%5D=PCHK001" in r.path for r in fake.requests(r"^/incidents\?"))
    assert [i[0] for i in incidents(warehouse)] == ["pagerduty:PT1CHK1", "pagerduty:PT4CHK4"]
    assert rows(
        warehouse, "select scope from raw.cursors where source = 'pagerduty' and entity = 'incidents'"
    ) == [("service:PCHK001",)]
    with pytest.raises(CollectorError, match="PNOPE99: no such PagerDuty service"):
        run(fake, warehouse, tls, service_ids=["PNOPE99"])


def test_change_events_are_deployments(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    result = run(fake, warehouse, tls, change_events=True)
    assert result.errors == {}
    # Search's deploy is a deployment; its feature-flag change has no sha (quarantined); Payments is unmapped
    assert rows(warehouse, "select deployment_id, service, environment, commit_sha, finished_at, status"
                           " from core.deployments") == [
        ("pagerduty:change:01CHG00000000000000000001:PSRCH04", "search", "production",
         "a3f9c1e2b4d6f8a0c2e4a6b8c0d2e4f6a8b0c2d4", dt.datetime(2026, 3, 2, 14, 0), "success")
    ]  # fmt: skip
    assert rows(warehouse, "select entity, key from raw.pagerduty__quarantine") == [
        ("change_events", "01CHG00000000000000000002")
    ]


def test_a_window_past_the_offset_limit_is_split(warehouse: Path, tls) -> None:
    """10,050 incidents in one 30-day window: the client stops at offset 10,000, the window is halved."""
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    many = [
        incident(f"PX{n:05d}", n, ("PCHK001", "Checkout"), start + dt.timedelta(minutes=4 * n), None)
        for n in range(10_050)
    ]
    services = [{"id": "PCHK001", "type": "service", "name": "Checkout", "summary": "Checkout"}]
    with FakePagerDuty(services=services, incidents=many, tls=tls) as fake:
        settings = settings_for(fake, tls, page_size=100, services=[])
        result = run(fake, warehouse, tls, settings=settings, known=["checkout"])
        assert result.errors == {}
        assert (
            max(int(r.path.split("offset=")[1].split("&")[0]) for r in fake.requests(r"^/incidents\?"))
            == 9_900
        )
        halves = [
            s for s in windows(fake) if s[0] == dt.datetime(2026, 3, 1) and s[1] < dt.datetime(2026, 3, 31)
        ]
        assert halves, "the first window was not split"
    assert rows(warehouse, "select count(*), count(distinct incident_id) from core.incidents") == [
        (10_050, 10_050)
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"service_ids": ["pij90n7"]}, "pagerduty.service_ids[0]: 'pij90n7' is not a PagerDuty service id"),
        ({"api_url": "http://api.pagerduty.com"}, "only served over https://"),
        ({"window_days": 365}, "pagerduty.window_days: PagerDuty accepts at most 6 months"),
        ({"services": [{"id": "P1", "name": "x", "service": "s"}]}, "pagerduty.services[0]: give either id"),
        ({"services": [{"name": "("}]}, "pagerduty.services[0].service: required"),
        (
            {"services": [{"name": "(", "service": "s"}]},
            "pagerduty.services[0].name: invalid regular expression",
        ),
        ({"servces": []}, "pagerduty.servces: unknown key"),
        ({"change_events": "yes"}, "pagerduty.change_events: expected true or false"),
    ],
)
def test_settings_errors_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        pagerduty_settings.parse(section)


def test_raw_payloads_are_verbatim(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    run(fake, warehouse, tls)
    (payload,) = rows(warehouse, "select payload from raw.pagerduty__incidents where key = 'PT1CHK1'")[0]
    assert json.loads(payload)["incident_key"] == "3b0b1f0e7c5d4a4f9f0e1e2d3c4b5a69"
