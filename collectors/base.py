"""What every collector shares: the `Collector` protocol, the run it is given, its result, its errors, the
failure classification of HTTP responses and the rate budget.

A collector fetches pages and yields `Batch`es; a sink (warehouse/sync.py) writes each batch (raw payloads,
canonical rows and the cursor that says where to resume) in one transaction. Collectors know nothing of
DuckDB: they read cursors and ask about known commits through the `Sink` protocol only. collectors/runner.py
runs a `Collector`: its scopes on a thread pool, one shared rate budget, a rejected token stopping the run.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from warehouse.batch import Sink


class CollectorError(Exception):
    """A failure the user has to act on (bad token, missing repo or permission). Ends the scope."""


class TokenRejected(CollectorError):
    """A 401: no scope can succeed with this token, so the whole run stops."""


class Cancelled(CollectorError):
    """Another scope's failure (a rejected token) dooms the whole run: this scope stops too."""


class MissingField(Exception):
    """A payload lacks a field the canonical row needs: the object is quarantined, the run goes on."""


class Progress(Protocol):
    def start(self, scope: str) -> None: ...

    def update(self, scope: str, entity: str, items: int) -> None: ...

    def finish(self, scope: str, ok: bool) -> None: ...


class NoProgress:
    def start(self, scope: str) -> None:
        pass

    def update(self, scope: str, entity: str, items: int) -> None:
        pass

    def finish(self, scope: str, ok: bool) -> None:
        pass


@dataclass
class Stats:
    """Per-scope counters for the end-of-run summary."""

    requests: int = 0
    not_modified: int = 0
    items: int = 0
    quarantined: int = 0
    waited_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


@dataclass
class Run:
    """What the runner gives a collector: where batches go, who watches, the rate budget every worker
    shares, the event that cancels the run, and the counters of the requests made before any scope."""

    sink: Sink
    progress: Progress
    budget: RateBudget
    cancel: threading.Event = field(default_factory=threading.Event)
    setup: Stats = field(default_factory=Stats)


@dataclass
class RunResult:
    """Per-scope counters and failures (scope -> message) of a run, and the budget it left."""

    stats: dict[str, Stats]
    errors: dict[str, str]
    budget: RateBudget
    seconds: float


class Collector(Protocol):
    """A source on the runner (collectors/runner.py), which does the rest: the thread pool, the shared rate
    budget, the run result, stopping every scope when the token is rejected, the null sink of a dry run.

    A new source (Jenkins, Argo CD, Opsgenie, Bitbucket) is one package `collectors/<source>/` with:

    - `client.py`: the transport (an official client library where there is one), raising `CollectorError`
      with a message that names the scope and says what to do, `TokenRejected` for a 401;
    - `rows.py`: payload -> canonical row (warehouse/schema.py), pure functions raising `MissingField`;
    - `settings.py`: its dora.toml section as a model (warehouse/settings.py);
    - `collector.py`: a class with the members below, and a `collect(make_client, settings, sink)` that
      builds it and calls `runner.run`. Per scope, a `runner.Scope` keeps the cursors and writes batches.

    Then a `dora collect <source>` command in doralytics/cli/ reads the token and prints the summary.
    """

    source: str  # raw.<source>__<entity> tables, raw.cursors.source
    workers: int  # scopes collected at once
    max_rate_limit_wait: float | None  # a rate limit reset further away than this ends the run

    def scopes(self, run: Run) -> list[str]:
        """The names of the scopes (repositories, projects, services) to collect; requests made to list
        them count in `run.setup`. Raises CollectorError when there is nothing to collect."""
        ...

    def collect(self, scope: str, run: Run, stats: Stats) -> None:
        """Collect one scope, in a worker thread; raises CollectorError to fail this scope only."""
        ...


class Previewable(Collector, Protocol):
    def preview(self, scope: str, run: Run) -> dict[str, Any]:
        """`--dry-run`: what one scope would count as production deployments, writing nothing."""
        ...


@dataclass(frozen=True)
class Verdict:
    retriable: bool
    kind: str  # rate_limit, server, auth, not_found, forbidden, client
    wait: float = 0.0


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - now) if parsed else None


