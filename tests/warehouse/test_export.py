import csv
from pathlib import Path

import duckdb
import pytest

from tests.support.warehouses import small_warehouse
from warehouse import db, export
from warehouse.export import ExportError


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = small_warehouse(tmp_path / "w.duckdb", commit_message='fix: a, "quoted"\nsecond line')
    with db.write(path) as con:
        # A mart with the same bare name as a core table shows which schema a bare name picks.
        con.execute(
            "create view marts.services as select service, team from core.services where team is not null"
        )
    return path


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_exports_a_qualified_table_with_header(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "services.csv"
    assert export.export_csv(warehouse, "core.services", out) == 2
    assert _read(out) == [
        ["service", "repo", "team", "paths", "_load_id"],
        ["checkout", "acme/shop", "payments", "[]", "1"],
        ["search", "", "", "[]", "1"],
    ]


def test_bare_name_searches_marts_then_core_then_raw(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    assert export.export_csv(warehouse, "services", out) == 1  # marts.services, the view
    assert _read(out) == [["service", "team"], ["checkout", "payments"]]
    assert export.export_csv(warehouse, "commits", tmp_path / "c.csv") == 1  # only in core
    assert export.export_csv(warehouse, "sync_runs", tmp_path / "r.csv") == 0  # only in raw
    assert _read(tmp_path / "r.csv") == [
        ["source", "scope", "started_at", "finished_at", "rows_loaded", "status"]
    ]


def test_values_that_need_quoting_round_trip(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    export.export_csv(warehouse, "CORE.Commits", out)  # identifiers are case-insensitive
    header, row = _read(out)
    record = dict(zip(header, row, strict=True))
    assert record["message"] == 'fix: a, "quoted"\nsecond line'
    assert record["authored_at"] == "2026-01-02 03:04:05"


def test_takes_an_open_connection(warehouse: Path, tmp_path: Path) -> None:
    with db.read(warehouse) as con:
        assert export.export_csv(con, "core.services", tmp_path / "s.csv") == 2
        assert "core.services" in export.list_relations(con)
        assert con.sql("select count(*) from core.services").fetchall() == [(2,)]  # nothing left unfinished


def test_parquet(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "commits.parquet"
    assert export.export_parquet(warehouse, "core.commits", out) == 1
    assert duckdb.sql(f"select sha, parents from read_parquet('{out}')").fetchall() == [
        ("abc123", ["p1", "p2"])
    ]


def test_list_relations(warehouse: Path) -> None:
    with db.read(warehouse) as con:
        names = export.list_relations(con)
    assert names[0].startswith("marts.")  # search order
    assert {"marts.services", "core.services", "core.commits", "raw.cursors"} <= set(names)
    assert not any(n.startswith("main.") for n in names)  # the warehouse's own bookkeeping is not data


def test_unknown_name_suggests_close_matches(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ExportError, match=r"no table or view named 'core\.servics': did you mean core\.services"
    ):
        export.export_csv(warehouse, "core.servics", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="did you mean core.deployments"):
        export.export_csv(warehouse, "deploymnets", tmp_path / "x.csv")
    with pytest.raises(ExportError, match=r"available: marts\..*core\.services.*raw\.cursors"):
        export.export_csv(warehouse, "zzzz", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "name",
    [
        'core.services"; drop table core.services; --',
        "core.services) to '/tmp/evil.csv' (header); --",
        '"core"."services"',
        "core.services where 1=1",
        "main._doralytics",
        "information_schema.tables",
        "read_text('/etc/passwd')",
        "",
    ],
)
def test_injection_looking_names_are_refused(warehouse: Path, tmp_path: Path, name: str) -> None:
    with pytest.raises(ExportError, match="no table or view named"):
        export.export_csv(warehouse, name, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == [warehouse]
    with db.read(warehouse) as con:
        assert con.execute("select count(*) from core.services").fetchone() == (2,)


def test_unknown_format(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format 'xlsx'"):
        export.export(warehouse, "core.services", tmp_path / "x.xlsx", format="xlsx")  # type: ignore[arg-type]


def test_failed_export_keeps_the_previous_file(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    out.write_text("previous\n")
    # A sandboxed connection cannot write files, so the COPY fails half-way through the export.
    con = duckdb.connect(str(warehouse), read_only=True, config={"enable_external_access": False})
    try:
        with pytest.raises(ExportError, match="cannot export core.services to"):
            export.export_csv(con, "core.services", out)
    finally:
        con.close()
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "w.duckdb"]
