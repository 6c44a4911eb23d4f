"""`dora collect github|git`: fetch from a source into the warehouse, then rebuild the metrics.

The command line is the only place that reads secrets (GITHUB_TOKEN) and wires collectors to the
warehouse; the collectors get a client factory and validated settings.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from doralytics.cli.common import (
    Format,
    app,
    emit,
    err,
    fail,
    run_transform,
    state,
)
from doralytics.config import ConfigError

collect_app = typer.Typer(
    help="Fetch data from GitHub or a local git repository into the warehouse.", no_args_is_help=True
)


app.add_typer(collect_app, name="collect")


class RichProgress:
    """One line per repo: what it is fetching and how many rows it has written."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start(self, scope: str) -> None:
        with self._lock:
            self.tasks[scope] = self.bar.add_task(f"{scope}: starting", total=None)

    def update(self, scope: str, entity: str, items: int) -> None:
        task = self.tasks.get(scope)
        if task is not None:
            self.bar.update(task, description=f"{scope}: {entity}, {items} rows")

    def finish(self, scope: str, ok: bool) -> None:
        task = self.tasks.get(scope)
        if task is not None:
            text = self.bar.tasks[task].description.split(": ", 1)[-1]
            self.bar.update(
                task, description=f"{scope}: {'done' if ok else 'FAILED'} ({text})", total=1, completed=1
            )


def ca_bundle_path(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        fail(f"--ca-bundle: {path}: no such file")
    return str(path)


def since_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--since: {value!r} is not a date (YYYY-MM-DD)")


def transform_after(summary: str) -> None:
    from warehouse import db

    try:
        with db.write(state.warehouse) as con:
            run_transform(con)
    except db.WarehouseError as exc:
        fail(str(exc))
    err.print(summary, highlight=False)


@collect_app.command("github")
def github(
    repo: Annotated[list[str] | None, typer.Option("--repo", help="OWNER/NAME (repeatable)")] = None,
    org: Annotated[
        str | None, typer.Option(help="every non-archived repository of this organization")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="GitHub Enterprise Server: https://HOST/api/v3")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="first collect: only history from this date (YYYY-MM-DD)")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="refetch everything, ignoring the cursors")] = False,
    workers: Annotated[int | None, typer.Option(help="repositories collected at once")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print what would count as a production deployment; write nothing"),
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option("--ca-bundle", help="PEM file of the CA that signed the server's certificate (GHES)"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="summary as table, json or csv")] = Format.table,
) -> None:
    """Collect repos from GitHub (token in GITHUB_TOKEN): commits, PRs, deployments, incidents, CI runs.

    Incremental: a second run fetches only what changed. Safe to interrupt: the next run resumes.

    Example: GITHUB_TOKEN=... dora -w dora.duckdb collect github --repo acme/checkout --since 2026-01-01
    """
    from collectors.github import run as gh
    from collectors.github import settings as github_settings
    from collectors.github.client import make_client

    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        fail(
            "GITHUB_TOKEN is not set: create a token (classic: `repo` scope; fine-grained: read access to "
            "Metadata, Contents, Pull requests, Deployments, Issues, Actions) and export it"
        )
    if workers is not None and workers < 1:
        fail("--workers: must be at least 1")
    try:
        settings = github_settings.parse(
            state.config.sections.get("github"),
            repos=repo or None,
            org=org,
            api_url=api_url,
            since=since_date(since),
            full=full or None,
            workers=workers,
            ca_bundle=ca_bundle_path(ca_bundle),
            production_pattern=state.config.metrics.production_environments,
        )
    except ConfigError as exc:
        fail(str(exc))
    if settings.clone and not settings.clone_dir:
        from warehouse import db

        base = db.resolve_path(state.warehouse)
        settings = _replace(settings, clone_dir=str(base.parent / f".{base.stem}-clones"))

    def client():
        return make_client(token, settings)

    if dry_run:
        try:
            lines = gh.dry_run(client, settings)
        except gh.CollectorError as exc:
            fail(str(exc))
        if fmt is Format.table:
            # sentences, not a table: they are read, and a table would wrap them
            for line in lines:
                print(f"{line['repo']} ({line['mode']}): {line['detail']}")
            print("dry run: nothing was written")
        else:
            emit(lines, fmt)
        return
    _collect_github(gh, client, settings, fmt)


def _replace(settings, **changes):
    from dataclasses import replace

    return replace(settings, **changes)


