"""`dora collect gitlab|pagerduty`: the GitLab and PagerDuty collectors on the command line.

The only place that reads their secrets (GITLAB_TOKEN, PAGERDUTY_TOKEN) and wires the collectors to the
warehouse; the collectors get a client factory and validated settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from doralytics.cli.collect import RichProgress, ca_bundle_path, collect_app, since_date, transform_after
from doralytics.cli.common import (
    Format,
    emit,
    err,
    fail,
    state,
)
from doralytics.config import ConfigError

CaBundleOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle", help="PEM file of the CA that signed the server's certificate (corporate CA)"
    ),
]


FormatOpt = Annotated[Format, typer.Option("--format", help="summary as table, json or csv")]


def _warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


@collect_app.command("gitlab")
def gitlab_command(
    project: Annotated[
        list[str] | None, typer.Option("--project", help="GROUP/[SUBGROUP/]NAME (repeatable)")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="every non-archived project of this group and subgroups")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="self-managed GitLab: https://gitlab.example.com (default: gitlab.com)")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="first collect: only history from this date (YYYY-MM-DD)")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="refetch everything, ignoring the cursors")] = False,
    workers: Annotated[int | None, typer.Option(help="projects collected at once")] = None,
    ca_bundle: CaBundleOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print what would count as a production deployment; write nothing"),
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Collect projects from GitLab (token in GITLAB_TOKEN, scope read_api): commits of the default
    branch, merged MRs, deployments, pipelines and incidents.

    Incremental: a second run fetches only what changed. Safe to interrupt: the next run resumes.

    Example: GITLAB_TOKEN=... dora -w dora.duckdb collect gitlab --group acme --since 2026-01-01
    """
    from collectors.gitlab import collector as gl
    from collectors.gitlab import settings as gitlab_settings

    token = os.environ.get("GITLAB_TOKEN")
    if not token:
        fail(
            "GITLAB_TOKEN is not set: create a personal, group or project access token with the `read_api` "
            "scope (Reporter access to the projects) and export it"
        )
    if workers is not None and workers < 1:
        fail("--workers: must be at least 1")
    try:
        settings = gitlab_settings.parse(
            state.config.sections.get("gitlab"),
            projects=project or None,
            group=group,
            url=url,
            since=since_date(since),
            full=full or None,
            workers=workers,
            ca_bundle=ca_bundle_path(ca_bundle),
            production_pattern=state.config.metrics.production_environments,
        )
    except ConfigError as exc:
        fail(str(exc))

    def client():
        return gl.make_client(token, settings)

    if dry_run:
        try:
            lines = gl.dry_run(client, settings)
        except gl.CollectorError as exc:
            fail(str(exc), code=1)
        emit(lines, fmt, title="would count as production deployments (nothing written)")
        return
    _collect_gitlab(gl, client, settings, fmt)


def _collect_gitlab(gl: Any, client: Any, settings: Any, fmt: Format) -> None:
    from warehouse import db
    from warehouse.sync import WarehouseSink, quarantined

    try:
        with WarehouseSink(state.warehouse, gl.SOURCE) as sink, RichProgress(err) as progress:
            result = gl.collect(client, settings, sink, progress)
            sink.record_run(",".join(sorted(result.stats)))
    except gl.CollectorError as exc:
        fail(str(exc), code=1)
    except db.WarehouseError as exc:
        fail(str(exc))
    rows = [
        {
            "project": name,
            "rows": s.items,
            "requests": s.requests,
            "quarantined": s.quarantined,
            "seconds": round(s.seconds, 1),
            "status": "failed" if name in result.errors else "ok",
        }
        for name, s in sorted(result.stats.items())
    ]
    title = f"GitLab: {sum(r['requests'] for r in rows)} requests, {result.seconds:.1f} s"
    emit(rows, fmt, title=title)
    _report(gl.SOURCE, quarantined, result.errors)
    transform_after("metrics rebuilt")
    if result.errors:
        raise typer.Exit(1)


def _report(source: str, quarantined: Any, errors: dict[str, str]) -> None:
    from warehouse import db

    with db.read(state.warehouse) as con:
        for scope, entity, key, problem in quarantined(con, source):
            err.print(f"[yellow]quarantined[/yellow] {entity} {key} of {scope}: {problem}", highlight=False)
    for name, message in sorted(errors.items()):
        err.print(f"[red]error:[/red] {name}: {message}", highlight=False, soft_wrap=True)


