"""`dora report weekly` and `dora schedule`: the weekly report written and delivered, now or on a cron."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doralytics.cli.common import Format, TeamOpt, app, emit, fail, note, state, warehouse_address
from doralytics.config import ConfigError

if TYPE_CHECKING:
    from reports.deliver import Outcome
    from reports.settings import Job, ReportSettings, SmtpSettings
    from reports.weekly import Week
    from warehouse.address import Address

log = logging.getLogger("doralytics.schedule")


report_app = typer.Typer(
    help="Reports on the metrics: the weekly report, rendered and delivered.", no_args_is_help=True
)


app.add_typer(report_app, name="report")


PASSWORD_ENV = "DORA_SMTP_PASSWORD"


class ReportFormat(StrEnum):
    html = "html"
    md = "md"
    json = "json"


def _settings() -> tuple[ReportSettings, SmtpSettings]:
    from reports import settings

    try:
        return (
            settings.report_settings(state.config.sections),
            settings.smtp_settings(state.config.sections),
        )
    except ConfigError as exc:
        fail(f"{state.config.path or 'dora.toml'}: {exc}")


def produce(
    week: Week,
    teams: tuple[str, ...],
    fmt: str,
    out: Path | None,
    report_settings: ReportSettings,
    smtp_settings: SmtpSettings,
    email: tuple[str, ...] = (),
    webhook: str | None = None,
    interactive: bool = False,
) -> tuple[Path, list[Outcome]]:
    """Build, render and write the report, then deliver it: (path written, delivery outcomes).

    The file is written before any delivery is tried, so a failed delivery never loses the report.
    """
    from reports import deliver, render
    from reports.weekly import build
    from warehouse import db

    with db.read(state.warehouse) as con:
        report = build(con, week, report_settings, teams, state.config.metrics.tiers)
    body = render.render(report, fmt, report_settings.template_dir, interactive)
    path = out or Path(report_settings.out_dir) / render.default_name(report, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, path)
    outcomes = []
    link = f"{report_settings.public_url.rstrip('/')}/{path.name}" if report_settings.public_url else None
    if email:
        text = body if fmt == "md" else render.render(report, "md", report_settings.template_dir)
        html = body if fmt == "html" else render.render(report, "html", report_settings.template_dir)
        msg = deliver.message(render.subject(report), html, text, smtp_settings.sender, list(email))
        outcomes.append(deliver.send_email(msg, smtp_settings, os.environ.get(PASSWORD_ENV)))
    if webhook:
        where = link or f"{path.resolve()} on {socket.gethostname()}"
        payload = deliver.webhook_payload(render.summary(report, where))
        outcomes.append(
            deliver.post_webhook(
                webhook, payload, attempts=smtp_settings.attempts, delay=smtp_settings.retry_seconds
            )
        )
    return path, outcomes


def _report_failures(path: Path, outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.ok:
            note(f"delivered: {outcome.target}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        for o in failed:
            note(f"[red]delivery failed[/red] after {o.attempts} attempt(s): {o.target}: {o.error}")
        note(f"the report is kept at {path}")
        raise typer.Exit(1)


@report_app.command("weekly")
def weekly(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W26 [default: last whole week]")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="or: the 7 days ending on this date (YYYY-MM-DD)")
    ] = None,
    team: TeamOpt = None,
    fmt: Annotated[
        ReportFormat | None, typer.Option("--format", help="html (mail), md (chat, wikis) or json (programs)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="file to write [default: reports-out/weekly-WEEK.EXT]")
    ] = None,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="inline Plotly charts (+4.8 MB) instead of images")
    ] = False,
    template_dir: Annotated[
        Path | None, typer.Option(help="your own weekly.html.j2 / weekly.md.j2, searched first")
    ] = None,
    email: Annotated[
        list[str] | None, typer.Option("--email", help="send to this address (repeatable)")
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="Slack/Teams/Mattermost incoming-webhook URL")] = None,
    smtp_host: Annotated[str | None, typer.Option(help="[default: smtp.host in dora.toml]")] = None,
    smtp_port: Annotated[int | None, typer.Option(help="[default: smtp.port, else 25]")] = None,
    smtp_user: Annotated[
        str | None, typer.Option(help=f"login user; the password comes from {PASSWORD_ENV}")
    ] = None,
    smtp_starttls: Annotated[bool | None, typer.Option("--smtp-starttls/--no-smtp-starttls")] = None,
) -> None:
    """The weekly report: five metrics per team and service with tiers and week-over-week change,
    highlights, charts, failed deployments, incidents, slowest changes, data quality.

    Written to a file first, then delivered by --email and --webhook; a delivery that still fails after
    retries exits with code 1 and the report stays on disk.

    Example: dora report weekly --week 2026-W26 --team checkout --email em@example.com
    """
    from reports.weekly import resolve_week

    report_settings, smtp_settings = _settings()
    try:
        chosen = resolve_week(week, dt.date.fromisoformat(to) if to else None)
    except ValueError as exc:
        fail(str(exc) if not to or "--" in str(exc) else f"--to: {to!r} is not a date (YYYY-MM-DD)")
    overrides = {
        k: v
        for k, v in {
            "host": smtp_host,
            "port": smtp_port,
            "user": smtp_user,
            "starttls": smtp_starttls,
        }.items()
        if v is not None
    }
    smtp_settings = smtp_settings.model_copy(update=overrides)
    if template_dir:
        report_settings = report_settings.model_copy(update={"template_dir": str(template_dir)})
    fmt_value = fmt.value if fmt else report_settings.format
    try:
        path, outcomes = produce(
            chosen,
            tuple(team or ()),
            fmt_value,
            out,
            report_settings,
            smtp_settings,
            tuple(email or report_settings.email),
            webhook or report_settings.webhook,
            interactive or report_settings.interactive,
        )
    except ValueError as exc:
        fail(str(exc))
    note(f"wrote {path}")
    _report_failures(path, outcomes)


@app.command()
def schedule(
    list_jobs: Annotated[
        bool, typer.Option("--list", help="print the jobs and their next runs, then exit")
    ] = False,
    max_runs: Annotated[
        int | None, typer.Option(help="exit after this many runs (for a test or a one-off)")
    ] = None,
    run_job_name: Annotated[
        str | None, typer.Option("--run-job", hidden=True, help="run this job once, now (a supervised child)")
    ] = None,
) -> None:
    """Run the [[schedule]] jobs of dora.toml in the foreground: collect, then report and deliver.

    A run missed while the machine slept runs once on wake, not once per missed time. Each run is a child
    process: SIGTERM, SIGHUP or Ctrl-C stops it (and its collector) before the scheduler exits, and a run
    cut short runs again on the next start.

    Example: dora --config dora.toml schedule --list
    """
    from doralytics.cli import supervise
    from reports import deliver, settings
    from reports import schedule as sched

    try:
        jobs = settings.jobs(state.config.sections)
    except ConfigError as exc:
        fail(f"{state.config.path or 'dora.toml'}: {exc}")
    if not jobs:
        fail("no [[schedule]] jobs in dora.toml: see `dora schedule` in the README for an example")
    _settings()  # report and smtp sections are checked now, not at the first run
    if list_jobs:
        now = dt.datetime.now(dt.UTC)
        emit(
            [
                {
                    "job": j.name,
                    "cron": j.cron,
                    "timezone": j.timezone,
                    "collect": "; ".join(j.collect) or "-",
                    "to": ", ".join([*j.email, *([deliver.webhook_host(j.webhook)] if j.webhook else [])])
                    or "-",
                    "next runs": ", ".join(
                        t.strftime("%a %Y-%m-%d %H:%M %Z")
                        for t in sched.next_fire_times(j.cron, j.timezone, now, 3)
                    ),
                }
                for j in jobs
            ],
            Format.table,
        )
        return
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every heartbeat at INFO
    if run_job_name is not None:
        named = {j.name: j for j in jobs}
        if run_job_name not in named:
            fail(f"no job {run_job_name!r} in dora.toml")
        supervise.follow_parent()
        run_job(named[run_job_name])
        return
    children = supervise.Children()

    def run_child(job: Job) -> None:
        try:
            proc = children.popen([*_dora_args(), "schedule", "--run-job", job.name], death_signal=False)
        except supervise.Stopping:
            return
        code = proc.wait()
        if code != 0 and not stop.event.is_set():
            log.error("job %s: exited with %d", job.name, code)

    stop = sched.Stop()
    ledger = sched.Ledger(ledger_path(warehouse_address()))
    with supervise.stop_signals(lambda sig: stop.request(sig.name)):
        sched.run(jobs, run_child, max_runs=max_runs, stop=stop, on_stop=children.stop, ledger=ledger)


def ledger_path(where: Address) -> Path:
    """Where the scheduler keeps the jobs it is running (reports.schedule.Ledger): beside a warehouse file;
    for a lake, whose data path other machines share, on this machine: beside dora.toml (else in the
    current folder), named after the lake's catalog database."""
    from warehouse.address import FileAddress

    if isinstance(where, FileAddress):
        return Path(f"{where.path.resolve()}.schedule.json")
    found = re.search(r"(?:^|\s)dbname\s*=\s*'?([^\s']+)", where.catalog)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", found.group(1) if found else "lake")
    folder = Path(state.config.path).resolve().parent if state.config.path else Path.cwd()
    return folder / f"ducklake-{name}.schedule.json"


