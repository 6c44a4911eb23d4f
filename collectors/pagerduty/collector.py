"""PagerDuty collector (the official `pagerduty` client): incidents -> core.incidents, change events ->
core.deployments, incrementally by creation time.

PagerDuty filters incidents by creation time (`since`/`until`, at most 6 months a query) and pages by
offset only up to 10,000: history is walked in windows of `window_days`, a window that hits the offset
limit is split in two, and each window becomes one `Batch` whose cursor is the window's end, so a run
killed at any point redoes at most one window. An incident still open at a run is remembered in the
cursor and asked again at the next one, since its resolution does not change its creation time.

The resolution time is the incident's `resolved_at` (its status history) or, in payloads without that
field, the time of its resolve log entry; never `updated_at`, which moves when a note is added later.

The client retries 5xx as configured (`retry`), and 429s without end, ignoring Retry-After: the
subclass below waits what Retry-After asks for, and gives up after `rate_limit_retries` in a row.
"""

from __future__ import annotations

import datetime as dt
import re
import ssl
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pagerduty
from pagerduty.rest_api_v2_base_client import ITERATION_LIMIT

from collectors.base import (
    CollectorError,
    MissingField,
    NoProgress,
    Progress,
    Stats,
    parse_ts,
    require,
    retry_after_seconds,
)
from collectors.pagerduty.settings import PagerdutySettings
from warehouse.batch import Batch, Quarantined, Record, Sink

SOURCE = "pagerduty"
ACCESS = (
    "use a read-only REST API key (User or General Access), or an OAuth token with the scopes "
    "incidents.read, services.read and change_events.read"
)


class TokenRejected(CollectorError):
    pass


class UntrustedCertificate(Exception):
    """Not an httpx TransportError, so that the client does not retry it before telling the user."""


class _TlsFailsFast(httpx2.HTTPTransport):
    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return super().handle_request(request)
        except httpx2.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise UntrustedCertificate(str(exc)) from None
            raise


class Client(pagerduty.RestApiV2Client):
    """The official client, waiting out 429s as the server asks (Retry-After) instead of its own backoff."""

    def __init__(self, token: str, settings: PagerdutySettings, sleep: Callable[[float], None] = time.sleep):
        verify: Any = ssl.create_default_context(cafile=settings.ca_bundle) if settings.ca_bundle else True
        super().__init__(token, base_url=settings.api_url.rstrip("/"), transport=_TlsFailsFast(verify=verify))
        self.settings, self.sleep = settings, sleep
        self.requests = 0
        self.waited = 0.0
        self.limited_in_a_row = 0
        self.timeout = settings.timeout
        self.sleep_timer = settings.backoff
        self.retry = {status: settings.retries for status in (500, 502, 503, 504)}

    def postprocess(self, response: Any) -> None:
        super().postprocess(response)
        self.requests += 1
        if response.status_code != 429:
            self.limited_in_a_row = 0
            return
        self.limited_in_a_row += 1
        if self.limited_in_a_row > self.settings.rate_limit_retries:
            raise CollectorError(
                f"PagerDuty still rate limits after {self.settings.rate_limit_retries} waits (429); what was "
                "fetched is saved: run again later"
            )
        wait = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        if wait is None:
            return  # the client's own backoff (sleep_timer, doubled each time) applies
        if wait > self.settings.max_rate_limit_wait:
            raise CollectorError(
                f"PagerDuty asks to wait {wait:.0f} s (Retry-After), more than max_rate_limit_wait "
                f"({self.settings.max_rate_limit_wait:.0f} s): what was fetched is saved: run again later"
            )
        self.waited += wait
        self.sleep(wait)


def make_client(token: str, settings: PagerdutySettings) -> Client:
    return Client(token, settings)


