"""What every command shares: the app, the global options and state, output, dates and scopes, errors.

Each command group is a module of this package that imports this one and registers its commands on `app`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from doralytics import config as config_mod

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from rich.table import Table

    from warehouse.address import Address
    from warehouse.metrics import Scope

app = typer.Typer(
    help="Doralytics: DORA metrics you can explain, from a DuckDB warehouse.\n\n"
    "Example: dora --warehouse dora.duckdb metrics --from 2026-01-01 --to 2026-03-31 --group-by team",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[default: folder name]" stays as written
)


err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class GroupBy(StrEnum):
    service = "service"
    team = "team"
    org = "org"


class State:
    warehouse: str | None = None
    config: config_mod.Config = config_mod.Config()


state = State()


def fail(message: str, code: int = 2) -> NoReturn:
    """The one way a command stops on an error: the message on stderr, then the exit code (2: usage, data)."""
    error(message)
    raise typer.Exit(code)


def error(message: str) -> None:
    # the message may echo user text (a commit title "[/skip ci]", a path): never read as rich markup
    note(f"[red]error:[/red] {escape(message)}")


def note(message: str) -> None:
    """A line for the person at the terminal (what was written, delivered, started) on stderr, so that stdout
    holds only what `emit` prints for programs. Never wrapped: paths and URLs stay whole for copying."""
    err.print(message, highlight=False, soft_wrap=True)


@app.callback()
def main_options(
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            "-w",
            envvar="DORA_WAREHOUSE",
            help="the warehouse: a DuckDB file [default: ./dora.duckdb], or a DuckLake as "
            "ducklake:postgres:<libpq conninfo> (e.g. 'ducklake:postgres:dbname=dora host=db user=dora'), "
            "its data files under [warehouse] data_path or DORA_DATA_PATH; the password only from "
            "PGPASSWORD, a service file or ~/.pgpass",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DORA_CONFIG", help="dora.toml [default: ./dora.toml if present]"),
    ] = None,
) -> None:
    try:
        state.config = config_mod.load(config)
    except config_mod.ConfigError as exc:
        fail(str(exc))
    state.warehouse = warehouse or state.config.warehouse
    compose_address()


def compose_address() -> None:
    """A lake address gets dora.toml's `[warehouse] data_path` through DORA_DATA_PATH (so the `dora`
    children this process starts get it too); a bad lake address (a password in it) fails here."""
    from warehouse import address

    text = state.warehouse or os.environ.get("DORA_WAREHOUSE") or ""
    if not text.startswith(address.LAKE_PREFIX):
        return
    data_path = getattr(state.config, "data_path", None)
    try:
        found = address.parse(text, data_path)
    except address.WarehouseError as exc:
        fail(str(exc))
    os.environ.update(address.environment(found))


def warehouse_address() -> Address:
    """The warehouse the command works on (--warehouse, DORA_WAREHOUSE, dora.toml, ./dora.duckdb)."""
    from warehouse import address

    try:
        return address.parse(state.warehouse)
    except address.WarehouseError as exc:
        fail(str(exc))


def existing_warehouse(fresh: bool = False) -> Address:
    """The warehouse a reading command reads: a path that does not exist (a lake with no schema) is a
    mistake, not a new warehouse.

    Marts older than the core tables (rows loaded after the last transform, e.g. by a program that loads
    without transforming) are refused when the command shows metrics (`fresh`), else a warning."""
    from warehouse import db

    path = warehouse_address()
    try:
        if not db.exists(path):
            fail(
                f"no warehouse at {path}: build one with `dora demo`, `dora import DIR` or `dora collect ...`"
            )
        with db.read(path) as con:
            lag = db.stale(con)
    except db.WarehouseError as exc:
        fail(str(exc))
    if lag and fresh:
        fail(f"{path}: {lag}")
    if lag:
        note(f"[yellow]warning:[/yellow] {path}: {lag}")
    return path


def parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)")


def scope_of(
    start: str,
    end: str,
    group_by: GroupBy,
    services: list[str] | None,
    teams: list[str] | None,
    environments: list[str] | None = None,
) -> Scope:
    from warehouse.metrics import Scope

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first > last:
        fail(f"--from {first} is after --to {last}")
    return Scope(
        first,
        last,
        group_by.value,
        tuple(services) if services else None,
        tuple(teams) if teams else None,
        tuple(e.strip().lower() for e in environments) if environments else None,
    )


def emit(
    rows: list[dict[str, Any]],
    fmt: Format,
    document: Any = None,
    title: str | None = None,
    table: Table | None = None,
    width: int = 100,
) -> None:
    """The one output path of every command: a table for people, JSON or CSV for programs.

    JSON prints `document` when given (else the rows); the table format prints `table` when a command lays
    its rows out itself, at least `width` columns wide.
    """
    if fmt is Format.json:
        print(json.dumps(document if document is not None else rows, indent=1, default=_json_default))
    elif fmt is Format.csv:
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
        sys.stdout.write(buffer.getvalue())
    elif table is not None:
        Console(width=max(Console().width, width)).print(table)
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, show_lines=False)
        columns = list(rows[0]) if rows else []
        for column in columns:
            table.add_column(Text(column), overflow="fold")
        for row in rows:
            table.add_row(*(Text(human(row[c])) for c in columns))
        Console(width=max(Console().width, width)).print(table if rows else "(no rows)")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    return value


def human(value: Any) -> str:
    """A value as the tables of every command show it: None as -, floats rounded, lists joined."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def run_transform(con: duckdb.DuckDBPyConnection) -> None:
    from warehouse.transform import run

    run(con, state.config.metrics)


FromOpt = Annotated[str, typer.Option("--from", help="first day of the period (YYYY-MM-DD, UTC)")]


ToOpt = Annotated[str, typer.Option("--to", help="last day of the period, inclusive")]


GroupOpt = Annotated[GroupBy, typer.Option("--group-by", help="pool services per service, team or org")]


FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json or csv for programs")]


ServiceOpt = Annotated[list[str] | None, typer.Option("--service", help="only these services (repeatable)")]


TeamOpt = Annotated[list[str] | None, typer.Option("--team", help="only these teams (repeatable)")]


EnvOpt = Annotated[
    list[str] | None, typer.Option("--environment", help="only these production environments (repeatable)")
]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items()} for row in rows]
