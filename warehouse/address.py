"""Where the warehouse is: an embedded DuckDB file, or a DuckLake whose catalog is in PostgreSQL.

`--warehouse PATH` names a DuckDB file (the default, `dora.duckdb`). `--warehouse ducklake:postgres:<libpq
conninfo>` (e.g. `ducklake:postgres:dbname=dora host=/var/run/postgresql user=dora`) names a DuckLake: its
catalog in that PostgreSQL database, its data files (Parquet) under the data path, given by
`[warehouse] data_path` in dora.toml or DORA_DATA_PATH. The password never goes in the address: libpq reads
it from PGPASSWORD, a service file (PGSERVICEFILE) or ~/.pgpass.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PATH = "dora.duckdb"
LAKE_PREFIX = "ducklake:"
CATALOG_PREFIX = "postgres:"
DATA_PATH_ENV = "DORA_DATA_PATH"
# A libpq conninfo: key = value pairs, a value bare or in single quotes (with \' and \\ escapes).
_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)\s*")


class WarehouseError(Exception):
    """A problem with the warehouse the user can act on (locked, too new, missing, a bad address)."""


@dataclass(frozen=True)
class FileAddress:
    """An embedded DuckDB file."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class LakeAddress:
    """A DuckLake: `catalog` is the libpq conninfo of its PostgreSQL catalog (never a password), `data_path`
    the folder (or object-store URL) its data files go to."""

    catalog: str
    data_path: str

    def __str__(self) -> str:
        return f"{LAKE_PREFIX}{CATALOG_PREFIX}{self.catalog}"

    @property
    def attach_target(self) -> str:
        """What DuckDB's ATTACH takes: `ducklake:postgres:<conninfo>`."""
        return str(self)


Address = FileAddress | LakeAddress


def parse(text: str | os.PathLike[str] | Address | None, data_path: str | None = None) -> Address:
    """The warehouse `text` names: None means $DORA_WAREHOUSE, else ./dora.duckdb. A lake's data path is
    `data_path` (dora.toml's), else $DORA_DATA_PATH. Raises WarehouseError for a bad lake address; the
    message never repeats a password."""
    if isinstance(text, FileAddress):
        return text
    if isinstance(text, LakeAddress):
        if data_path and data_path != text.data_path:
            return LakeAddress(text.catalog, _data_path(data_path))
        return text
    if text is None or str(text) == "":
        text = os.environ.get("DORA_WAREHOUSE") or DEFAULT_PATH
    raw = os.fspath(text)
    if not raw.startswith(LAKE_PREFIX):
        return FileAddress(Path(raw))
    rest = raw[len(LAKE_PREFIX) :]
    if not rest.startswith(CATALOG_PREFIX):
        kind = rest.split(":", 1)[0] if ":" in rest else rest
        raise WarehouseError(
            f"the warehouse address ducklake:{_safe_kind(kind)}:... names a catalog type Doralytics does not "
            "support: use ducklake:postgres:<conninfo> (e.g. ducklake:postgres:dbname=dora host=localhost)"
        )
    conninfo = rest[len(CATALOG_PREFIX) :].strip()
    check_conninfo(conninfo)
    chosen = data_path or os.environ.get(DATA_PATH_ENV)
    if not chosen:
        raise WarehouseError(
            f"the DuckLake warehouse {LAKE_PREFIX}{CATALOG_PREFIX}{conninfo} needs a data path for its "
            f"files: set [warehouse] data_path in dora.toml or {DATA_PATH_ENV}"
        )
    return LakeAddress(conninfo, _data_path(chosen))


def check_conninfo(conninfo: str) -> None:
    """Refuse a conninfo that is empty, malformed or holds a password (never echoing it)."""
    if not conninfo:
        raise WarehouseError(
            "the warehouse address ducklake:postgres: names no database: "
            "give a libpq conninfo, e.g. ducklake:postgres:dbname=dora host=localhost user=dora"
        )
    if conninfo.startswith(("postgres://", "postgresql://")):
        try:
            has_password = urlsplit(conninfo).password is not None or "password=" in conninfo
        except ValueError:
            has_password = True
        if has_password:
            raise _password_error()
        return
    keys = []
    position = 0
    while position < len(conninfo):
        found = _PAIR.match(conninfo, position)
        if not found or found.end() == position:
            if re.search(r"password\s*=", conninfo, re.IGNORECASE):
                raise _password_error()
            raise WarehouseError(
                "the warehouse address ducklake:postgres:... is not a libpq conninfo (key=value pairs "
                "separated by spaces, e.g. dbname=dora host=localhost port=5432 user=dora)"
            )
        keys.append(found.group(1).lower())
        position = found.end()
    if "password" in keys:
        raise _password_error()


def _password_error() -> WarehouseError:
    return WarehouseError(
        "the warehouse address holds a password: remove it from the address (and from dora.toml or the "
        "command line); give it in PGPASSWORD, a service file (PGSERVICEFILE) or ~/.pgpass"
    )


def _safe_kind(kind: str) -> str:
    return kind if re.fullmatch(r"[A-Za-z0-9_]{1,20}", kind) else "<unknown>"


def _data_path(chosen: str) -> str:
    """A local data path as an absolute folder (children and other hosts' processes share it); a URL
    (s3://, gs://, ...) as given."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", chosen):
        return chosen if chosen.endswith("/") else chosen + "/"
    return str(Path(chosen).expanduser().absolute()) + os.sep


def environment(address: Address) -> dict[str, str]:
    """What a child process needs in its environment to open the same warehouse: DORA_WAREHOUSE (the
    address text, never a secret) and, for a lake, DORA_DATA_PATH."""
    if isinstance(address, FileAddress):
        return {"DORA_WAREHOUSE": str(address.path.absolute())}  # children may run in another folder
    return {"DORA_WAREHOUSE": str(address), DATA_PATH_ENV: address.data_path}