def _fatal(exc: Exception, what: str) -> CollectorError:
    """A message that says what to do; never the client's own 401 text, which quotes part of the key."""
    if isinstance(exc, pagerduty.HttpError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return TokenRejected(
                f"PAGERDUTY_TOKEN was rejected (401): it is wrong or revoked, or belongs to "
                f"another service region (EU: --api-url https://api.eu.pagerduty.com); {ACCESS}"
            )
        if status == 403:
            return CollectorError(f"{what}: forbidden (403): {ACCESS}")
        if status == 404:
            return CollectorError(f"{what}: not found (404): check the service id")
        if status == 429:
            return CollectorError(f"{what}: rate limited (429); run again later")
        if status is not None and status >= 500:
            return CollectorError(f"{what}: PagerDuty keeps failing ({status}); what was fetched is saved")
        return CollectorError(f"{what}: HTTP {status}: {_error_text(exc.response)}")
    if isinstance(exc, UntrustedCertificate):
        return CollectorError(
            f"{what}: the TLS certificate is not trusted; give the CA that signed it with --ca-bundle PATH "
            "(pagerduty.ca_bundle in dora.toml)"
        )
    return CollectorError(f"{what}: cannot reach PagerDuty: {type(exc).__name__}")


def _error_text(response: Any) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except Exception:
        return ""


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# --- payload -> row (pure) ------------------------------------------------------------------------


def severity(incident: dict[str, Any]) -> str | None:
    priority = (incident.get("priority") or {}).get("summary")
    found = priority or incident.get("urgency")
    return str(found).lower() if found else None


def incident_row(service: str, incident: dict[str, Any], resolved: dt.datetime | None) -> dict[str, Any]:
    ident = require(incident, "id", "PagerDuty incident")
    return {
        "incident_id": f"pagerduty:{ident}",
        "service": service,
        "title": incident.get("title") or incident.get("summary"),
        "severity": severity(incident),
        "created_at": parse_ts(require(incident, "created_at", f"PagerDuty incident {ident}")),
        "resolved_at": resolved,
        "deployment_id": None,
        "commit_sha": None,
    }


def change_sha(event: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    details = event.get("custom_details") or {}
    for name in fields:
        value = details.get(name)
        if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", value.strip()):
            return value.strip().lower()
    return None


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class RunResult:
    stats: dict[str, Stats]
    errors: dict[str, str]
    services: list[dict[str, Any]]  # each PagerDuty service seen: id, name, our service or None
    unmapped: dict[str, int] = field(default_factory=dict)  # PagerDuty service name -> incidents kept raw
    seconds: float = 0.0
    requests: int = 0
    waited_seconds: float = 0.0


class Collector:
    def __init__(
        self,
        client: Client,
        settings: PagerdutySettings,
        known_services: list[str],
        sink: Sink,
        progress: Progress,
    ) -> None:
        self.client, self.settings, self.sink, self.progress = client, settings, sink, progress
        self.known = {s.lower(): s for s in known_services}
        self.names: dict[str, str] = {}  # PagerDuty service id -> name
        self.unmapped: dict[str, int] = {}
        self.stats: dict[str, Stats] = {}

    # --- service mapping -----------------------------------------------------------------------

    def our_service(self, pd_id: str, pd_name: str) -> str | None:
        for rule in self.settings.services:
            if rule.matches(pd_id, pd_name):
                return rule.service
        return self.known.get(pd_name.strip().lower())

    def services(self) -> list[dict[str, Any]]:
        try:
            listed = list(self.client.iter_all("services", page_size=self.settings.page_size))
        except (pagerduty.Error, pagerduty.HttpError, UntrustedCertificate) as exc:
            raise _fatal(exc, "services") from None
        self.names = {s["id"]: s.get("name") or s.get("summary") or s["id"] for s in listed if "id" in s}
        batch = Batch("services", "services")
        batch.add_raw("services", [Record(s["id"], s) for s in listed if "id" in s])
        self.sink.write(batch)
        return [
            {"pd_service_id": i, "pd_service": n, "service": self.our_service(i, n)}
            for i, n in sorted(self.names.items(), key=lambda x: x[1].lower())
        ]

    # --- windows -----------------------------------------------------------------------------------

    def start_of(self, state: dict[str, Any]) -> dt.datetime:
        if state.get("until") and not self.settings.full:
            return parse_ts(state["until"]) - dt.timedelta(minutes=self.settings.overlap_minutes)  # type: ignore[operator]
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
                items = list(self.client.iter_all(path, params=query, page_size=self.settings.page_size))
        except (pagerduty.Error, pagerduty.HttpError, UntrustedCertificate) as exc:
            raise _fatal(exc, what) from None
        if len(items) + self.settings.page_size > ITERATION_LIMIT and end - start > dt.timedelta(seconds=2):
            middle = start + (end - start) / 2
            middle = middle.replace(microsecond=0)
            return self.list_window(path, params, start, middle, what) + self.list_window(
                path, params, middle, end, what
            )
        return items

    # --- incidents --------------------------------------------------------------------------------

    def resolved_at(self, incident: dict[str, Any]) -> dt.datetime | None:
        if incident.get("status") != "resolved":
            return None
        if incident.get("resolved_at"):
            return parse_ts(incident["resolved_at"])
        # older payloads lack resolved_at: the resolve entry of the incident's log is the status history
        ident = incident["id"]
        try:
            entries = self.client.iter_all(
                f"incidents/{ident}/log_entries",
                params={"is_overview": "true", "time_zone": "UTC"},
                page_size=self.settings.page_size,
            )
            times = [parse_ts(e["created_at"]) for e in entries if e.get("type") == "resolve_log_entry"]
        except (pagerduty.Error, pagerduty.HttpError, UntrustedCertificate) as exc:
            raise _fatal(exc, f"log entries of incident {ident}") from None
        if not times:
            raise MissingField(f"PagerDuty incident {ident}: resolved, but no resolve log entry")
        return max(t for t in times if t is not None)

    def incident_rows(self, batch: Batch, incidents: list[dict[str, Any]], open_ids: dict[str, str]) -> None:
        batch.add_raw("incidents", [Record(str(i.get("id")), i) for i in incidents])
        for incident in incidents:
            ident = str(incident.get("id"))
            pd_service = incident.get("service") or {}
            pd_id = str(pd_service.get("id") or "")
            pd_name = self.names.get(pd_id) or pd_service.get("summary") or pd_id
            service = self.our_service(pd_id, pd_name)
            if service is None:
                self.unmapped[pd_name] = self.unmapped.get(pd_name, 0) + 1
                continue
            try:
                resolved = self.resolved_at(incident)
                batch.add_rows("incidents", [incident_row(service, incident, resolved)])
            except MissingField as exc:
                batch.quarantined.append(Quarantined("incidents", ident, str(exc), incident))
                continue
            if resolved is None:
                open_ids[ident] = pd_id
            else:
                open_ids.pop(ident, None)

    def recheck_open(self, scope: str, state: dict[str, Any]) -> dict[str, str]:
        """Incidents open at the last run, asked again: their resolution changes no creation time."""
        open_ids = dict(state.get("open") or {})
        if not open_ids or self.settings.full:
            return open_ids
        batch = Batch(scope, "incidents")
        fetched = []
        for ident in sorted(open_ids):
            try:
                fetched.append(self.client.rget(f"incidents/{ident}"))
            except pagerduty.HttpError as exc:
                if exc.response is not None and exc.response.status_code == 404:
                    open_ids.pop(ident)  # merged into another incident or deleted
                    continue
                raise _fatal(exc, f"incident {ident}") from None
            except (pagerduty.Error, UntrustedCertificate) as exc:
                raise _fatal(exc, f"incident {ident}") from None
        self.incident_rows(batch, fetched, open_ids)
        batch.cursor = {**state, "open": open_ids}
        self.write(batch)
        return open_ids

    def incidents(self, scope: str, service_ids: tuple[str, ...]) -> None:
        state = {} if self.settings.full else dict(self.sink.cursor(scope, "incidents") or {})
        open_ids = self.recheck_open(scope, state)
        params: dict[str, Any] = {"sort_by": "created_at:asc"}
        if service_ids:
            params["service_ids[]"] = list(service_ids)
        end = now_utc()
        for start, stop in self.windows(self.start_of(state), end):
            items = self.list_window("incidents", params, start, stop, f"incidents {iso(start)}..{iso(stop)}")
            batch = Batch(scope, "incidents")
            self.incident_rows(batch, items, open_ids)
            batch.cursor = {"until": iso(stop), "open": dict(open_ids)}
            self.write(batch)

    # --- change events as deployments -----------------------------------------------------------------

    def change_events(self, scope: str, service_ids: tuple[str, ...]) -> None:
        state = {} if self.settings.full else dict(self.sink.cursor(scope, "change_events") or {})
        wanted = set(service_ids)
        for start, stop in self.windows(self.start_of(state), now_utc()):
            items = self.list_window(
                "change_events", {}, start, stop, f"change events {iso(start)}..{iso(stop)}"
            )
            batch = Batch(scope, "change_events", cursor={"until": iso(stop)})
            batch.add_raw("change_events", [Record(str(e.get("id")), e) for e in items])
            for event in items:
                for ref in event.get("services") or []:
                    pd_id = str(ref.get("id") or "")
                    if wanted and pd_id not in wanted:
                        continue
                    service = self.our_service(pd_id, self.names.get(pd_id, pd_id))
                    if service is None:
                        continue
                    sha = change_sha(event, self.settings.change_event_sha_fields)
                    if sha is None:
                        problem = "change event without a commit sha in custom_details " + "/".join(
                            self.settings.change_event_sha_fields
                        )
                        batch.quarantined.append(
                            Quarantined("change_events", str(event.get("id")), problem, event)
                        )
                        continue
                    when = parse_ts(event.get("timestamp"))
                    batch.add_rows("deployments", [{
                        "deployment_id": f"pagerduty:change:{event.get('id')}:{pd_id}",
                        "service": service,
                        "environment": (event.get("custom_details") or {}).get("environment")
                        or self.settings.change_event_environment,
                        "environment_tier": None,
                        "commit_sha": sha,
                        "started_at": when,
                        "finished_at": when,
                        "status": "success",
                    }])  # fmt: skip
            self.write(batch)

    def write(self, batch: Batch) -> None:
        stats = self.stats.setdefault(batch.scope, Stats())
        self.sink.write(batch)
        stats.items += batch.items
        stats.quarantined += len(batch.quarantined)
        self.progress.update(batch.scope, batch.entity, stats.items)


def collect(
    make: Callable[[], Client],
    settings: PagerdutySettings,
    known_services: list[str],
    sink: Sink,
    progress: Progress | None = None,
) -> RunResult:
    """Incidents (and change events) of the chosen services, or of every service the token can see.

    With --service-id each service has its own cursor; without, the whole account shares one."""
    started = time.monotonic()
    progress = progress or NoProgress()
    client = make()
    collector = Collector(client, settings, known_services, sink, progress)
    errors: dict[str, str] = {}
    services = collector.services()
    unknown = [i for i in settings.service_ids if i not in collector.names]
    if unknown:
        raise CollectorError(
            f"--service-id {', '.join(unknown)}: no such PagerDuty service visible to the token"
        )
    scopes = [(f"service:{i}", (i,)) for i in settings.service_ids] or [("account", ())]
    for scope, ids in scopes:
        progress.start(scope)
        before = client.requests
        try:
            collector.incidents(scope, ids)
            if settings.change_events:
                collector.change_events(scope, ids)
            progress.finish(scope, True)
        except TokenRejected:
            raise
        except CollectorError as exc:
            errors[scope] = str(exc)
            progress.finish(scope, False)
        stats = collector.stats.setdefault(scope, Stats())
        stats.requests = client.requests - before
        stats.finished = time.monotonic()
    return RunResult(
        collector.stats,
        errors,
        services,
        collector.unmapped,
        time.monotonic() - started,
        client.requests,
        client.waited,
    )
