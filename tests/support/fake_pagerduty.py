"""A fake PagerDuty REST API v2 over HTTPS (a certificate the test makes), for the real `pagerduty` client.

It serves services, incidents, an incident's log entries and change events held in memory (hand-written
fixtures from tests/fixtures/pagerduty/, or synthetic ones), with PagerDuty's behaviour where the
collector depends on it: classic pagination (`limit`, `offset`, `more`), refusing offsets past 10,000 and
`since`..`until` ranges over 6 months, filtering incidents by creation time and `service_ids[]`, `Token
token=` auth (401 with PagerDuty's error body).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

from tests.support.fake_http import FakeServer, Query, Reply, one

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pagerduty"
MAX_RANGE = dt.timedelta(days=180)


@functools.cache
def ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def error(status: int, message: str, code: int, errors: list[str] | None = None) -> Reply:
    return status, {}, {"error": {"message": message, "code": code, "errors": errors or []}}


class FakePagerDuty(FakeServer):
    name = "fake-pagerduty"

    def __init__(
        self,
        services: list[dict[str, Any]] | None = None,
        incidents: list[dict[str, Any]] | None = None,
        log_entries: dict[str, list[dict[str, Any]]] | None = None,
        change_events: list[dict[str, Any]] | None = None,
        token: str = "test-token",
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.services = services or []
        self.incidents = incidents or []
        self.log_entries = log_entries or {}
        self.change_events = change_events or []
        self.token = token
        self._ranged: dict[tuple, list[dict[str, Any]]] = {}

    def authorized(self, headers: Any) -> Reply | None:
        if headers.get("Authorization") != f"Token token={self.token}":
            return error(401, "Unauthorized", 2006)
        return None

    def route(self, path: str, query: Query, base: str) -> Reply:
        parts = path.strip("/").split("/")
        if parts == ["services"]:
            return self.page("services", self.services, query)
        if parts == ["incidents"]:
            return self.ranged("incidents", self.incidents, "created_at", query)
        if parts == ["change_events"]:
            return self.ranged("change_events", self.change_events, "timestamp", query)
        if len(parts) >= 2 and parts[0] == "incidents":
            found = next((i for i in self.incidents if i["id"] == parts[1]), None)
            if found is None:
                return error(404, "Not Found", 2100)
            if len(parts) == 2:
                return 200, {}, {"incident": found}
            if parts[2:] == ["log_entries"]:
                return self.page("log_entries", self.log_entries.get(parts[1], []), query)
        return error(404, "Not Found", 2100)

    def ranged(self, key: str, items: list[dict[str, Any]], field: str, query: Query) -> Reply:
        since, until = ts(one(query, "since")), ts(one(query, "until"))
        if since and until and until - since > MAX_RANGE:
            return error(400, "Invalid Input Provided", 2001, ["Date range cannot exceed 6 months"])
        wanted = tuple(sorted(query.get("service_ids[]", [])))
        # the pages of one query share its filtered list (10,000 incidents are filtered once, not per page)
        cache_key = (key, id(items), len(items), since, until, wanted)
        listed = self._ranged.get(cache_key)
        if listed is None:
            listed = [
                i
                for i in items
                if (since is None or ts(i[field]) >= since)
                and (until is None or ts(i[field]) < until)
                and (not wanted or (i.get("service") or {}).get("id") in wanted)
            ]
            listed.sort(key=lambda i: (i[field], i["id"]))
            self._ranged = {cache_key: listed}
        return self.page(key, listed, query)

    @staticmethod
    def page(key: str, items: list[dict[str, Any]], query: Query) -> Reply:
        limit = min(int(one(query, "limit", "25")), 100)
        offset = int(one(query, "offset", "0"))
        if offset + limit > 10_000:
            return error(400, "Invalid Input Provided", 2001, ["Offset must be less than 10000"])
        chunk = items[offset : offset + limit]
        more = offset + limit < len(items)
        total = len(items) if one(query, "total") == "true" else None
        return 200, {}, {key: chunk, "limit": limit, "offset": offset, "more": more, "total": total}


def load_fixture(**kw: Any) -> FakePagerDuty:
    """The hand-written account of tests/fixtures/pagerduty/: one JSON file per endpoint."""

    def read(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    return FakePagerDuty(
        services=read("services.json")["services"],
        incidents=read("incidents.json")["incidents"],
        log_entries={k: v["log_entries"] for k, v in read("log_entries.json").items()},
        change_events=read("change_events.json")["change_events"],
        **kw,
    )


# Payload builders in the shapes of PagerDuty's REST API, for the benchmark and small tests.


def service_ref(ident: str, name: str) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "service_reference",
        "summary": name,
        "self": f"https://api.pagerduty.com/services/{ident}",
        "html_url": f"https://acme.pagerduty.com/service-directory/{ident}",
    }


def incident(
    ident: str,
    number: int,
    service: tuple[str, str],
    created: dt.datetime,
    resolved: dt.datetime | None,
    urgency: str = "high",
    priority: str | None = None,
) -> dict[str, Any]:
    when = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    done = resolved.strftime("%Y-%m-%dT%H:%M:%SZ") if resolved else None
    return {
        "id": ident,
        "type": "incident",
        "summary": f"[#{number}] Incident {number}",
        "incident_number": number,
        "title": f"Incident {number}",
        "created_at": when,
        "updated_at": done or when,
        "status": "resolved" if resolved else "triggered",
        "service": service_ref(*service),
        "urgency": urgency,
        "priority": {"id": "P53ZZH5", "type": "priority_reference", "summary": priority}
        if priority
        else None,
        "last_status_change_at": done or when,
        "resolved_at": done,
    }  # fmt: skip
