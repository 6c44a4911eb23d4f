"""The loader's guards (warehouse/load.py `Check.guard`) skip a check's full work for the cells it cannot
find wrong: over cells chosen to sit on every edge of the bundle format, each guarded check must give
exactly the message of the same check run on every cell."""

from __future__ import annotations

import duckdb
import pytest

from warehouse import load
from warehouse.db import read_sql
from warehouse.schema import LIST_KINDS

TIMESTAMPS = [
    "2024-01-01T00:00:00Z",
    " 2024-01-01T00:00:00Z ",
    "2024-01-01t00:00:00z",
    "2024-01-01 00:00Z",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01T00:00:00,5Z",
    "2024-01-01T00:00:00 Z",
    "2024-01-01T00:00:00+02:00",
    "2024-01-01T00:00:00-0330",
    "2024-01-01T00:00:00+14:00",
    "2024-01-01T00:00:00+14:01",
    "2024-01-01T00:00:00+02:60",
    "2024-01-01T00:00:00",
    "2024-01-01",
    "2024-02-30T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-13-01T00:00:00Z",
    "yesterday",
    "infinity",
    "",
    "   ",
    None,
]
SHAS = [
    "abcdef1",
    "ABCDEF1",
    " abcdef1 ",
    "abcdef",
    "ghijklm",
    "a" * 64,
    "a" * 65,
    "abcdef1 abcdef2",
    "",
    None,
]
SHA_LISTS = [
    "",
    None,
    "   ",
    "abcdef1",
    " ABCDEF1  abcdef2 ",
    "abcdef1\tabcdef2",
    "abcdef1,abcdef2",
    "abc",
    "abcdef1 xyz",
    "a" * 65,
]
INTS = ["1", " 2 ", "-3", "1.5", "1e3", "x", "99999999999999999999", "", None]
STATUSES = ["success", "SUCCESS", " failure ", "cancelled", "ok", "", None]
PATHS = [
    "a/b.py",
    ".hidden/x",
    "a/..b",
    "a/b.",
    "/a",
    " /a",
    "a//b",
    "a/",
    ".",
    "..",
    "a/./b",
    "a/../b",
    "./a",
    "a/.",
    "",
    " ",
    None,
]
CELLS = {
    "ts": TIMESTAMPS,
    "sha": SHAS,
    "shas": SHA_LISTS,
    "int": INTS,
    "status": STATUSES,
    "run_status": STATUSES,
    "text": ["x", " x ", "", " ", None],
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(read_sql("load/macros.sql"))
    con.execute("create temp table _known_services as select 'api' as service")
    return con


def messages(con: duckdb.DuckDBPyConnection, kind: str, check: load.Check, cells: list) -> list[tuple]:
    """(cell, the guarded check's message, the unguarded check's message) for each cell."""
    typed = load.KINDS[kind].typed.replace("{x}", "x")
    con.execute("create or replace temp table cells (x varchar)")
    con.executemany("insert into cells values (?)", [[c] for c in cells])
    guarded, everywhere = check.sql("x"), load.Check(check.message).sql("x")
    return con.execute(
        f'select x, {guarded}, {everywhere} from (select x, {typed} as "typed x" from cells)'
    ).fetchall()


@pytest.mark.parametrize("kind", sorted(k for k, v in load.KINDS.items() if v.check and v.check.guard))
def test_a_guarded_kind_check_finds_what_the_check_finds(con, kind):
    check = load.KINDS[kind].check
    assert check is not None
    rows = messages(con, kind, check, CELLS[kind])
    assert [(cell, everywhere) for cell, _, everywhere in rows] == [(c, g) for c, g, _ in rows]
    assert any(message for _, message, _ in rows), "the cells hold bad ones"
    assert any(message is None for _, message, _ in rows), "the cells hold good ones"


@pytest.mark.parametrize("kind", sorted(k for k in load.KINDS if k not in ("raw", *LIST_KINDS)))
def test_the_required_cell_guard_finds_every_empty_cell(con, kind):
    cells = CELLS.get(kind, CELLS["text"])
    rows = messages(con, kind, load.Check(load.EMPTY, "{t} is null"), cells)
    assert [(c, e) for c, _, e in rows] == [(c, g) for c, g, _ in rows]
    assert {c for c, g, _ in rows if g} == {c for c in cells if c is None or not c.strip()}


def test_the_path_guard_finds_every_bad_path(con):
    rows = messages(con, "raw", load.COLUMN_CHECKS[("commit_files", "path")], PATHS)
    assert [(c, e) for c, _, e in rows] == [(c, g) for c, g, _ in rows]
    assert {c for c, g, _ in rows if g} == {"/a", "a//b", "a/", ".", "..", "a/./b", "a/../b", "./a", "a/."}


def test_the_service_check_names_only_unknown_services(con):
    rows = messages(con, "text", load.KNOWN_SERVICE, ["api", " api ", "web", "", None])
    assert [(c, e) for c, _, e in rows] == [(c, g) for c, g, _ in rows]
    assert {c for c, g, _ in rows if g} == {"web"}


def test_a_timestamp_cast_straight_from_its_z_gives_the_time_of_the_full_cast(con):
    """The "ts" kind casts a cell ending in Z as a timestamp directly, the others through timestamptz: on
    every cell the check accepts, that is the time the cast through timestamptz gives."""
    cells = [
        *TIMESTAMPS,
        "  2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.1234565Z",
        "2024-01-01 00:00:00.5 Z",
        "2024-01-01 00:00:00.5Z",
        "2024-01-01T00:00:00 BCZ",
        "-2024-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "2024-01-01T00:00:00+02:00Z",
    ]
    typed = load.KINDS["ts"].typed.replace("{x}", "x")
    full = "cast(try_cast(cell(x) as timestamptz) as timestamp)"
    con.execute("create or replace temp table cells (x varchar)")
    con.executemany("insert into cells values (?)", [[c] for c in cells])
    rows = con.execute(f"select x, {typed}, {full} from cells where ts_problem(x) is null").fetchall()
    accepted = {x for x, _, _ in rows}
    assert accepted >= {"2024-01-01T00:00:00Z", "  2024-01-01T00:00:00Z", "2024-01-01 00:00:00.5Z"}
    assert [(x, t) for x, t, _ in rows] == [(x, f) for x, _, f in rows]
    assert all(t is not None for x, t, _ in rows if x is not None and x.strip())
