"""Scheduling: fire times in a time zone across DST, crontab weekdays, missed runs coalesced, a real run."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from typer.testing import CliRunner

from doralytics.cli import app
from doralytics.config import ConfigError
from reports import schedule
from reports.settings import Job, jobs
from tests.support.reports import demo_warehouse

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def test_monday_8am_berlin_stays_8am_across_the_dst_change():
    # Europe/Berlin moves to summer time on Sunday 29 March 2026
    fires = schedule.next_fire_times("0 8 * * mon", "Europe/Berlin", dt.datetime(2026, 3, 16, tzinfo=UTC), 3)
    assert [f.astimezone(BERLIN).strftime("%a %Y-%m-%d %H:%M") for f in fires] == [
        "Mon 2026-03-16 08:00",
        "Mon 2026-03-23 08:00",
        "Mon 2026-03-30 08:00",
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [7, 7, 6]  # the UTC hour moves, the local one does not
    # and back in October (25 Oct 2026)
    fires = schedule.next_fire_times("0 8 * * mon", "Europe/Berlin", dt.datetime(2026, 10, 19, tzinfo=UTC), 2)
    assert [f.astimezone(UTC).hour for f in fires] == [6, 7]


def test_a_time_skipped_by_the_dst_change_still_runs_that_day_once():
    fires = schedule.next_fire_times("30 2 * * *", "Europe/Berlin", dt.datetime(2026, 3, 28, tzinfo=UTC), 3)
    assert [f.astimezone(UTC).strftime("%d %H:%M") for f in fires] == ["28 01:30", "29 01:30", "30 00:30"]


def test_crontab_weekday_numbers_mean_what_they_mean_in_crontab():
    # crontab: 0 and 7 are Sunday, 1 is Monday (APScheduler 3 alone would read 1 as Tuesday)
    start = dt.datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
    weekday = lambda cron: {f.strftime("%a") for f in schedule.next_fire_times(cron, "UTC", start, 14)}  # noqa: E731
    assert weekday("0 8 * * 1") == {"Mon"}
    assert weekday("0 8 * * 0") == weekday("0 8 * * 7") == {"Sun"}
    assert weekday("0 8 * * 1-5") == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert weekday("0 8 * * 0-2") == {"Sun", "Mon", "Tue"}


def test_a_machine_asleep_for_three_mondays_runs_the_report_once():
    since = dt.datetime(2026, 6, 1, 5, tzinfo=UTC)
    now = dt.datetime(2026, 6, 22, 12, tzinfo=UTC)
    missed = schedule.missed_fire_times("0 8 * * mon", "Europe/Berlin", since, now)
    assert len(missed) == 4  # 1, 8, 15 and 22 June
    assert schedule.runs_to_execute(missed) == [missed[-1]]
    assert schedule.runs_to_execute([]) == []


def test_apscheduler_coalesces_missed_runs_into_one():
    """The real scheduler, as add_jobs configures it, woken three weeks after its job was due."""
    ran = []
    done = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")
    job = Job(name="weekly", cron="0 8 * * mon", timezone="Europe/Berlin")
    schedule.add_jobs(
        scheduler,
        [job],
        lambda j: (ran.append(j.name), done.set()),
        next_run_time=dt.datetime.now(UTC) - dt.timedelta(days=21),
    )
    scheduler.start()
    try:
        assert done.wait(10)
        time.sleep(0.5)  # room for a second, wrong, run
    finally:
        scheduler.shutdown(wait=True)
    assert ran == ["weekly"]


def test_jobs_are_validated_with_the_key_named():
    ok = jobs(
        {
            "schedule": [
                {
                    "name": "w",
                    "cron": "0 8 * * mon",
                    "timezone": "Europe/Berlin",
                    "collect": ["github", "git ./repo --deploy-tags 'v*'"],
                    "email": "em@example.com",
                }
            ]
        }
    )
    assert ok[0].collect[1] == "git ./repo --deploy-tags 'v*'" and ok[0].email == ("em@example.com",)
    for body, key in (
        ([{"cron": "0 8 * * mon"}], "schedule[0].name"),
        ([{"name": "w", "cron": "0 8 * *"}], "schedule[0].cron"),
        ([{"name": "w", "cron": "0 25 * * *"}], "schedule[0].cron"),
        ([{"name": "w", "cron": "0 8 * * mon", "timezone": "Mars/Olympus"}], "schedule[0].timezone"),
        ([{"name": "w", "cron": "0 8 * * mon", "format": "pdf"}], "schedule[0].format"),
        ([{"name": "w", "cron": "0 8 * * mon", "every": 1}], "schedule[0].every"),
        ([{"name": "w", "cron": "0 8 * * mon"}, {"name": "w", "cron": "0 9 * * mon"}], "schedule[1].name"),
        ({"name": "w"}, "[[schedule]]"),
    ):
        with pytest.raises(ConfigError, match=re.escape(key)):
            jobs({"schedule": body})


def test_dora_schedule_runs_a_job_due_within_seconds(tmp_path_factory, tmp_path):
    warehouse = demo_warehouse(tmp_path_factory)
    out = tmp_path / "out"
    config = tmp_path / "dora.toml"
    config.write_text(
        "[[schedule]]\n"
        'name = "soon"\n'
        'cron = "*/2 * * * * *"\n'  # six fields: every two seconds
        'timezone = "Europe/Berlin"\n'
        'format = "md"\n'
        'collect = ["git ./no-such-clone"]\n'  # a failing collector is logged, the report still comes
        f'out_dir = "{out}"\n'
    )
    base = [
        sys.executable,
        "-m",
        "doralytics",
        "--config",
        str(config),
        "--warehouse",
        str(warehouse),
        "schedule",
    ]
    listed = CliRunner().invoke(app, [*base[3:], "--list"])
    assert listed.exit_code == 0 and "soon" in listed.stdout and "Europe/Berlin" in listed.stdout
    started = time.monotonic()
    result = subprocess.run([*base, "--max-runs", "1"], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    [written] = list(out.iterdir())
    assert written.name.startswith("weekly-") and written.read_text().startswith("# Weekly delivery report")
    log = result.stderr
    assert "job soon: started" in log
    assert "job soon: collect git ./no-such-clone failed" in log
    assert f"job soon: finished, report at {written}" in log


def test_a_stop_mid_run_ends_the_job_through_on_stop_and_keeps_it_in_the_ledger(tmp_path, caplog):
    """The loop itself (in-process): a stop while a job runs calls on_stop, waits for the job to end, and
    leaves it in the ledger; the next run() starts it at once, however far its cron."""
    caplog.set_level("INFO", logger="doralytics.schedule")
    ledger = schedule.Ledger(tmp_path / "w.duckdb.schedule.json")
    stop = schedule.Stop()
    running, ended = threading.Event(), threading.Event()

    def runner(job: Job) -> None:
        running.set()
        ended.wait(30)  # a collector that runs until on_stop ends it

    def request_stop() -> None:
        assert running.wait(30)
        stop.request("SIGTERM")

    threading.Thread(target=request_stop, daemon=True).start()
    soon = Job(name="soon", cron="* * * * * *", timezone="UTC")
    done = schedule.run([soon], runner, stop=stop, on_stop=ended.set, ledger=ledger)
    assert done == 1 and ended.is_set()
    assert list(ledger.interrupted()) == ["soon"]
    assert "stopping on SIGTERM: job soon running, stopping it" in caplog.text
    assert "job soon: interrupted by SIGTERM; runs again at the next start" in caplog.text
    assert caplog.records[-1].getMessage() == "stopped"

    caplog.clear()
    ran = []
    yearly = Job(name="soon", cron="0 3 1 1 *", timezone="UTC")
    started = time.monotonic()
    assert schedule.run([yearly], lambda j: ran.append(j.name), max_runs=1, ledger=ledger) == 1
    assert ran == ["soon"] and time.monotonic() - started < 20
    assert "was interrupted; running it again now" in caplog.text
    assert ledger.interrupted() == {}


def test_an_idle_stop_says_so(caplog):
    caplog.set_level("INFO", logger="doralytics.schedule")
    stop = schedule.Stop()
    threading.Timer(0.5, stop.request, args=["SIGHUP"]).start()
    assert schedule.run([Job(name="w", cron="0 3 1 1 *", timezone="UTC")], lambda j: None, stop=stop) == 0
    assert "stopping on SIGHUP: idle, no job running" in caplog.text
    assert caplog.records[-1].getMessage() == "stopped"


def test_an_unreadable_ledger_resumes_nothing_and_says_why(tmp_path, caplog):
    path = tmp_path / "w.duckdb.schedule.json"
    path.write_text("{not json")
    assert schedule.Ledger(path).interrupted() == {}
    assert "is unreadable" in caplog.text
