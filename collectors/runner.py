"""The one runner of every API collector: scopes on a thread pool, one rate budget, one result.

A source supplies what is its own through the `Collector` protocol (collectors/base.py): its scopes and
how to collect one. The runner does the rest: `settings.workers` scopes at a time, one scope's failure
not stopping the others except a rejected token, which cancels them all; a dry run with a sink that
writes nothing. `Scope` is the per-scope half: cursors read once and advanced with each batch written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Generic, TypeVar

from collectors.base import (
    Cancelled,
    Collector,
    CollectorError,
    MissingField,
    NoProgress,
    Previewable,
    Progress,
    RateBudget,
    Run,
    RunResult,
    Stats,
    TokenRejected,
)
from warehouse.batch import Batch, CommitInfo, Quarantined, Sink
from warehouse.settings import ConfigError

Client = TypeVar("Client")


class NullSink:
    """The sink of a dry run: no cursors, no known commits, and nothing may be written."""

    def write(self, batch: Batch) -> None:
        raise AssertionError("a dry run writes nothing")

    def cursor(self, scope: str, entity: str) -> None:
        return None

    def commits(self, repo: str, shas: Iterable[str]) -> dict[str, CommitInfo]:
        return {}


class PerThread(Generic[Client]):
    """One client per worker thread: the HTTP clients' connection objects are not thread-safe."""

    def __init__(self, make: Callable[[], Client]) -> None:
        self.make = make
        self.local = threading.local()

    def get(self) -> Client:
        if not hasattr(self.local, "client"):
            self.local.client = self.make()
        client: Client = self.local.client
        return client


class Scope:
    """One scope's cursors and batch writes: a cursor is read once (none with `full`), then follows the
    batches written, so that a collector resumes a walk from where its last batch left it."""

    def __init__(self, name: str, run: Run, stats: Stats, full: bool) -> None:
        self.name, self.sink, self.progress, self.stats, self.full = name, run.sink, run.progress, stats, full
        self.cursors: dict[str, dict[str, Any]] = {}

    def cursor(self, entity: str) -> dict[str, Any]:
        if entity not in self.cursors:
            saved = None if self.full else self.sink.cursor(self.name, entity)
            self.cursors[entity] = dict(saved or {})
        return self.cursors[entity]

    def write(self, batch: Batch) -> None:
        if batch.cursor is not None:
            self.cursors[batch.entity] = batch.cursor
        self.sink.write(batch)
        self.stats.items += batch.items
        self.stats.quarantined += len(batch.quarantined)
        self.progress.update(self.name, batch.entity, self.stats.items)

    def quarantine(self, batch: Batch, entity: str, key: str, exc: MissingField, payload: Any) -> None:
        batch.quarantined.append(Quarantined(entity, key, str(exc), payload))


def scope_names(named: list[str], listed: Callable[[], list[str]] | None, nothing: str) -> list[str]:
    """The scopes named in the settings, then those `listed` (an organization's repositories, a group's
    projects) that are not named already, case-insensitively; CollectorError(nothing) if there are none."""
    known = {n.lower() for n in named}
    names = named + [n for n in (listed() if listed else []) if n.lower() not in known]
    if not names:
        raise CollectorError(nothing)
    return names


def checked(check: Callable[[], None]) -> None:
    """A check of the resolved settings (a service named twice), failing the run as a CollectorError."""
    try:
        check()
    except ConfigError as exc:
        raise CollectorError(str(exc)) from None


def run(collector: Collector, sink: Sink, progress: Progress | None = None) -> RunResult:
    """Collect every scope, `collector.workers` at a time; one scope's failure does not stop the others,
    except a rejected token, which stops them all."""
    started = time.monotonic()
    progress = progress or NoProgress()
    budget = RateBudget(reserve=collector.workers, max_wait=collector.max_rate_limit_wait)
    context = Run(sink, progress, budget)
    names = collector.scopes(context)
    stats = {name: Stats() for name in names}
    errors: dict[str, str] = {}

    def one(name: str) -> None:
        if context.cancel.is_set():
            raise Cancelled("cancelled: the token was rejected")
        scope_stats = stats[name]
        scope_stats.started = time.monotonic()
        progress.start(name)
        try:
            collector.collect(name, context, scope_stats)
        finally:
            scope_stats.finished = time.monotonic()

    workers = max(1, min(collector.workers, len(names)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=collector.source) as pool:
        futures = {pool.submit(one, name): name for name in names}
        for future in as_completed(futures):
            name = futures[future]
            try:
                future.result()
                progress.finish(name, True)
            except Cancelled:
                errors[name] = "cancelled: another scope's rejected token stops the run"
                progress.finish(name, False)
            except CollectorError as exc:
                errors[name] = str(exc)
                progress.finish(name, False)
                if isinstance(exc, TokenRejected):
                    context.cancel.set()
    if context.setup.requests:
        stats.setdefault("(setup)", context.setup)
    return RunResult(stats, errors, budget, time.monotonic() - started)


def dry_run(collector: Previewable) -> list[dict[str, Any]]:
    """What each scope would count as production deployments, one scope after the other, nothing written."""
    context = Run(NullSink(), NoProgress(), RateBudget(max_wait=collector.max_rate_limit_wait))
    return [collector.preview(name, context) for name in collector.scopes(context)]
