"""Every error a bundle can have: one clear line with file:line:column, exit code 2, nothing loaded."""

from __future__ import annotations

import shutil

import pytest

from tests.support.cli import EXAMPLES, dora
from warehouse import db, load, schema
from warehouse.bundle import BundleError

TABLES = tuple(t.name for t in schema.TABLES)


def fingerprint(path) -> dict:
    with db.read(path) as con:
        return {
            t: con.execute(f"select count(*), sum(hash(t::varchar)) from core.{t} as t").fetchone()
            for t in TABLES
        }


def edit(folder, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


CASES = [
    # (file, text to replace, replacement, expected location, words in the message)
    (
        "deployments.csv",
        "deployment_id,service,environment,commit_sha,",
        "deployment_id,service,environment,",
        "deployments.csv:1:commit_sha",
        "missing column",
    ),
    (
        "deployments.csv",
        "D3,checkout,production,a625406",
        "D3,checkout,production,zz25406",
        "deployments.csv:5:commit_sha",
        "malformed sha",
    ),
    (
        "deployments.csv",
        "2026-03-03T10:00:00Z,success",
        "2026-03-03T10:00:00,success",
        "deployments.csv:5:finished_at",
        "with Z or an offset",
    ),
    (
        "deployments.csv",
        "2026-03-03T10:00:00Z,success",
        "2026-03-33T10:00:00Z,success",
        "deployments.csv:5:finished_at",
        "unparseable",
    ),
    (
        "deployments.csv",
        "2026-03-03T10:00:00Z,success",
        "2026-03-03T10:00:00Z,done",
        "deployments.csv:5:status",
        "not one of success, failure",
    ),
    (
        "deployments.csv",
        "D3,checkout,production",
        "D3,,production",
        "deployments.csv:5:service",
        "empty required cell",
    ),
    (
        "deployments.csv",
        "D3,checkout,production",
        "D2,checkout,production",
        "deployments.csv:5:deployment_id",
        "duplicate key (D2) already on line 4",
    ),
    (
        "deployments.csv",
        "D3,checkout,production",
        "D3,billing,production",
        "deployments.csv:5:service",
        "unknown service billing",
    ),
    (
        "incidents.csv",
        "2026-03-04T16:00:00Z,2026-03-04T18:30:00Z",
        "2026-03-04T16:00:00Z,2026-03-04T15:30:00Z",
        "incidents.csv:2:resolved_at",
        "resolved before it was created",
    ),
    # a quoted message spanning three lines pushes the bad row down: physical lines are counted
    (
        "commits.csv",
        "2026-03-03T08:00:00Z,2026-03-03T08:00:00Z,ana",
        "2026-03-03T08:00:00Z,yesterday,ana",
        "commits.csv:8:committed_at",
        "not ISO 8601",
    ),
    (
        "commits.csv",
        "acme/checkout,2f22765d04931a078909145ca628d2264c852d7d,1197955e4",
        "acme/checkout,2f22765d04931a078909145ca628d2264c852d7d,1197955g4",
        "commits.csv:3:parents",
        "malformed sha",
    ),
    (
        "pull_requests.csv",
        "acme/checkout,2,Coupons",
        "acme/checkout,two,Coupons",
        "pull_requests.csv:3:number",
        "not a whole number",
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "where", "words"), CASES, ids=[c[3] + " " + c[4] for c in CASES]
)
def test_bad_bundle_is_refused_with_its_location_and_loads_nothing(
    tmp_path, warehouse, file, old, new, where, words
):
    dora("--warehouse", str(warehouse), "import", str(EXAMPLES / "small"))
    before = fingerprint(warehouse)
    bundle = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "small", bundle)
    # a change elsewhere in the same bundle must not be loaded either
    edit(bundle, "services.csv", "search,acme/search,discovery", "search,acme/search,renamed-team")
    edit(bundle, file, old, new)
    result = dora("--warehouse", str(warehouse), "import", str(bundle), check=False)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert where in message and words in message, message
    assert fingerprint(warehouse) == before


def test_empty_file_is_an_error(tmp_path, warehouse):
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "small", bundle)
    (bundle / "incidents.csv").write_text("")
    result = dora("--warehouse", str(warehouse), "import", str(bundle), check=False)
    assert result.returncode == 2 and "incidents.csv:1" in result.stderr and "empty file" in result.stderr
    assert fingerprint(warehouse)["services"][0] == 0