def _collect_github(gh, client, settings, fmt: Format) -> None:
    from warehouse import db
    from warehouse.sync import WarehouseSink, quarantined

    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        with WarehouseSink(state.warehouse, gh.SOURCE) as sink, RichProgress(err) as progress:
            result = gh.collect(client, settings, sink, progress)
            sink.record_run(",".join(sorted(result.stats)))
    except gh.CollectorError as exc:
        fail(str(exc), code=1)
    except db.WarehouseError as exc:
        fail(str(exc))
    rows = []
    for name, s in sorted(result.stats.items()):
        rows.append(
            {
                "repo": name,
                "rows": s.items,
                "requests": s.requests,
                "not_modified_304": s.not_modified,
                "quarantined": s.quarantined,
                "waited_s": round(s.waited_seconds, 1),
                "seconds": round(s.seconds, 1),
                "status": "failed" if name in result.errors else "ok",
            }
        )
    budget = result.budget
    title = (
        f"GitHub: {sum(r['requests'] for r in rows)} requests ({sum(r['not_modified_304'] for r in rows)} "
        f"answered 304), rate limit left {budget.remaining if budget.remaining is not None else '?'}"
        f"/{budget.limit or '?'}, {result.seconds:.1f} s"
    )
    emit(rows, fmt, title=title)
    with db.read(state.warehouse) as con:
        for scope, entity, key, problem in quarantined(con, gh.SOURCE, started):
            err.print(f"[yellow]quarantined[/yellow] {entity} {key} of {scope}: {problem}", highlight=False)
    for s in result.stats.values():
        for warning in s.warnings:
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    for name, message in sorted(result.errors.items()):
        err.print(f"[red]error:[/red] {name}: {message}", highlight=False, soft_wrap=True)
    transform_after("metrics rebuilt")
    if result.errors:
        raise typer.Exit(1)


def _git_section() -> dict[str, Any]:
    return state.config.sections.get("git") or {}  # validated when dora.toml was loaded


@collect_app.command("git")
def git(
    path: Annotated[Path | None, typer.Argument(help="a git clone (default: git.path in dora.toml)")] = None,
    service: Annotated[
        str | None, typer.Option(help="the service deployed from it [default: folder name]")
    ] = None,
    team: Annotated[str | None, typer.Option(help="its team [default: unassigned]")] = None,
    repo: Annotated[str | None, typer.Option(help="the repo name commits are stored under")] = None,
    deploy_tags: Annotated[
        str | None, typer.Option("--deploy-tags", help="tags that are deployments, a glob like 'v*'")
    ] = None,
    deploy_log: Annotated[
        Path | None, typer.Option("--deploy-log", help="a CSV with the deployments.csv columns")
    ] = None,
    environment: Annotated[str | None, typer.Option(help="environment of tag deployments")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="summary as table, json or csv")] = Format.table,
) -> None:
    """Collect the commit graph of a local clone, and deployments from its tags or a deploy log.

    Works offline. Incremental: a second run reads only the new commits.

    Example: dora collect git ../checkout --service checkout --deploy-tags 'v*'
    """
    from collectors.base import CollectorError
    from collectors.git import collector as git_local
    from warehouse import db
    from warehouse.sync import WarehouseSink

    section = _git_section()
    folder = path or (Path(section["path"]) if "path" in section else None)
    if folder is None:
        fail("give the path of a git clone (or git.path in dora.toml)")
    if not folder.is_dir():
        fail(f"{folder}: no such folder")
    tags = deploy_tags or section.get("deploy_tags")
    log_file = deploy_log or (Path(section["deploy_log"]) if "deploy_log" in section else None)
    if tags and log_file:
        fail("give either --deploy-tags or --deploy-log, not both")
    if log_file and not log_file.is_file():
        fail(f"--deploy-log: {log_file}: no such file")
    name = folder.resolve().name.removesuffix(".git")
    settings = git_local.GitSettings(
        path=folder,
        repo=repo or section.get("repo") or name,
        service=service or section.get("service") or name,
        team=team or section.get("team") or "unassigned",
        deploy_tags=tags,
        deploy_log=log_file,
        environment=environment or section.get("environment") or "production",
        rev=section.get("rev", "HEAD"),
    )
    try:
        with WarehouseSink(state.warehouse, git_local.SOURCE) as sink:
            counts = git_local.collect(settings, sink)
            sink.record_run(settings.repo)
    except CollectorError as exc:
        fail(str(exc))
    except db.WarehouseError as exc:
        fail(str(exc))
    emit([{"repo": settings.repo, "service": settings.service, **counts}], fmt, title="git")
    transform_after("metrics rebuilt")
