"""PagerDuty collector (the official `pagerduty` client): incidents -> core.incidents, change events ->
core.deployments, incrementally by creation time.

PagerDuty filters incidents by creation time (`since`/`until`, at most 6 months a query) and pages by
offset only up to 10,000: history is walked in windows of `window_days`, a window that hits the offset
limit is split in two, and each window becomes one `Batch` whose cursor is the window's end, so a run
killed at any point redoes at most one window. An incident still open at a run is remembered in the
cursor and asked again at the next one, since its resolution does not change its creation time.

The resolution time is the incident's `resolved_at` (its status history) or, in payloads without that
field, the time of its resolve log entry; never `updated_at`, which moves when a note is added later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pagerduty
from pagerduty.rest_api_v2_base_client import ITERATION_LIMIT

from collectors import runner
from collectors.base import CollectorError, MissingField, Progress, Run, RunResult, Stats, parse_ts, timestamp
from collectors.pagerduty import rows
from collectors.pagerduty.client import FAILURES, BadAnswer, Client, fatal, iso, now_utc
from collectors.pagerduty.settings import PagerdutySettings
from warehouse.batch import Batch, Quarantined, Record, Sink

SOURCE = "pagerduty"


@dataclass
class PagerdutyResult(RunResult):
    """The run, and what its summary says of the PagerDuty services and of the whole run's requests."""

    services: list[dict[str, Any]] = field(default_factory=list)
    unmapped: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    waited_seconds: float = 0.0