def test_pipeline_run_status_outside_its_three_is_an_error(tmp_path, warehouse):
    bundle = tmp_path / "b"
    shutil.copytree(EXAMPLES / "small", bundle)
    (bundle / "pipeline_runs.csv").write_text(
        "run_id,service,pipeline,branch,commit_sha,started_at,finished_at,status\n"
        "1,checkout,ci,main,,2026-03-01T00:00:00Z,2026-03-01T00:10:00Z,cancelled\n"
        "2,checkout,ci,main,,2026-03-01T00:00:00Z,2026-03-01T00:10:00Z,skipped\n"
    )
    result = dora("--warehouse", str(warehouse), "import", str(bundle), check=False)
    assert result.returncode == 2 and "pipeline_runs.csv:3:status" in result.stderr


def test_a_service_already_in_the_warehouse_is_known(tmp_path, warehouse):
    dora("--warehouse", str(warehouse), "import", str(EXAMPLES / "small"))
    only_incidents = tmp_path / "inc"
    only_incidents.mkdir()
    shutil.copy(EXAMPLES / "small" / "incidents.csv", only_incidents)
    edit(only_incidents, "incidents.csv", "INC-1,", "INC-9,")
    dora("--warehouse", str(warehouse), "import", str(only_incidents))
    assert fingerprint(warehouse)["incidents"][0] == 5


def test_not_a_bundle(tmp_path, warehouse):
    result = dora("--warehouse", str(warehouse), "import", str(tmp_path), check=False)
    assert result.returncode == 2 and "no bundle files" in result.stderr


def test_a_byte_order_mark_and_crlf_line_ends_are_fine(tmp_path, warehouse):
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "services.csv").write_bytes(
        b"\xef\xbb\xbfservice,repo,team\r\ncheckout,acme/checkout,payments\r\n"
    )
    (bundle / "deployments.csv").write_bytes(
        b"deployment_id,service,environment,commit_sha,started_at,finished_at,status\r\n"
        b"D1,checkout,production,abcdef1,,2026-03-01T00:00:00Z,success\r\n"
        b"D2,checkout,production,abcdef2,,2026-03-02T00:00:00Z,oops\r\n"
    )
    result = dora("--warehouse", str(warehouse), "import", str(bundle), check=False)
    assert result.returncode == 2 and "deployments.csv:3:status" in result.stderr
    (bundle / "deployments.csv").write_bytes(
        (bundle / "deployments.csv").read_bytes().replace(b"oops", b"success")
    )
    dora("--warehouse", str(warehouse), "import", str(bundle))


@pytest.mark.parametrize(
    ("file", "old", "new", "where", "words"), CASES, ids=[c[3] + " " + c[4] for c in CASES]
)
def test_a_bad_bundle_into_an_empty_warehouse_is_refused_the_same_way(
    tmp_path, warehouse, file, old, new, where, words
):
    """Into empty tables a bundle loads in one pass per file, which fails on a bad row without naming it:
    the staged load then names it, and nothing of the files before it stays."""
    bundle = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "small", bundle)
    edit(bundle, file, old, new)
    with db.write(warehouse) as con:
        with pytest.raises(BundleError) as error:
            load.import_bundle(con, bundle)
        assert where in str(error.value) and words in str(error.value), str(error.value)
        assert {
            t: con.execute(f"select count(*) from core.{t}").fetchone()[0] for t in TABLES
        } == dict.fromkeys(TABLES, 0)


def test_a_good_bundle_loads_into_empty_tables_in_one_pass_and_into_full_ones_staged(
    tmp_path, warehouse, monkeypatch
):
    staged = []
    stage = load._stage_csv
    monkeypatch.setattr(
        load, "_stage_csv", lambda con, table, path: staged.append(table.name) or stage(con, table, path)
    )
    with db.write(warehouse) as con:
        first = load.import_bundle(con, EXAMPLES / "small")
        assert staged == [] and first["commits"] > 0
        again = load.import_bundle(con, EXAMPLES / "small")
        assert again == first and staged == [t for t in TABLES if t in first]
        assert con.execute("select count(*) from core.commits").fetchone()[0] == first["commits"]