@collect_app.command("pagerduty")
def pagerduty_command(
    service_id: Annotated[
        list[str] | None,
        typer.Option(
            "--service-id", help="a PagerDuty service id (repeatable) (default: every service visible)"
        ),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="EU region: https://api.eu.pagerduty.com")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="first collect: incidents created from this date (YYYY-MM-DD)")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="refetch everything, ignoring the cursors")] = False,
    change_events: Annotated[
        bool | None,
        typer.Option("--change-events", help="also change events with a commit sha, as deployments"),
    ] = None,
    ca_bundle: CaBundleOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Collect incidents from PagerDuty (read-only REST API key in PAGERDUTY_TOKEN).

    A PagerDuty service belongs to our service of the same name (case-insensitive) unless
    [[pagerduty.services]] in dora.toml maps it; incidents of unmapped services are kept raw and listed.

    Example: PAGERDUTY_TOKEN=... dora -w dora.duckdb collect pagerduty --since 2026-01-01
    """
    from collectors.pagerduty import collector as pd
    from collectors.pagerduty import settings as pagerduty_settings

    token = os.environ.get("PAGERDUTY_TOKEN")
    if not token:
        fail(
            "PAGERDUTY_TOKEN is not set: create a read-only REST API key (Integrations > API Access Keys) "
            "and export it"
        )
    try:
        settings = pagerduty_settings.parse(
            state.config.sections.get("pagerduty"),
            service_ids=service_id or None,
            api_url=api_url,
            since=since_date(since),
            full=full or None,
            change_events=change_events,
            ca_bundle=ca_bundle_path(ca_bundle),
        )
    except ConfigError as exc:
        fail(str(exc))
    _collect_pagerduty(pd, lambda: pd.make_client(token, settings), settings, fmt)


def _known_services() -> list[str]:
    from warehouse import db

    with db.read(state.warehouse) as con:
        return [s for (s,) in con.execute("select service from core.services order by 1").fetchall()]


def _collect_pagerduty(pd: Any, client: Any, settings: Any, fmt: Format) -> None:
    from warehouse import db
    from warehouse.sync import WarehouseSink, quarantined

    try:
        known = _known_services()
        with WarehouseSink(state.warehouse, pd.SOURCE) as sink, RichProgress(err) as progress:
            result = pd.collect(client, settings, known, sink, progress)
            sink.record_run(",".join(sorted(result.stats)) or "account")
    except pd.CollectorError as exc:
        fail(str(exc), code=1)
    except db.WarehouseError as exc:
        fail(str(exc))
    rows = [
        {
            "scope": name,
            "rows": s.items,
            "requests": s.requests,
            "quarantined": s.quarantined,
            "status": "failed" if name in result.errors else "ok",
        }
        for name, s in sorted(result.stats.items())
    ]
    title = (
        f"PagerDuty: {result.requests} requests, waited {result.waited_seconds:.1f} s for rate limits, "
        f"{result.seconds:.1f} s"
    )
    emit(rows, fmt, title=title)
    chosen = set(settings.service_ids)
    for s in result.services:
        if chosen and s["pd_service_id"] not in chosen:
            continue
        if s["service"] is None:
            continue
        if s["service"] not in known:
            _warn(
                f"PagerDuty service {s['pd_service']} ({s['pd_service_id']}) maps to {s['service']!r}, "
                "which is not in the warehouse yet: collect its repository first, then its incidents count"
            )
    for name, count in sorted(result.unmapped.items()):
        ident = next((s["pd_service_id"] for s in result.services if s["pd_service"] == name), "?")
        _warn(
            f"{count} incidents of PagerDuty service {name} ({ident}) belong to no service: kept raw "
            "(raw.pagerduty__incidents); map it in dora.toml ([[pagerduty.services]] id = ..., "
            "service = ...) and run again with --full"
        )
    _report(pd.SOURCE, quarantined, result.errors)
    transform_after("metrics rebuilt")
    if result.errors:
        raise typer.Exit(1)