class PagerdutyCollector:
    """The chosen services (`service_ids`), each a scope with its own cursors, or the whole account as one
    scope, on the runner: one after the other, with one client."""

    source = SOURCE
    workers = 1
    max_rate_limit_wait: float | None = None  # Client waits out 429s as Retry-After asks

    def __init__(
        self, make_client: Callable[[], Client], settings: PagerdutySettings, known: list[str]
    ) -> None:
        self.make_client, self.settings = make_client, settings
        self.known = {s.lower(): s for s in known}
        self.names: dict[str, str] = {}  # PagerDuty service id -> name
        self.unmapped: dict[str, int] = {}  # PagerDuty service name -> incidents kept raw
        self.services: list[dict[str, Any]] = []  # each PagerDuty service seen: id, name, our service or None
        self.client: Client | None = None

    def scopes(self, run: Run) -> list[str]:
        self.client = self.make_client()
        self.services = self.list_services(run.sink)
        unknown = [i for i in self.settings.service_ids if i not in self.names]
        if unknown:
            raise CollectorError(
                f"--service-id {', '.join(unknown)}: no such PagerDuty service visible to the token"
            )
        return [f"service:{i}" for i in self.settings.service_ids] or ["account"]

    def collect(self, name: str, run: Run, stats: Stats) -> None:
        """With --service-id each service has its own cursor; without, the whole account shares one."""
        ids = (name.removeprefix("service:"),) if name.startswith("service:") else ()
        scope = runner.Scope(name, run, stats, self.settings.full)
        before = self.api.requests
        steps = [self.incidents] + ([self.change_events] if self.settings.change_events else [])
        unusable = []
        try:
            for step in steps:
                try:
                    step(scope, ids)
                except BadAnswer as exc:  # reported; the other step goes on
                    unusable.append(str(exc))
        finally:
            stats.requests = self.api.requests - before
        if unusable:
            raise CollectorError("; ".join(unusable) + " (what was fetched is saved: run again later)")

    @property
    def api(self) -> Client:
        if self.client is None:
            raise AssertionError("scopes() makes the client")
        return self.client

    def our_service(self, pd_id: str, pd_name: str) -> str | None:
        for rule in self.settings.services:
            if rule.matches(pd_id, pd_name):
                return rule.service
        return self.known.get(pd_name.strip().lower())

    def list_services(self, sink: Sink) -> list[dict[str, Any]]:
        try:
            listed = list(self.api.iter_all("services", page_size=self.settings.page_size))
        except FAILURES as exc:
            raise fatal(exc, "services", self.settings) from None
        usable = [s for s in listed if isinstance(s, dict) and isinstance(s.get("id"), str)]
        self.names = {s["id"]: str(s.get("name") or s.get("summary") or s["id"]) for s in usable}
        batch = Batch("services", "services")
        batch.add_raw("services", [Record(s["id"], s) for s in usable])
        sink.write(batch)
        return [
            {"pd_service_id": i, "pd_service": n, "service": self.our_service(i, n)}
            for i, n in sorted(self.names.items(), key=lambda x: x[1].lower())
        ]

    def start_of(self, state: dict[str, Any]) -> dt.datetime:
        if state.get("until") and not self.settings.full:
            return timestamp(state["until"]) - dt.timedelta(minutes=self.settings.overlap_minutes)
        if self.settings.since:
            return dt.datetime.combine(self.settings.since, dt.time())
        return now_utc() - dt.timedelta(days=self.settings.history_days)

    def windows(self, start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        step = dt.timedelta(days=self.settings.window_days)
        while start < end:
            yield start, min(start + step, end)
            start += step

    def list_window(
        self, path: str, params: dict[str, Any], start: dt.datetime, end: dt.datetime, what: str
    ) -> list[dict[str, Any]]:
        """Every item of one window; a window that reaches the offset limit is halved until none does."""
        query = {**params, "since": iso(start), "until": iso(end), "time_zone": "UTC"}
        try:
            with warnings.catch_warnings():
                # iter_all warns when it stops at the offset limit: handled below by halving the window
                warnings.simplefilter("ignore")
                items = list(self.api.iter_all(path, params=query, page_size=self.settings.page_size))
        except FAILURES as exc:
            raise fatal(exc, what, self.settings) from None
        if len(items) + self.settings.page_size > ITERATION_LIMIT and end - start > dt.timedelta(seconds=2):
            middle = start + (end - start) / 2
            middle = middle.replace(microsecond=0)
            return self.list_window(path, params, start, middle, what) + self.list_window(
                path, params, middle, end, what
            )
        return items

    def resolved_at(self, incident: dict[str, Any]) -> dt.datetime | None:
        if incident.get("status") != "resolved":
            return None
        if incident.get("resolved_at"):
            return parse_ts(incident["resolved_at"])
        # older payloads lack resolved_at: the resolve entry of the incident's log is the status history
        ident = incident["id"]
        try:
            entries = self.api.iter_all(
                f"incidents/{ident}/log_entries",
                params={"is_overview": "true", "time_zone": "UTC"},
                page_size=self.settings.page_size,
            )
            times = [
                parse_ts(e["created_at"])
                for e in entries
                if isinstance(e, dict) and e.get("type") == "resolve_log_entry"
            ]
        except FAILURES as exc:
            raise fatal(exc, f"log entries of incident {ident}", self.settings) from None
        if not times:
            raise MissingField(f"PagerDuty incident {ident}: resolved, but no resolve log entry")
        return max(t for t in times if t is not None)

    def incident_rows(self, batch: Batch, incidents: list[dict[str, Any]], open_ids: dict[str, str]) -> None:
        batch.add_raw("incidents", [Record(str(i.get("id")), i) for i in incidents if isinstance(i, dict)])
        for incident in incidents:
            if not isinstance(incident, dict):
                problem = f"PagerDuty incident: not an object ({type(incident).__name__})"
                batch.quarantined.append(Quarantined("incidents", unusable_key(incident), problem, incident))
                continue
            ident = str(incident.get("id"))
            found = incident.get("service")
            pd_service: dict[str, Any] = found if isinstance(found, dict) else {}
            pd_id = str(pd_service.get("id") or "")
            pd_name = str(self.names.get(pd_id) or pd_service.get("summary") or pd_id)
            service = self.our_service(pd_id, pd_name)
            if service is None:
                self.unmapped[pd_name] = self.unmapped.get(pd_name, 0) + 1
                continue
            try:
                resolved = self.resolved_at(incident)
                batch.add_rows("incidents", [rows.incident_row(service, incident, resolved)])
            except MissingField as exc:
                batch.quarantined.append(Quarantined("incidents", ident, str(exc), incident))
                continue
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                problem = f"PagerDuty incident {ident}: unusable field ({type(exc).__name__}: {exc})"[:500]
                batch.quarantined.append(Quarantined("incidents", ident, problem, incident))
                continue
            if resolved is None:
                open_ids[ident] = pd_id
            else:
                open_ids.pop(ident, None)

    def recheck_open(self, scope: runner.Scope, state: dict[str, Any]) -> dict[str, str]:
        """Incidents open at the last run, asked again: their resolution changes no creation time."""
        open_ids = dict(state.get("open") or {})
        if not open_ids or self.settings.full:
            return open_ids
        batch = Batch(scope.name, "incidents")
        fetched = []
        for ident in sorted(open_ids):
            try:
                fetched.append(self.api.rget(f"incidents/{ident}"))
            except pagerduty.HttpError as exc:
                if exc.response is not None and exc.response.status_code == 404:
                    open_ids.pop(ident)  # merged into another incident or deleted
                    continue
                raise fatal(exc, f"incident {ident}", self.settings) from None
            except FAILURES as exc:
                raise fatal(exc, f"incident {ident}", self.settings) from None
        self.incident_rows(batch, fetched, open_ids)
        batch.cursor = {**state, "open": open_ids}
        scope.write(batch)
        return open_ids

    def incidents(self, scope: runner.Scope, service_ids: tuple[str, ...]) -> None:
        state = dict(scope.cursor("incidents"))
        open_ids = self.recheck_open(scope, state)
        params: dict[str, Any] = {"sort_by": "created_at:asc"}
        if service_ids:
            params["service_ids[]"] = list(service_ids)
        end = now_utc()
        for start, stop in self.windows(self.start_of(state), end):
            items = self.list_window("incidents", params, start, stop, f"incidents {iso(start)}..{iso(stop)}")
            batch = Batch(scope.name, "incidents")
            self.incident_rows(batch, items, open_ids)
            batch.cursor = {"until": iso(stop), "open": dict(open_ids)}
            scope.write(batch)

    def change_events(self, scope: runner.Scope, service_ids: tuple[str, ...]) -> None:
        state = scope.cursor("change_events")
        wanted = set(service_ids)
        for start, stop in self.windows(self.start_of(state), now_utc()):
            items = self.list_window(
                "change_events", {}, start, stop, f"change events {iso(start)}..{iso(stop)}"
            )
            batch = Batch(scope.name, "change_events", cursor={"until": iso(stop)})
            events = [e for e in items if isinstance(e, dict)]
            batch.add_raw("change_events", [Record(str(e.get("id")), e) for e in events])
            for item in items:
                if not isinstance(item, dict):
                    problem = f"PagerDuty change event: not an object ({type(item).__name__})"
                    batch.quarantined.append(Quarantined("change_events", unusable_key(item), problem, item))
            for event in events:
                listed = event.get("services")
                refs: list[Any] = listed if isinstance(listed, list) else []
                for ref in refs:
                    pd_id = str(ref.get("id") or "") if isinstance(ref, dict) else ""
                    if wanted and pd_id not in wanted:
                        continue
                    service = self.our_service(pd_id, self.names.get(pd_id, pd_id))
                    if service is None:
                        continue
                    environment = self.settings.change_event_environment
                    try:
                        sha = rows.change_sha(event, self.settings.change_event_sha_fields)
                        row = rows.change_event_row(event, pd_id, service, sha, environment) if sha else None
                    except (TypeError, ValueError, AttributeError, KeyError) as exc:
                        problem = f"change event: unusable field ({type(exc).__name__}: {exc})"[:500]
                        batch.quarantined.append(
                            Quarantined("change_events", str(event.get("id")), problem, event)
                        )
                        continue
                    if row is None:
                        problem = "change event without a commit sha in custom_details " + "/".join(
                            self.settings.change_event_sha_fields
                        )
                        batch.quarantined.append(
                            Quarantined("change_events", str(event.get("id")), problem, event)
                        )
                        continue
                    batch.add_rows("deployments", [row])
            scope.write(batch)


def unusable_key(payload: Any) -> str:
    """The key a payload that is no object is quarantined under: a digest of it."""
    return "unusable:" + hashlib.sha1(repr(payload).encode()).hexdigest()[:12]


def collect(
    make: Callable[[], Client],
    settings: PagerdutySettings,
    known_services: list[str],
    sink: Sink,
    progress: Progress | None = None,
) -> PagerdutyResult:
    """Incidents (and change events) of the chosen services, or of every service the token can see."""
    collector = PagerdutyCollector(make, settings, known_services)
    result = runner.run(collector, sink, progress)
    return PagerdutyResult(
        **vars(result),
        services=collector.services,
        unmapped=collector.unmapped,
        requests=collector.api.requests,
        waited_seconds=collector.api.waited,
    )
