"""`dora import`, `dora transform` and `dora demo`: what writes the warehouse from files or the demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from doralytics.cli.common import (
    app,
    fail,
    note,
    parse_date,
    run_transform,
    state,
    warehouse_address,
)

if TYPE_CHECKING:
    import duckdb


@app.command("import")
def import_(folder: Annotated[Path, typer.Argument(help="folder holding the bundle's CSV files")]) -> None:
    """Load a CSV bundle (its files and columns: README.md) into the warehouse, then rebuild the metrics.

    Validation errors name file:line:column, exit with code 2 and load nothing.

    Example: dora --warehouse dora.duckdb import ./bundle
    """
    from warehouse import db, load, publish
    from warehouse.bundle import BundleError

    def then(con: duckdb.DuckDBPyConnection) -> None:
        publish.fault_point("loaded")
        run_transform(con)

    try:
        # One write: the load and the transform are published (a lake: committed) together, or (an error,
        # a kill) neither; on a lake, run again whole when another writer's commit conflicts with it.
        counts = load.import_into(warehouse_address(), folder, then=then)
    except BundleError as exc:
        fail(str(exc))
    except db.WarehouseError as exc:
        fail(str(exc))
    note("imported " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@app.command()
def transform() -> None:
    """Rebuild the marts (metrics) from the core tables. Runs by itself after import and collect.

    Example: dora --warehouse dora.duckdb transform
    """
    from warehouse import db
    from warehouse.transform import run_in

    try:
        run_in(warehouse_address(), state.config.metrics)
    except db.WarehouseError as exc:
        fail(str(exc))
    note("transformed")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="same seed and end date, same warehouse")] = 7,
    end: Annotated[str | None, typer.Option(help="last day of the six months (default: today)")] = None,
) -> None:
    """Build a realistic demo organisation (4 teams, 12 services, 6 months) into the warehouse.

    Example: dora --warehouse demo.duckdb demo --seed 7 --end 2026-06-30
    """
    from collectors import demo as demo_org
    from warehouse import db

    last = parse_date(end, "--end") if end else None

    def attempt() -> dict[str, int]:
        with db.write(warehouse_address()) as con:
            built = demo_org.build(con, seed=seed, end=last)
            run_transform(con)
            return built

    try:
        counts = db.retrying(attempt, "building the demo")
    except db.WarehouseError as exc:
        fail(str(exc))
    note("demo built: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