def _dora_args() -> list[str]:
    args = [sys.executable, "-m", "doralytics"]
    if state.warehouse:
        args += ["--warehouse", str(state.warehouse)]
    if state.config.path:
        args += ["--config", str(state.config.path)]
    return args


def collect_command(item: str) -> list[str]:
    """`dora collect ...` for one `collect` entry of a job, run as its own process (it takes the writer lock
    only while it writes; a crash in a collector cannot take the scheduler down)."""
    return [*_dora_args(), "collect", *shlex.split(item)]


def run_job(job: Job) -> None:
    """One scheduled run: the collectors in order, then the report; a failing step is logged, not fatal."""
    from reports.weekly import resolve_week

    log.info("job %s: started", job.name)
    for item in job.collect:
        result = subprocess.run(collect_command(item), capture_output=True, text=True)
        if result.returncode == 0:
            log.info("job %s: collect %s: ok", job.name, item)
        else:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
            log.error(
                "job %s: collect %s failed (exit %d): %s; reporting on the data there is",
                job.name,
                item,
                result.returncode,
                tail[0],
            )
    report_settings, smtp_settings = _settings()
    if job.out_dir:
        report_settings = report_settings.model_copy(update={"out_dir": job.out_dir})
    try:
        path, outcomes = produce(
            resolve_week(),
            job.teams,
            job.format,
            None,
            report_settings,
            smtp_settings,
            job.email,
            job.webhook,
        )
    except Exception:
        log.exception("job %s: the report failed", job.name)
        return
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        (log.info if o.ok else log.error)("job %s: %s: %s", job.name, o.target, "ok" if o.ok else o.error)
    log.info(
        "job %s: finished, report at %s%s",
        job.name,
        path,
        f", {len(failed)} delivery failed" if failed else "",
    )
