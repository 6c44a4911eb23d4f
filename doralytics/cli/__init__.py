"""The `dora` command: wires collectors, warehouse, dashboard and reports together.

Each command group registers itself on `common.app` when imported; importing them here builds the command.
"""

from __future__ import annotations

import os
import sys

from doralytics.cli import collect, collect_apis, data, export, query, report, serve, warehouse_cmd  # noqa: F401
from doralytics.cli.common import app, error


def main() -> None:
    # numpy (the transform's commit-graph walk) is used for its arrays, never for linear algebra: one BLAS
    # thread spares every command that loads it OpenBLAS's start of a thread pool per core (~50-150 ms)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from warehouse.db import WarehouseError

    try:
        app()
    except WarehouseError as exc:  # a locked, too new or untransformed warehouse: say so, no traceback
        error(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
