"""A real PostgreSQL server for the lake tests (and the lake benchmark): the Debian package's initdb/pg_ctl,
run as a non-root user, listening on a unix socket only (no TCP at all), fsync off.

`PostgresServer.start()` makes a fresh cluster in a new temporary folder and starts it; `stop()` stops it
(immediately) and removes the folder. `database()` creates an empty database and returns its libpq
conninfo; `lake_address()` the `ducklake:postgres:...` address of a fresh lake on it.

Authentication: the socket trusts every role except PASSWORD_ROLE, which must give its password
(scram-sha-256) — so a test can check that a lake reads PGPASSWORD and never prints it.

In pytest, the fixtures `postgres_server` (one server per session, always stopped at the end) and `lake`
(a fresh database and a fresh data folder per test, DORA_DATA_PATH set to it) come from
tests/lake/conftest.py, which imports them from here; another test folder imports them the same way.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin",)
SUPERUSER = "postgres"
PASSWORD_ROLE = "dora_secret"
PASSWORD = "s3cret-never-printed"
PORT = 5432  # unix socket only: the port just names the socket file, in a folder of our own


def pg_bin(tool: str) -> str:
    """The path of a PostgreSQL server tool: on the PATH, else under the Debian package's folder."""
    found = shutil.which(tool)
    if found:
        return found
    for folder in PG_BIN_CANDIDATES:
        candidate = Path(folder) / tool
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(f"PostgreSQL's {tool} is not installed (apt-get install postgresql)")


def available() -> bool:
    try:
        pg_bin("initdb")
        pg_bin("pg_ctl")
    except RuntimeError:
        return False
    return True


def _run_as() -> list[str]:
    """The prefix that runs a server tool as a non-root user: initdb and postgres refuse root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", SUPERUSER, "--"]


@dataclass
class LakeSpot:
    """A fresh lake: its address text and its data folder (DORA_DATA_PATH)."""

    address: str
    data_path: Path
    dbname: str
    conninfo: str

    def env(self, **extra: str) -> dict[str, str]:
        """os.environ plus DORA_DATA_PATH: the environment a `dora` child process needs for this lake."""
        return {**os.environ, "DORA_DATA_PATH": str(self.data_path), **extra}


class PostgresServer:
    def __init__(self) -> None:
        self.root: Path | None = None
        self.running = False
        self._names = itertools.count(1)

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "sock"

    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "the server is not started"
        return self.root / "data"

    def start(self) -> PostgresServer:
        self.root = Path(tempfile.mkdtemp(prefix="dora-pg-"))
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            for folder in (self.root, self.socket_dir):
                os.chown(folder, user.pw_uid, user.pw_gid)
        self.socket_dir.chmod(0o755)
        self.root.chmod(0o755)  # the client (this process) reaches the socket inside
        self._tool(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        (self.data_dir / "pg_hba.conf").write_text(
            f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n"
        )
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories={self.socket_dir}",
                f"-c port={PORT}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._pg_ctl("-o", options, "-w", "start")
        self.running = True
        atexit.register(self.stop)  # a session killed before its fixture teardown still stops the server
        self.psql(
            "postgres",
            f"create role {PASSWORD_ROLE} login superuser password '{PASSWORD}'",
        )
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._tool("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        if self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        """Stop the server (ending every session, as an operator's restart does) and start it again on the
        same data with the same options."""
        self._pg_ctl("-m", "fast", "-w", "restart")

    def _pg_ctl(self, *args: str) -> None:
        assert self.root is not None, "the server is not started"
        self._tool("pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"), *args)

    def _tool(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*_run_as(), pg_bin(tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        if done.returncode:
            log = self.root / "server.log" if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def conninfo(self, dbname: str, user: str = SUPERUSER) -> str:
        return f"dbname={dbname} host={self.socket_dir} port={PORT} user={user}"

    def psql(self, dbname: str, sql: str) -> str:
        """Run SQL as the superuser over the socket; returns the unaligned output."""
        done = subprocess.run(
            [
                pg_bin("psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(PORT),
                "-U",
                SUPERUSER,
                "-d",
                dbname,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def database(self, prefix: str = "lake") -> str:
        """Create a fresh, empty database; returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.psql("postgres", f"create database {name}")
        return name

    def lake(self, data_path: Path, user: str = SUPERUSER) -> LakeSpot:
        """A fresh lake: a new database for its catalog and `data_path` (created) for its files."""
        data_path.mkdir(parents=True, exist_ok=True)
        name = self.database()
        conninfo = self.conninfo(name, user)
        return LakeSpot(f"ducklake:postgres:{conninfo}", data_path, name, conninfo)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A started server, stopped (and its folder removed) on the way out, whatever happens inside."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


# pytest fixtures: a conftest imports them (`from tests.support.postgres import lake, postgres_server`).


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def lake(postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LakeSpot:
    """A fresh lake; DORA_DATA_PATH is set to its data folder in this test's environment (os.environ, so
    `dora` child processes inherit it)."""
    spot = postgres_server.lake(tmp_path / "lake-data")
    monkeypatch.setenv("DORA_DATA_PATH", str(spot.data_path))
    return spot


@pytest.fixture
def password_lake(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LakeSpot:
    """A fresh lake whose catalog role must give a password: PGPASSWORD is set in this test's environment
    (os.environ, so child processes inherit it)."""
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    spot = postgres_server.lake(tmp_path / "lake-data", user=PASSWORD_ROLE)
    monkeypatch.setenv("DORA_DATA_PATH", str(spot.data_path))
    return spot
