"""When scheduled jobs fire: cron expressions in a time zone, and APScheduler configured to coalesce.

The scheduling rules are plain functions (next fire times, which missed runs to execute), so they are tested
without waiting; `run` is the foreground loop `dora schedule` blocks in until a stop is requested, and the
`Ledger` remembers which jobs were running so that one cut short runs again on the next start.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("doralytics.schedule")
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How often the loop wakes even with nothing due. Python's waits run on the monotonic clock, which stops
# while a laptop sleeps: without this a run due during the sleep would fire as late as the sleep was long.
HEARTBEAT_SECONDS = 60


class Scheduled(Protocol):
    """What the scheduler needs of a job (a settings.Job): its name and when it runs."""

    @property
    def name(self) -> str: ...
    @property
    def cron(self) -> str: ...
    @property
    def timezone(self) -> str: ...


J = TypeVar("J", bound=Scheduled)


def _weekday_field(field: str) -> str:
    """Crontab weekdays as names: crontab counts 0 (and 7) as Sunday, APScheduler 3 counts 0 as Monday."""

    def name(match: re.Match) -> str:
        return CRON_DAYS[int(match.group(0))] if int(match.group(0)) <= 7 else match.group(0)

    parts = []
    for part in field.split(","):
        # a range from Sunday (0-5) would run backwards once named: split it into sun plus mon-...
        if re.fullmatch(r"0-[1-6]", part):
            parts.extend(["sun", f"mon-{CRON_DAYS[int(part[2])]}"])
            continue
        parts.append(re.sub(r"(?<![/\d])\d+", name, part))  # not the step of */2
    return ",".join(parts)


def trigger(cron: str, timezone: str = "UTC") -> CronTrigger:
    """A trigger for 5 crontab fields (minute hour day month weekday) or 6 with seconds first."""
    fields = cron.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"expected 5 crontab fields (minute hour day month weekday), got {cron!r}")
    second, minute, hour, day, month, weekday = fields
    return CronTrigger(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_field(weekday),
        timezone=timezone,
    )


def _fire_times(cron: str, timezone: str, after: dt.datetime) -> Iterator[dt.datetime]:
    trig = trigger(cron, timezone)
    previous, now = None, after + dt.timedelta(microseconds=1)
    while (fire := trig.get_next_fire_time(previous, now)) is not None:
        yield fire
        previous, now = fire, fire + dt.timedelta(microseconds=1)


def next_fire_times(cron: str, timezone: str, after: dt.datetime, count: int = 5) -> list[dt.datetime]:
    """The next `count` fire times strictly after `after` (an aware datetime), in the job's time zone."""
    return list(itertools.islice(_fire_times(cron, timezone, after), count))


def missed_fire_times(cron: str, timezone: str, since: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """Fire times in (since, now]: what a machine asleep from `since` to `now` missed."""
    return list(itertools.takewhile(lambda fire: fire <= now, _fire_times(cron, timezone, since)))


def runs_to_execute(missed: Iterable[dt.datetime]) -> list[dt.datetime]:
    """Coalescing: however many runs were missed, run once (as of the latest one), never N times.

    This is the rule APScheduler applies with coalesce=True and no misfire grace limit (see add_jobs).
    """
    missed = sorted(missed)
    return missed[-1:]


def add_jobs(
    scheduler: BaseScheduler,
    jobs: Iterable[J],
    runner: Callable[[J], None],
    next_run_time: dt.datetime | None = None,
) -> None:
    """Add each settings.Job with its cron trigger; a run that was missed runs once when the loop wakes."""
    for job in jobs:
        kwargs = {"next_run_time": next_run_time} if next_run_time else {}
        scheduler.add_job(
            runner,
            trigger(job.cron, job.timezone),
            args=[job],
            id=job.name,
            name=job.name,
            coalesce=True,  # N missed runs -> one run
            misfire_grace_time=None,  # however late, run it (once) rather than skip it
            max_instances=1,  # a slow run is never overlapped by the next
            **kwargs,
        )


class Stop:
    """A request to stop the loop (a signal, or the last of `max_runs`), with its reason for the log."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()


class Ledger:
    """The jobs running now, in a JSON file: a job still in it when the scheduler starts was interrupted
    (a stop signal, a kill, a power cut) and runs again at once. Without a path it only counts in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s is unreadable: no interrupted job is resumed from it", self.path)
            return {}
        running = data.get("running") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in running.items()} if isinstance(running, dict) else {}

    def _write(self, running: dict[str, str]) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"running": running}, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def interrupted(self) -> dict[str, str]:
        """Job name -> when it started, for the jobs a previous scheduler left unfinished."""
        with self._lock:
            return self._read()

    def started(self, name: str) -> None:
        with self._lock:
            self._write({**self._read(), name: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})

    def finished(self, name: str) -> None:
        with self._lock:
            running = self._read()
            running.pop(name, None)
            self._write(running)


def run(
    jobs: list[J],
    runner: Callable[[J], None],
    max_runs: int | None = None,
    stop: Stop | None = None,
    on_stop: Callable[[], None] = lambda: None,
    ledger: Ledger | None = None,
) -> int:
    """Run the jobs when due until `stop` is requested (a signal) or `max_runs` runs finished; returns the
    runs done. On a stop, `on_stop` ends what the running jobs started (it blocks until they are gone);
    a job cut short stays in the ledger and runs again first thing on the next start."""
    stop = stop or Stop()
    ledger = ledger or Ledger(None)
    scheduler = BackgroundScheduler(timezone="UTC")
    done = 0
    running: set[str] = set()
    idle = threading.Condition()

    def supervised(job: J) -> None:
        nonlocal done
        with idle:
            if stop.event.is_set():
                return
            running.add(job.name)
        ledger.started(job.name)
        try:
            runner(job)
        finally:
            if stop.reason is not None and stop.reason != "max-runs":
                log.warning("job %s: interrupted by %s; runs again at the next start", job.name, stop.reason)
            else:
                ledger.finished(job.name)
            with idle:
                running.discard(job.name)
                done += 1
                idle.notify_all()
            if max_runs is not None and done >= max_runs:
                stop.request("max-runs")

    add_jobs(scheduler, jobs, supervised)
    scheduler.add_job(lambda: None, IntervalTrigger(seconds=HEARTBEAT_SECONDS), id="_heartbeat")
    now = dt.datetime.now(dt.UTC)
    left = ledger.interrupted()
    for name in set(left) - {job.name for job in jobs}:
        ledger.finished(name)  # a job no longer in dora.toml
    for job in jobs:
        fire = next_fire_times(job.cron, job.timezone, now, 1)
        log.info("job %s: %s (%s), next run %s", job.name, job.cron, job.timezone, fire[0].isoformat())
        if job.name in left:
            log.info("job %s: its run of %s was interrupted; running it again now", job.name, left[job.name])
            scheduler.modify_job(job.name, next_run_time=now)
    scheduler.start()
    try:
        stop.event.wait()
    finally:
        scheduler.shutdown(wait=False)
        with idle:
            busy = sorted(running)
        if stop.reason == "max-runs":
            with idle:  # the other jobs finish their runs
                idle.wait_for(lambda: not running)
        else:
            log.info(
                "stopping on %s: %s",
                stop.reason or "an error",
                f"job {', '.join(busy)} running, stopping it" if busy else "idle, no job running",
            )
            on_stop()
            with idle:
                idle.wait_for(lambda: not running, timeout=30)
        log.info("stopped")
    return done
