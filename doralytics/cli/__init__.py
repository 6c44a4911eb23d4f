"""The `dora` command: wires collectors, warehouse, dashboard and reports together.

Each command group registers itself on `common.app` when imported; importing them here builds the command.
"""

from __future__ import annotations

import sys

from doralytics.cli import collect, collect_apis, data, export, query, report, serve, warehouse_cmd  # noqa: F401
from doralytics.cli.common import app, error


def main() -> None:
    from warehouse.db import WarehouseError

    try:
        app()
    except WarehouseError as exc:  # a locked, too new or untransformed warehouse: say so, no traceback
        error(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
