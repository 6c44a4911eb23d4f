"""The contract between warehouse/sql/ and the Python that runs it is written down: a SQL file that reads
a temp table says so in its header, and each incremental mart of the transform is declared once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import warehouse
from tests.support.builder import Bundle, at, load_bundle
from warehouse import db, export, sandbox, transform
from warehouse.db import read_sql

SQL = Path(warehouse.__file__).parent / "sql"
FILES = sorted(p.relative_to(SQL).as_posix() for p in SQL.rglob("*.sql"))
READS = re.compile(r"\b(?:from|join|using)\s+(_[a-z]\w*)", re.IGNORECASE)


def _header(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[: next(i for i, line in enumerate(lines) if not line.startswith("--"))]


@pytest.mark.parametrize("relative", FILES)
def test_a_sql_file_names_the_temp_tables_it_reads_in_its_header(relative):
    text = read_sql(relative)
    declared = [line.removeprefix("-- reads temp: ") for line in _header(text) if "reads temp:" in line]
    assert len(declared) <= 1
    named = set(declared[0].split(", ")) if declared else set()
    assert named == set(READS.findall(text))


def test_each_incremental_mart_reads_the_keys_its_affected_sql_selects():
    affected = {p.stem for p in (SQL / "affected").glob("*.sql")}
    keeps = {m.keeps.removeprefix("_") for m in transform.INCREMENTAL if m.keeps}
    assert affected == {m.mart for m in transform.INCREMENTAL} | keeps
    for mart in transform.INCREMENTAL:
        assert mart.affected in READS.findall(read_sql(f"marts/{mart.mart}.sql"))
        assert mart.keeps is None or mart.keeps in READS.findall(read_sql("affected/changes.sql"))
    assert transform.MARTS == (
        "prod_deployments",
        "deployment_reach",
        "commit_changes",
        "deployment_stats",
        "changes",
        "incident_attribution",
        "deployments",
    )


def test_the_walk_state_is_out_of_the_listing_and_the_exports(tmp_path):
    b = Bundle()
    b.chain("c0", "c1", when=at(1))
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(3))
    path = load_bundle(b, tmp_path).path
    listing = sandbox.schema_listing(path)
    assert "walk_state" not in set(listing["schema"]) and "marts" in set(listing["schema"])
    with db.read(path) as con:
        assert con.execute("select count(*) from walk_state.done").fetchone() == (2,)
        relations = export.list_relations(con)
    assert not [r for r in relations if r.startswith("walk_state.") or "walk" in r.split(".")[1]]
    assert "marts.deployment_reach" in relations