def classify(
    status: int | None,
    headers: Mapping[str, Any],
    message: str = "",
    now: float | None = None,
    secondary_wait: float = 60.0,
) -> Verdict:
    """Sort a failed response into retriable (with the wait it asks for) or fatal."""
    now = time.time() if now is None else now
    retry_after = retry_after_seconds(_header(headers, "Retry-After"), now)
    remaining = _header(headers, "X-RateLimit-Remaining")
    reset = _header(headers, "X-RateLimit-Reset")
    text = (message or "").lower()
    rate_limited = status == 429 or (
        status == 403
        and (retry_after is not None or remaining == "0" or "rate limit" in text or "abuse" in text)
    )
    if rate_limited:
        if retry_after is not None:
            return Verdict(True, "rate_limit", retry_after)
        if remaining == "0" and reset and reset.isdigit():
            # the reset second itself may still be limited: wait one more
            return Verdict(True, "rate_limit", max(0.0, int(reset) - now) + 1.0)
        return Verdict(True, "rate_limit", secondary_wait)
    if status is None or status >= 500:
        return Verdict(True, "server")
    if status == 401:
        return Verdict(False, "auth")
    if status == 404:
        return Verdict(False, "not_found")
    if status == 403:
        return Verdict(False, "forbidden")
    return Verdict(False, "client")


class RateBudget:
    """One rate budget shared by every worker using the same token.

    Each response reports what is left; when the last response said nothing is left, every worker
    waits for the reset instead of each one spending a request to learn it (a 403 costs a request
    and, repeated, can trip GitHub's secondary limits).
    """

    def __init__(self, reserve: int = 0, max_wait: float | None = None) -> None:
        self.reserve = reserve
        self.max_wait = max_wait
        self.remaining: int | None = None
        self.limit: int | None = None
        self.reset_at: float | None = None
        self._lock = threading.Lock()

    def observe(self, remaining: int | None, limit: int | None, reset_at: float | None) -> None:
        if remaining is None or remaining < 0:
            return
        with self._lock:
            self.remaining, self.limit = remaining, limit
            if reset_at:
                self.reset_at = reset_at

    def wait_time(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        with self._lock:
            if self.remaining is None or self.remaining > self.reserve or not self.reset_at:
                return 0.0
            return max(0.0, self.reset_at - now)

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        wait = self.wait_time()
        if wait <= 0:
            return 0.0
        if self.max_wait is not None and wait > self.max_wait:
            when = dt.datetime.fromtimestamp(self.reset_at or 0, dt.UTC).strftime("%H:%M:%S UTC")
            raise CollectorError(
                f"rate limit exhausted until {when} ({wait:.0f} s, more than the {self.max_wait:.0f} s "
                "allowed to wait): what was fetched is saved, run again after the reset"
            )
        sleep(wait)
        with self._lock:
            # the reset has passed: let one request find out the new budget
            if self.reset_at and time.time() >= self.reset_at:
                self.remaining = None
        return wait


def history_start(since: dt.date | None, deployed_since: dt.datetime | None) -> dt.datetime | None:
    """Where a collect reads commit history from: the collect's start (or the earliest deployment found,
    if earlier), a day early, since commits are authored before they are deployed and the baseline's own
    commit must be there. None: the whole history."""
    if since is None:
        return None
    start = dt.datetime.combine(since, dt.time())
    if deployed_since is not None:
        start = min(start, deployed_since)
    return start - dt.timedelta(days=1)


def parse_ts(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp as naive UTC (how the warehouse stores time); None stays None."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without offset: {value!r}")
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def timestamp(value: Any) -> dt.datetime:
    """parse_ts of a value that is there (a required field, or one checked before)."""
    parsed = parse_ts(value)
    if parsed is None:
        raise MissingField("missing timestamp")
    return parsed


def require(payload: Any, path: str, what: str) -> Any:
    """payload["a"]["b"] for path "a.b", or MissingField naming the object and the field."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) in (None, ""):
            raise MissingField(f"{what}: missing required field {path!r}")
        value = value[part]
    return value


def dig(payload: Any, path: str) -> Any:
    """payload["a"]["b"] for path "a.b", or None where any step is absent."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
