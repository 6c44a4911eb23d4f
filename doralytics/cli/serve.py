"""`dora dashboard`: the Streamlit dashboard as a supervised child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from doralytics.cli.common import (
    app,
    fail,
    note,
    state,
)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(port: int, host: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8501,
    host: Annotated[
        str, typer.Option(help="address to bind; 0.0.0.0 exposes the dashboard to your network")
    ] = "127.0.0.1",
) -> None:
    """Open the engineering-manager dashboard on the warehouse (Streamlit, in your browser).

    It reads the warehouse read-only and shows new data after each sync, without a restart.

    Example: dora --warehouse dora.duckdb dashboard --port 8501
    """
    from warehouse import db

    path = db.resolve_path(state.warehouse).resolve()
    if not path.parent.exists():
        fail(f"no folder for the warehouse {path}")
    env = dict(os.environ, DORA_WAREHOUSE=str(path))
    if state.config.path is not None:
        env["DORA_CONFIG"] = str(Path(state.config.path).resolve())
    note(f"Doralytics dashboard on http://{host}:{port} (warehouse {path}); Ctrl-C to stop")
    try:
        code = subprocess.call(streamlit_command(port, host), env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
