"""`dora collect github|git`, and what every `dora collect` command shares (collect_apis.py has the others).

The command line is the only place that reads secrets (GITHUB_TOKEN, GITLAB_TOKEN, PAGERDUTY_TOKEN) and
wires collectors to the warehouse; the collectors get a client factory and validated settings. Every API
collector ends the same way (`summarize`): a table of its scopes, what was quarantined, warnings and
errors, then the metrics rebuilt.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from doralytics.cli.common import Format, app, emit, err, fail, note, state, warehouse_address
from doralytics.config import ConfigError

if TYPE_CHECKING:
    from rich.progress import TaskID

    from collectors.base import RunResult, Stats
    from collectors.git.collector import GitResult
    from collectors.git.settings import GitSettings
    from warehouse.batch import Sink

Settings = TypeVar("Settings")
Result = TypeVar("Result", bound="RunResult")

collect_app = typer.Typer(
    help="Fetch data from GitHub or a local git repository into the warehouse.", no_args_is_help=True
)
app.add_typer(collect_app, name="collect")

SinceOpt = Annotated[str | None, typer.Option(help="first collect: only history from this date (YYYY-MM-DD)")]
FullOpt = Annotated[bool, typer.Option("--full", help="refetch everything, ignoring the cursors")]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="print what would count as a production deployment; write nothing"),
]
SummaryOpt = Annotated[Format, typer.Option("--format", help="summary as table, json or csv")]

# the summary's columns: each scope's counters
COLUMNS: dict[str, Callable[[Stats], Any]] = {
    "rows": lambda s: s.items,
    "requests": lambda s: s.requests,
    "not_modified_304": lambda s: s.not_modified,
    "quarantined": lambda s: s.quarantined,
    "waited_s": lambda s: round(s.waited_seconds, 1),
    "seconds": lambda s: round(s.seconds, 1),
}


class RichProgress:
    """One line per scope: what it is fetching and how many rows it has written."""

    def __init__(self, console: Console) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
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


def token_from(variable: str, how: str) -> str:
    token = os.environ.get(variable)
    if not token:
        fail(f"{variable} is not set: {how} and export it")
    return token


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        fail("--workers: must be at least 1")


def settings_of(parse: Callable[..., Settings], section: str, **overrides: Any) -> Settings:
    """The section of dora.toml validated, with the command line's options (None: not given) winning."""
    try:
        return parse(state.config.sections.get(section), **overrides)
    except ConfigError as exc:
        fail(str(exc))


def transform_after(summary: str) -> None:
    from warehouse import db
    from warehouse.transform import run_in

    try:
        run_in(warehouse_address(), state.config.metrics)
    except db.WarehouseError as exc:
        fail(str(exc))
    err.print(summary, highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)


def collect_into(source: str, collect: Callable[[Sink, RichProgress], Result]) -> Result:
    """Run a collector into the warehouse with a progress line per scope; its failure ends the command."""
    from collectors.base import CollectorError
    from warehouse import db
    from warehouse.sync import WarehouseSink

    try:
        with WarehouseSink(state.warehouse, source) as sink, RichProgress(err) as progress:
            result = collect(sink, progress)
            sink.record_run(",".join(sorted(result.stats)))
    except CollectorError as exc:
        fail(str(exc), code=1)
    except db.WarehouseError as exc:
        fail(str(exc))
    return result


def summarize(
    source: str,
    result: RunResult,
    key: str,
    columns: Iterable[str],
    title: str,
    fmt: Format,
    warnings: Iterable[str] = (),
    quarantined_since: dt.datetime | None = None,
) -> None:
    """The end of every API collector: one row per scope, what was quarantined, warnings, errors, then the
    metrics rebuilt; exit code 1 if a scope failed."""
    rows = [
        {
            key: name,
            **{column: COLUMNS[column](s) for column in columns},
            "status": "failed" if name in result.errors else "ok",
        }
        for name, s in sorted(result.stats.items())
    ]
    emit(rows, fmt, title=title)
    for warning in warnings:
        warn(warning)
    quarantined_lines(source, quarantined_since)
    for s in result.stats.values():
        for warning in s.warnings:
            warn(warning)
    for name, message in sorted(result.errors.items()):
        err.print(f"[red]error:[/red] {escape(f'{name}: {message}')}", highlight=False, soft_wrap=True)
    transform_after("metrics rebuilt")
    if result.errors:
        raise typer.Exit(1)


def dry_run_lines(dry_run: Callable[[], list[dict[str, Any]]], code: int) -> list[dict[str, Any]]:
    from collectors.base import CollectorError

    try:
        return dry_run()
    except CollectorError as exc:
        fail(str(exc), code=code)


