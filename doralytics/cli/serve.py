"""`dora dashboard`: the Streamlit dashboard as a supervised child process, signed in when shared."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from doralytics.cli.common import (
    app,
    fail,
    note,
    state,
    warehouse_address,
)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(port: int, host: str, secrets_file: Path | None = None) -> list[str]:
    command = [
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
        # Identity comes from the sign-in cookie only: no header maps into st.user, no agent API drives the
        # app around the gate, whatever a config.toml of the machine says.
        "--server.enableAgentApi",
        "false",
        "--server.trustedUserHeaders",
        "{}",
    ]
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    return command


def _sign_in_mode(host: str, no_auth: bool, folder: Path) -> tuple[str, Path]:
    """Which visitors the dashboard lets in, and the secrets file Streamlit reads (written in `folder`)."""
    from dashboard import settings, signin
    from warehouse.settings import ConfigError

    try:
        sign_in = signin.resolve(settings.dashboard_section(state.config).auth)
    except ConfigError as exc:
        fail(escape(f"{state.config.path or 'dora.toml'}: {exc}"))
    secrets = folder / "secrets.toml"
    if sign_in is not None:
        if no_auth:
            fail("--no-auth, yet sign-in is configured: drop --no-auth, or the sign-in configuration")
        if importlib.util.find_spec("authlib") is None:
            fail("sign-in needs Authlib: pip install 'Authlib>=1.9,<2'")
        signin.write_secrets(sign_in, folder)
        sources = ", ".join(f"{k} from {v}" for k, v in sorted(sign_in.sources.items()) if "secret" in k)
        note(
            escape(
                f"sign-in: {sign_in.auth['server_metadata_url']}, back to {sign_in.redirect_uri} ({sources})"
            )
        )
        return signin.Mode.oidc, secrets
    secrets.touch(mode=0o600)  # empty: Streamlit reads no other secrets file
    if no_auth:
        note(
            "[yellow]warning:[/yellow] --no-auth: no sign-in; anyone who reaches "
            f"{host} sees the data and may run SQL (the page says so)"
        )
        return signin.Mode.open, secrets
    if signin.is_loopback(host):
        return signin.Mode.local, secrets
    fail(
        escape(
            f"refusing to serve {host} without sign-in: anyone who reaches the port would read the data and "
            f"run SQL. To sign people in, {signin.HOW}. To serve it without sign-in anyway (behind your own "
            "authenticating proxy), add --no-auth."
        )
    )


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="port to serve on")] = 8501,
    host: Annotated[
        str,
        typer.Option(help="address to bind; anything but loopback (127.0.0.1) needs sign-in or --no-auth"),
    ] = "127.0.0.1",
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="serve beyond this machine without sign-in (a banner says so)")
    ] = False,
) -> None:
    """Open the engineering-manager dashboard on the warehouse (Streamlit, in your browser).

    It reads the warehouse read-only and shows new data after each sync, without a restart. Bound to
    anything but loopback it signs people in ([dashboard.auth] in dora.toml) or refuses to start. SIGTERM,
    SIGHUP or Ctrl-C stop Streamlit with it.

    Example: dora --warehouse dora.duckdb dashboard --port 8501
    """
    from dashboard import signin

    where, shared = _warehouse_env()
    folder = signin.private_folder()
    try:
        mode, secrets = _sign_in_mode(host, no_auth, folder)
        env = dict(os.environ, **shared)
        env[signin.MODE_ENV] = mode
        for name in (signin.CLIENT_SECRET_ENV, signin.COOKIE_SECRET_ENV):
            env.pop(name, None)  # Streamlit reads them from the private file; the app has no use for them
        if state.config.path is not None:
            env["DORA_CONFIG"] = str(Path(state.config.path).resolve())
        note(escape(f"Doralytics dashboard on http://{host}:{port} (warehouse {where}); Ctrl-C to stop"))
        code = _supervise(streamlit_command(port, host, secrets), env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raise typer.Exit(code)


def _warehouse_env() -> tuple[str, dict[str, str]]:
    """The warehouse as the dashboard's process gets it: DORA_WAREHOUSE, a file's absolute path or a lake's
    address text, with the lake's data path in DORA_DATA_PATH; and how the note names it."""
    from warehouse import address

    where = warehouse_address()
    if isinstance(where, address.FileAddress):
        path = where.path.resolve()
        if not path.parent.exists():
            fail(escape(f"no folder for the warehouse {path}"))
        where = address.FileAddress(path)
    return str(where), address.environment(where)


def _supervise(command: list[str], env: dict[str, str]) -> int:
    """Run Streamlit until it exits or a stop signal comes; then nothing of it is left running."""
    from doralytics.cli import supervise

    children = supervise.Children()
    received: list[signal.Signals] = []

    def on_stop(sig: signal.Signals) -> None:
        received.append(sig)
        children.ask_to_stop()

    with supervise.stop_signals(on_stop):
        try:
            proc = children.popen(command, env=env)
        except supervise.Stopping:
            code = 0
        else:
            code = proc.wait()
        children.finish()
    if received:
        note(f"dashboard stopped on {received[0].name} (Streamlit exited with {code})")
        return 0
    note(f"dashboard stopped: Streamlit exited with {code}")
    return code
