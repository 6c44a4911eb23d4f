"""`dora dashboard` and `dora schedule` under a service manager: SIGTERM, SIGHUP and SIGINT to the dora
process (and only to it) stop everything it started, free the port, log the stop, and a job cut short
runs again on the next start. The real commands, the real Streamlit, a real collector held mid-run by a
local server that does not answer."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.browser import free_port
from tests.support.reports import demo_warehouse

DORA = [sys.executable, "-m", "doralytics"]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process under `pid` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)] = found[1]
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - out
        out |= frontier
    return out


def port_free(port: int) -> bool:
    """Nothing listens on it: a server could bind it now (SO_REUSEADDR, as Streamlit's does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextlib.contextmanager
def started(args: list[str], log: Path, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """The command in its own session (as a service manager starts it); whatever is left is killed after."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*DORA, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        yield proc
    finally:
        for pid in descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_to_dora_dashboard_stops_streamlit_and_frees_the_port(warehouse, tmp_path, sig):
    port = free_port()
    log = tmp_path / "dashboard.log"
    with started(["--warehouse", str(warehouse), "dashboard", "--port", str(port)], log) as proc:
        wait_for(lambda: healthy(port), 90, "the dashboard")
        children = descendants(proc.pid)
        assert children, "Streamlit runs as a child of dora dashboard"
        os.kill(proc.pid, sig)  # the dora process only, as `systemctl stop` or `kill` does
        assert proc.wait(timeout=20) == 0
        assert not [pid for pid in children if alive(pid)]
        assert port_free(port)
    assert f"dashboard stopped on {sig.name}" in log.read_text()
    if sig != signal.SIGTERM:
        return
    # and it starts again on the same port at once (before: "Port 8611 is not available")
    with started(["--warehouse", str(warehouse), "dashboard", "--port", str(port)], log) as again:
        wait_for(lambda: healthy(port), 90, "the restarted dashboard")
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=20) == 0
    assert port_free(port)


def test_a_killed_dora_dashboard_takes_streamlit_with_it(warehouse, tmp_path):
    port = free_port()
    with started(["--warehouse", str(warehouse), "dashboard", "--port", str(port)], tmp_path / "log") as proc:
        wait_for(lambda: healthy(port), 90, "the dashboard")
        children = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: the kernel tells Streamlit
        proc.wait()
        wait_for(lambda: not [pid for pid in children if alive(pid)], 20, "Streamlit to go")
        wait_for(lambda: port_free(port), 10, "the port")


class Stalling:
    """A GitHub API that takes every request and answers none until released (then 500s, fast)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                owner.requests += 1
                owner.release.wait(120)
                body = b'{"message": "unavailable"}'
                with contextlib.suppress(OSError):
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stalling() -> Iterator[Stalling]:
    api = Stalling()
    yield api
    api.close()


def schedule_config(path: Path, api: str, out: Path, cron: str) -> Path:
    path.write_text(
        f'[github]\napi_url = "{api}"\nrepos = ["acme/checkout"]\nretries = 1\nbackoff = 0.01\n\n'
        f'[[schedule]]\nname = "hourly"\ncron = "{cron}"\nformat = "md"\ncollect = ["github"]\n'
        f'out_dir = "{out}"\n'
    )
    return path


def copy_warehouse(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "w.duckdb"
    target.write_bytes(source.read_bytes())
    return target


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_mid_job_stops_the_collector_and_the_job_resumes_on_the_next_start(
    warehouse, tmp_path, stalling, sig
):
    wh = copy_warehouse(warehouse, tmp_path)
    out = tmp_path / "out"
    config = schedule_config(tmp_path / "dora.toml", stalling.url, out, "*/2 * * * * *")
    env = dict(os.environ, GITHUB_TOKEN="test-token")
    log = tmp_path / "schedule.log"
    args = ["--config", str(config), "--warehouse", str(wh), "schedule"]
    with started(args, log, env) as proc:
        wait_for(lambda: stalling.requests > 0, 60, "the collector to call the API")
        tree = descendants(proc.pid)
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ") for pid in tree}
        assert any(b"--run-job hourly" in c for c in commands.values()), commands
        assert any(b" collect github" in c for c in commands.values()), commands
        ledger = json.loads(Path(f"{wh}.schedule.json").read_text())
        assert list(ledger["running"]) == ["hourly"]
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=30) == 0
        assert not [pid for pid in tree if alive(pid)], "a job or collector outlived dora schedule"
    text = log.read_text()
    assert f"stopping on {sig.name}: job hourly running, stopping it" in text
    assert f"job hourly: interrupted by {sig.name}; runs again at the next start" in text
    assert text.rstrip().endswith("stopped")
    assert not out.exists()  # the cut-short run wrote no report
    assert list(json.loads(Path(f"{wh}.schedule.json").read_text())["running"]) == ["hourly"]

    # the next start runs it at once, though its cron is months away
    stalling.release.set()
    schedule_config(config, stalling.url, out, "0 3 1 1 *")
    with started([*args, "--max-runs", "1"], log, env) as proc:
        assert proc.wait(timeout=90) == 0
    text = log.read_text()
    assert "job hourly: its run of " in text and "was interrupted; running it again now" in text
    assert "job hourly: collect github failed" in text  # the API answers 500 now: logged, not fatal
    [report] = list(out.iterdir())
    assert f"job hourly: finished, report at {report}" in text
    assert json.loads(Path(f"{wh}.schedule.json").read_text())["running"] == {}


def test_an_idle_stop_is_logged(warehouse, tmp_path, stalling):
    config = schedule_config(tmp_path / "dora.toml", stalling.url, tmp_path / "out", "0 3 1 1 *")
    log = tmp_path / "schedule.log"
    args = ["--config", str(config), "--warehouse", str(copy_warehouse(warehouse, tmp_path)), "schedule"]
    with started(args, log) as proc:
        wait_for(lambda: "next run" in log.read_text(), 60, "the scheduler to start")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    text = log.read_text()
    assert "stopping on SIGTERM: idle, no job running" in text and text.rstrip().endswith("stopped")
    assert stalling.requests == 0


def test_a_killed_scheduler_leaves_no_collector_writing(warehouse, tmp_path, stalling):
    wh = copy_warehouse(warehouse, tmp_path)
    config = schedule_config(tmp_path / "dora.toml", stalling.url, tmp_path / "out", "*/2 * * * * *")
    env = dict(os.environ, GITHUB_TOKEN="test-token")
    args = ["--config", str(config), "--warehouse", str(wh), "schedule"]
    with started(args, tmp_path / "schedule.log", env) as proc:
        wait_for(lambda: stalling.requests > 0, 60, "the collector to call the API")
        tree = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # no handler runs: the job notices its parent is gone
        proc.wait()
        wait_for(lambda: not [pid for pid in tree if alive(pid)], 15, "the job and its collector to stop")
    assert list(json.loads(Path(f"{wh}.schedule.json").read_text())["running"]) == ["hourly"]