def totals(result: RunResult) -> tuple[int, int]:
    """Requests made, and how many of them were answered 304."""
    stats = result.stats.values()
    return sum(s.requests for s in stats), sum(s.not_modified for s in stats)


@collect_app.command("github")
def github(
    repo: Annotated[list[str] | None, typer.Option("--repo", help="OWNER/NAME (repeatable)")] = None,
    org: Annotated[
        str | None, typer.Option(help="every non-archived repository of this organization")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="GitHub Enterprise Server: https://HOST/api/v3")
    ] = None,
    since: SinceOpt = None,
    full: FullOpt = False,
    workers: Annotated[int | None, typer.Option(help="repositories collected at once")] = None,
    dry_run: DryRunOpt = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option("--ca-bundle", help="PEM file of the CA that signed the server's certificate (GHES)"),
    ] = None,
    fmt: SummaryOpt = Format.table,
) -> None:
    """Collect repos from GitHub (token in GITHUB_TOKEN): commits, PRs, deployments, incidents, CI runs.

    Incremental: a second run fetches only what changed. Safe to interrupt: the next run resumes.

    Example: GITHUB_TOKEN=... dora -w dora.duckdb collect github --repo acme/checkout --since 2026-01-01
    """
    from collectors.github import collector, settings
    from collectors.github.client import make_client

    token = token_from(
        "GITHUB_TOKEN",
        "create a token (classic: `repo` scope; fine-grained: read access to Metadata, Contents, Pull "
        "requests, Deployments, Issues, Actions)",
    )
    check_workers(workers)
    options = settings_of(
        settings.parse,
        "github",
        repos=repo or None,
        org=org,
        api_url=api_url,
        since=since_date(since),
        full=full or None,
        workers=workers,
        ca_bundle=ca_bundle_path(ca_bundle),
        production_pattern=state.config.metrics.production_environments,
    )
    if options.clone and not options.clone_dir:
        from warehouse.address import FileAddress

        where = warehouse_address()
        # beside a file warehouse; for a lake (shared by many hosts), in this host's working folder
        base = where.path if isinstance(where, FileAddress) else Path("dora-lake")
        options = options.model_copy(update={"clone_dir": str(base.parent / f".{base.stem}-clones")})

    def client() -> Any:
        return make_client(token, options)

    if dry_run:
        lines = dry_run_lines(lambda: collector.dry_run(client, options), code=2)
        if fmt is Format.table:
            # sentences, not a table: they are read, and a table would wrap them
            for line in lines:
                print(f"{line['repo']} ({line['mode']}): {line['detail']}")
            print("dry run: nothing was written")
        else:
            emit(lines, fmt)
        return
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = collect_into(
        collector.SOURCE, lambda sink, progress: collector.collect(client, options, sink, progress, token)
    )
    requests, not_modified = totals(result)
    budget = result.budget
    title = (
        f"GitHub: {requests} requests ({not_modified} answered 304), rate limit left "
        f"{budget.remaining if budget.remaining is not None else '?'}/{budget.limit or '?'}, "
        f"{result.seconds:.1f} s"
    )
    columns = ("rows", "requests", "not_modified_304", "quarantined", "waited_s", "seconds")
    summarize(collector.SOURCE, result, "repo", columns, title, fmt, quarantined_since=started)


