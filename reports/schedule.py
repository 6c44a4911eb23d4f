"""When scheduled jobs fire: cron expressions in a time zone, and APScheduler configured to coalesce.

The scheduling rules are plain functions (next fire times, which missed runs to execute), so they are tested
without waiting; `run` is the foreground loop `dora schedule` blocks in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
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


def run(jobs: list[J], runner: Callable[[J], None], max_runs: int | None = None) -> int:
    """Block, running the jobs when due, until interrupted or `max_runs` runs finished; returns runs done."""
    scheduler = BlockingScheduler(timezone="UTC")
    done = 0

    def counted(job: J) -> None:
        nonlocal done
        try:
            runner(job)
        finally:
            done += 1
            if max_runs is not None and done >= max_runs:
                scheduler.shutdown(wait=False)

    add_jobs(scheduler, jobs, counted)
    scheduler.add_job(lambda: None, IntervalTrigger(seconds=HEARTBEAT_SECONDS), id="_heartbeat")
    now = dt.datetime.now(dt.UTC)
    for job in jobs:
        fire = next_fire_times(job.cron, job.timezone, now, 1)
        log.info("job %s: %s (%s), next run %s", job.name, job.cron, job.timezone, fire[0].isoformat())
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("stopped")
    return done
