"""`dora warehouse copy FROM TO`: move a warehouse between a DuckDB file and a DuckLake (and back)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from doralytics.cli.common import app, fail, note, state

warehouse_app = typer.Typer(
    help="Work on whole warehouses: copy a DuckDB file into a DuckLake and back.", no_args_is_help=True
)


app.add_typer(warehouse_app, name="warehouse")


@warehouse_app.command("copy")
def copy_(
    source: Annotated[
        str,
        typer.Argument(metavar="FROM", help="the warehouse to copy: a DuckDB file or ducklake:postgres:..."),
    ],
    target: Annotated[
        str,
        typer.Argument(metavar="TO", help="the warehouse to write: a DuckDB file or ducklake:postgres:..."),
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="overwrite a target that already holds rows")
    ] = False,
    from_data_path: Annotated[
        str | None,
        typer.Option(
            "--from-data-path",
            help="the source lake's data folder [default: DORA_DATA_PATH, else [warehouse] data_path]",
        ),
    ] = None,
    to_data_path: Annotated[
        str | None,
        typer.Option(
            "--to-data-path",
            help="the target lake's data folder [default: DORA_DATA_PATH, else [warehouse] data_path]",
        ),
    ] = None,
) -> None:
    """Copy a whole warehouse: every core row, raw payload, cursor and sync run, the marts and the walk's
    state, so the metrics are identical on both. File to lake, lake to file, or like to like.

    The target is written in one transaction (a failure leaves it as it was) and must hold no rows unless
    --replace is given; a warehouse is never copied onto itself. A lake's earlier snapshots (for --as-of)
    stay behind: the copy starts its own history. Passwords come from PGPASSWORD or a service file, as for
    --warehouse.

    Example: dora warehouse copy dora.duckdb "ducklake:postgres:dbname=dora host=db.internal user=dora"
    """
    from warehouse import copy as copy_mod
    from warehouse import db
    from warehouse.address import DATA_PATH_ENV

    # as for --warehouse: DORA_DATA_PATH, else [warehouse] data_path of dora.toml
    default = os.environ.get(DATA_PATH_ENV) or getattr(state.config, "data_path", None)
    try:
        copied = copy_mod.copy(
            source,
            target,
            replace=replace,
            source_data_path=from_data_path or default,
            target_data_path=to_data_path or default,
        )
    except db.WarehouseError as exc:
        fail(str(exc))
    tables = sum(1 for n in copied.rows.values() if n)
    # both addresses were accepted, so neither holds a password
    note(f"copied {copied.total} rows in {tables} tables from {source} to {target}")
