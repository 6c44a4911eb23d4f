"""`dora collect gitlab|pagerduty`: the GitLab and PagerDuty collectors on the command line.

Reads their secrets (GITLAB_TOKEN, PAGERDUTY_TOKEN) and wires the collectors to the warehouse through
collect.py's shared steps: settings, the run into the warehouse, the summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from doralytics.cli.collect import (
    DryRunOpt,
    FullOpt,
    SinceOpt,
    SummaryOpt,
    ca_bundle_path,
    check_workers,
    collect_app,
    collect_into,
    dry_run_lines,
    settings_of,
    since_date,
    summarize,
    token_from,
    totals,
)
from doralytics.cli.common import Format, emit, fail, state

if TYPE_CHECKING:
    from collectors.pagerduty.collector import PagerdutyResult

CaBundleOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle", help="PEM file of the CA that signed the server's certificate (corporate CA)"
    ),
]


@collect_app.command("gitlab")
def gitlab(
    project: Annotated[
        list[str] | None, typer.Option("--project", help="GROUP/[SUBGROUP/]NAME (repeatable)")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="every non-archived project of this group and subgroups")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="self-managed GitLab: https://gitlab.example.com (default: gitlab.com)")
    ] = None,
    since: SinceOpt = None,
    full: FullOpt = False,
    workers: Annotated[int | None, typer.Option(help="projects collected at once")] = None,
    ca_bundle: CaBundleOpt = None,
    dry_run: DryRunOpt = False,
    fmt: SummaryOpt = Format.table,
) -> None:
    """Collect projects from GitLab (token in GITLAB_TOKEN, scope read_api): commits of the default
    branch and the history of every deployed commit (a maintenance branch too), merged MRs, deployments
    (and releases, with `releases = true` in dora.toml), pipelines and incidents.

    Incremental: a second run fetches only what changed. Safe to interrupt: the next run resumes.
    An answer GitLab gives that cannot be used is reported for its project and endpoint; the rest goes on.

    Example: GITLAB_TOKEN=... dora -w dora.duckdb collect gitlab --group acme --since 2026-01-01
    """
    from collectors.gitlab import collector, settings
    from collectors.gitlab.client import make_client

    token = token_from(
        "GITLAB_TOKEN",
        "create a personal, group or project access token with the `read_api` scope (Reporter access to "
        "the projects)",
    )
    check_workers(workers)
    options = settings_of(
        settings.parse,
        "gitlab",
        projects=project or None,
        group=group,
        url=url,
        since=since_date(since),
        full=full or None,
        workers=workers,
        ca_bundle=ca_bundle_path(ca_bundle),
        production_pattern=state.config.metrics.production_environments,
    )

    def client() -> Any:
        return make_client(token, options)

    if dry_run:
        lines = dry_run_lines(lambda: collector.dry_run(client, options), code=1)
        emit(lines, fmt, title="would count as production deployments (nothing written)")
        return
    result = collect_into(
        collector.SOURCE, lambda sink, progress: collector.collect(client, options, sink, progress)
    )
    title = f"GitLab: {totals(result)[0]} requests, {result.seconds:.1f} s"
    columns = ("rows", "requests", "quarantined", "seconds")
    summarize(collector.SOURCE, result, "project", columns, title, fmt)


@collect_app.command("pagerduty")
def pagerduty(
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
    full: FullOpt = False,
    change_events: Annotated[
        bool | None,
        typer.Option("--change-events", help="also change events with a commit sha, as deployments"),
    ] = None,
    ca_bundle: CaBundleOpt = None,
    fmt: SummaryOpt = Format.table,
) -> None:
    """Collect incidents from PagerDuty (read-only REST API key in PAGERDUTY_TOKEN).

    A PagerDuty service belongs to our service of the same name (case-insensitive) unless
    [[pagerduty.services]] in dora.toml maps it; incidents of unmapped services are kept raw and listed.

    Example: PAGERDUTY_TOKEN=... dora -w dora.duckdb collect pagerduty --since 2026-01-01
    """
    from collectors.pagerduty import collector, settings
    from collectors.pagerduty.client import make_client

    token = token_from("PAGERDUTY_TOKEN", "create a read-only REST API key (Integrations > API Access Keys)")
    options = settings_of(
        settings.parse,
        "pagerduty",
        service_ids=service_id or None,
        api_url=api_url,
        since=since_date(since),
        full=full or None,
        change_events=change_events,
        ca_bundle=ca_bundle_path(ca_bundle),
    )
    known = known_services()
    result = collect_into(
        collector.SOURCE,
        lambda sink, progress: collector.collect(
            lambda: make_client(token, options), options, known, sink, progress
        ),
    )
    title = (
        f"PagerDuty: {result.requests} requests, waited {result.waited_seconds:.1f} s for rate limits, "
        f"{result.seconds:.1f} s"
    )
    warnings = pagerduty_warnings(result, set(options.service_ids), known)
    summarize(collector.SOURCE, result, "scope", ("rows", "requests", "quarantined"), title, fmt, warnings)


def known_services() -> list[str]:
    from warehouse import db

    try:
        with db.read(state.warehouse) as con:
            return [s for (s,) in con.execute("select service from core.services order by 1").fetchall()]
    except db.WarehouseError as exc:
        fail(str(exc))


def pagerduty_warnings(result: PagerdutyResult, chosen: set[str], known: list[str]) -> list[str]:
    """PagerDuty services mapped to a service not in the warehouse yet, and those mapped to none."""
    out = []
    for s in result.services:
        if chosen and s["pd_service_id"] not in chosen:
            continue
        if s["service"] is not None and s["service"] not in known:
            out.append(
                f"PagerDuty service {s['pd_service']} ({s['pd_service_id']}) maps to {s['service']!r}, "
                "which is not in the warehouse yet: collect its repository first, then its incidents count"
            )
    for name, count in sorted(result.unmapped.items()):
        ident = next((s["pd_service_id"] for s in result.services if s["pd_service"] == name), "?")
        out.append(
            f"{count} incidents of PagerDuty service {name} ({ident}) belong to no service: kept raw "
            "(raw.pagerduty__incidents); map it in dora.toml ([[pagerduty.services]] id = ..., "
            "service = ...) and run again with --full"
        )
    return out