@collect_app.command("git")
def git(
    path: Annotated[Path | None, typer.Argument(help="a git clone (default: git.path in dora.toml)")] = None,
    service: Annotated[
        str | None, typer.Option(help="the service deployed from it [default: folder name]")
    ] = None,
    team: Annotated[str | None, typer.Option(help="its team [default: unassigned]")] = None,
    repo: Annotated[str | None, typer.Option(help="the repo name commits are stored under")] = None,
    deploy_tags: Annotated[
        list[str] | None,
        typer.Option("--deploy-tags", help="tags that are deployments, a glob like 'v*' (repeatable)"),
    ] = None,
    exclude_tags: Annotated[
        list[str] | None,
        typer.Option("--exclude-tags", help="tags that are not, a glob like '*rc*' (repeatable)"),
    ] = None,
    deploy_log: Annotated[
        Path | None, typer.Option("--deploy-log", help="a CSV with the deployments.csv columns")
    ] = None,
    environment: Annotated[str | None, typer.Option(help="environment of tag deployments")] = None,
    fmt: SummaryOpt = Format.table,
) -> None:
    """Collect the commit graph of a local clone, and deployments from its tags or a deploy log.

    The history read is the default branch's and every deployed commit's (a maintenance branch never
    merged back included). A tag is a deployment at its tagger date (annotated) or its commit's committer
    date (lightweight). Works offline. Incremental: a second run reads only the new commits; the
    deployments of tags no longer selected are removed.

    Example: dora collect git ../checkout --service checkout --deploy-tags 'v*' --exclude-tags '*rc*'
    """
    from collectors.base import CollectorError
    from collectors.git import collector
    from warehouse import db
    from warehouse.sync import WarehouseSink

    section: dict[str, Any] = state.config.sections.get("git") or {}  # validated when dora.toml was loaded
    folder = path or (Path(section["path"]) if "path" in section else None)
    if folder is None:
        fail("give the path of a git clone (or git.path in dora.toml)")
    if not folder.is_dir():
        fail(f"{folder}: no such folder")
    log_file = deploy_log or (Path(section["deploy_log"]) if "deploy_log" in section else None)
    if log_file and not log_file.is_file():
        fail(f"--deploy-log: {log_file}: no such file")
    settings = git_settings(
        folder, section, service, team, repo, deploy_tags, exclude_tags, log_file, environment
    )
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        with WarehouseSink(state.warehouse, collector.SOURCE) as sink:
            result = collector.collect(settings, sink)
            result.removed = sink.rows_removed
            sink.record_run(settings.repo)
    except CollectorError as exc:
        fail(str(exc))
    except db.WarehouseError as exc:
        fail(str(exc))
    names = ",".join(s.name for s in settings.services)
    emit([{"repo": settings.repo, "service": names, **result.counts()}], fmt, title="git")
    if result.removed:
        note(f"removed {result.removed} deployments of tags no longer selected")
    production = result.production_tier or production_named(result.environments)
    for warning in [*result.warnings, *([] if production else production_warning(result))]:
        warn(warning)
    quarantined_lines(collector.SOURCE, started)
    transform_after("metrics rebuilt")


def git_settings(
    folder: Path,
    section: dict[str, Any],
    service: str | None,
    team: str | None,
    repo: str | None,
    deploy_tags: list[str] | None,
    exclude_tags: list[str] | None,
    log_file: Path | None,
    environment: str | None,
) -> GitSettings:
    """The run's settings: the command line's options over [git] of dora.toml."""
    from collectors.git.settings import GitSection, GitSettings, ServiceSpec
    from collectors.settings import TagSelection
    from warehouse.settings import parse

    written = settings_of(lambda body: parse(GitSection, body, "git"), "git")
    includes = tuple(deploy_tags or ()) or written.deploy_tags
    excludes = tuple(exclude_tags or ()) or written.exclude_tags
    if includes and log_file:
        fail("give either --deploy-tags or --deploy-log, not both")
    if excludes and not includes and not written.services:
        fail("--exclude-tags leaves out some of the tags --deploy-tags selects: give --deploy-tags too")
    name = folder.resolve().name.removesuffix(".git")
    default_team = team or written.team or "unassigned"
    if written.services:
        if service or deploy_tags or exclude_tags:
            fail(
                "dora.toml has [[git.services]], each with its own tags: --service, --deploy-tags and "
                "--exclude-tags do not apply (change the services' tags in dora.toml)"
            )
        services = tuple(
            ServiceSpec(
                name=s.name,
                team=s.team or default_team,
                tags=TagSelection(s.tags, s.exclude_tags),
                paths=s.paths,
            )
            for s in written.services
        )
    else:
        services = (
            ServiceSpec(
                name=service or written.service or name,
                team=default_team,
                tags=TagSelection(includes or (), excludes or ()),
            ),
        )
    return GitSettings(
        path=folder,
        repo=repo or written.repo or name,
        services=services,
        deploy_log=log_file,
        environment=environment or written.environment or "production",
        rev=written.rev or "HEAD",
    )


def production_named(environments: set[str]) -> bool:
    """Whether one of these environment names counts as production under [metrics]."""
    import re

    pattern = state.config.metrics.production_environments
    return any(re.search(pattern, e.strip().lower()) for e in environments)


def production_warning(result: GitResult) -> list[str]:
    """Said when every deployment written lands outside production: the metrics would show none of them."""
    if not result.deployments:
        return []
    return [
        f"the {result.deployments} deployments went to {', '.join(sorted(map(repr, result.environments)))}, "
        f"which [metrics] production_environments ({state.config.metrics.production_environments!r}) does "
        "not count as production: the metrics will show none of them; pass --environment production, or "
        "widen production_environments in dora.toml"
    ]


def quarantined_lines(source: str, since: dt.datetime | None) -> None:
    """Each object of `source` quarantined since `since`, and why."""
    from warehouse import db
    from warehouse.sync import quarantined

    with db.read(state.warehouse) as con:
        for scope, entity, item, problem in quarantined(con, source, since):
            line = escape(f"{entity} {item} of {scope}: {problem}")
            err.print(f"[yellow]quarantined[/yellow] {line}", highlight=False, soft_wrap=True)
