"""`dora export`, `dora schedule`'s ledger and the dashboard on a lake."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from dashboard import format as fmt
from dashboard import queries
from doralytics.cli import report as report_cli
from doralytics.cli.common import state
from tests.lake.lakecli import metrics, numbers, service_bundle
from tests.support.cli import dora
from tests.support.dashboard import app, texts
from tests.support.postgres import LakeSpot
from warehouse import address, db, lake

DEPLOYMENTS = 20  # per service bundle (tests/lake/lakecli.py)


@pytest.fixture
def two_services(lake: LakeSpot, tmp_path: Path) -> LakeSpot:
    for name, team in (("alpha", "team-a"), ("beta", "team-b")):
        dora("--warehouse", lake.address, "import", str(service_bundle(name, team).write(tmp_path / name)))
    return lake


def test_export_bundle_from_a_lake_imports_into_a_file_with_the_same_metrics(
    two_services: LakeSpot, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    dora("--warehouse", two_services.address, "export", "bundle", str(bundle))
    path = str(tmp_path / "copy.duckdb")
    dora("--warehouse", path, "import", str(bundle))
    assert numbers(metrics(path)) == numbers(metrics(two_services.address))
    assert numbers(metrics(path, group_by="team")) == numbers(metrics(two_services.address, group_by="team"))

    out = tmp_path / "deployments.csv"
    done = dora("--warehouse", two_services.address, "export", "csv", "marts.deployments", "--out", str(out))
    with db.read(two_services.address) as con:
        [(rows,)] = con.execute("select count(*) from marts.deployments").fetchall()
    with out.open() as f:
        assert len(list(csv.DictReader(f))) == rows > 0
    assert f"wrote {rows} rows" in done.stderr
    parquet = tmp_path / "m.parquet"
    dora(
        "--warehouse", two_services.address, "export", "metrics", "--from", "2026-03-01",
        "--to", "2026-03-31", "--format", "parquet", "--out", str(parquet),
    )  # fmt: skip
    with db.read(path) as con:
        assert con.execute(f"select count(*) from '{parquet}'").fetchall() == [(2,)]


def test_the_schedule_ledger_of_a_lake_is_on_this_machine(
    lake: LakeSpot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = address.parse(lake.address)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(state, "config", dataclasses.replace(state.config, path=None))
    assert report_cli.ledger_path(where) == tmp_path / f"ducklake-{lake.dbname}.schedule.json"
    config = tmp_path / "conf" / "dora.toml"
    monkeypatch.setattr(state, "config", dataclasses.replace(state.config, path=config))
    assert report_cli.ledger_path(where) == config.parent / f"ducklake-{lake.dbname}.schedule.json"
    assert not str(report_cli.ledger_path(where)).startswith(str(lake.data_path))
    file = address.FileAddress(tmp_path / "w.duckdb")
    assert report_cli.ledger_path(file) == tmp_path / "w.duckdb.schedule.json"


def test_the_dashboard_reads_a_lake_and_names_its_snapshot(
    two_services: LakeSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.read(two_services.address) as con:
        [(last,)] = con.execute("select cast(max(finished_at) as date) from marts.deployments").fetchall()
    start, end = last - dt.timedelta(days=89), last
    expected = {g["group"]: g for g in metrics(two_services.address, period=(str(start), str(end)))["groups"]}
    at = app(two_services.address, monkeypatch, {"service": ["alpha"]}).run()  # type: ignore[arg-type]
    assert not at.exception, [e.message for e in at.exception]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Deployment frequency"] == fmt.frequency(expected["alpha"]["deploys_per_day"])
    assert tiles["Change failure rate"] == fmt.percent(expected["alpha"]["change_failure_rate"], 1)
    assert "No deployments" not in texts(at)
    sidebar = " ".join(str(c.value) for c in at.sidebar.caption)
    assert f"DuckLake {two_services.dbname}" in sidebar and "snapshot " in sidebar, sidebar
    # the SQL page's query runs in the sandbox on the lake
    frame = queries.run_sql(
        two_services.address, "select service, count(*) as n from core.deployments group by 1 order by 1", 10
    )
    assert frame.to_dict("list") == {"service": ["alpha", "beta"], "n": [DEPLOYMENTS, DEPLOYMENTS]}
    lake.forget_readers()


def test_dora_dashboard_hands_the_lake_to_streamlit(lake: LakeSpot, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `dora dashboard` puts in the environment of the Streamlit process for a lake."""
    from doralytics.cli import serve

    monkeypatch.setattr(state, "warehouse", lake.address)
    shown, env = serve._warehouse_env()
    assert shown == lake.address
    assert env["DORA_WAREHOUSE"] == lake.address
    assert Path(env["DORA_DATA_PATH"]) == lake.data_path
