"""The weekly report on a lake records the snapshot it was computed on (HTML, Markdown, JSON), and that
snapshot given to `dora metrics --as-of` gives the report's numbers again after another import."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.lake.lakecli import service_bundle
from tests.support.cli import dora
from tests.support.postgres import LakeSpot

WEEK = ("2026-03-22", "2026-03-28")
KEYS = ("deployments", "changes", "failed_deployments", "change_failure_rate", "lead_time_median_hours")


def org_metrics(where: str, *extra: str) -> dict:
    out = dora(
        "--warehouse", where, "metrics", "--from", WEEK[0], "--to", WEEK[1], "--group-by", "org",
        "--format", "json", *extra,
    )  # fmt: skip
    [group] = json.loads(out.stdout)["groups"]
    return {k: group[k] for k in KEYS}


def test_a_reports_snapshot_reproduces_its_numbers_after_another_import(
    lake: LakeSpot, tmp_path: Path
) -> None:
    dora("--warehouse", lake.address, "import", str(service_bundle("alpha", "team-a").write(tmp_path / "a")))
    report = tmp_path / "weekly.json"
    dora(
        "--warehouse",
        lake.address,
        "report",
        "weekly",
        "--to",
        WEEK[1],
        "--format",
        "json",
        "--out",
        str(report),
    )
    document = json.loads(report.read_text())
    assert re.fullmatch(r"snapshot \d+ at .+", document["snapshot"]), document["snapshot"]
    assert document["as_of"] == document["snapshot"].split()[1]
    reported = {k: document["org"][k] for k in KEYS}
    assert reported["deployments"] > 0
    for fmt in ("md", "html"):
        written = tmp_path / f"weekly.{fmt}"
        dora(
            "--warehouse", lake.address, "report", "weekly", "--to", WEEK[1], "--format", fmt,
            "--out", str(written),
        )  # fmt: skip
        text = written.read_text()
        assert document["snapshot"] in text and f"dora metrics --as-of {document['as_of']}" in text

    dora("--warehouse", lake.address, "import", str(service_bundle("beta", "team-b").write(tmp_path / "b")))
    assert org_metrics(lake.address)["deployments"] > reported["deployments"]
    assert org_metrics(lake.address, "--as-of", document["as_of"]) == reported
    # the report's own words name the snapshot as well
    again = dora(
        "--warehouse", lake.address, "metrics", "--from", WEEK[0], "--to", WEEK[1], "--group-by", "org",
        "--format", "json", "--as-of", document["snapshot"],
    )  # fmt: skip
    assert {k: json.loads(again.stdout)["groups"][0][k] for k in KEYS} == reported
    assert f"as of snapshot {document['as_of']} at" in again.stderr


def test_a_file_warehouse_refuses_as_of_in_one_line_and_its_report_names_its_generation(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "file.duckdb")
    dora("--warehouse", path, "import", str(service_bundle("alpha", "team-a").write(tmp_path / "a")))
    refused = dora(
        "--warehouse", path, "metrics", "--from", WEEK[0], "--to", WEEK[1], "--as-of", "3", check=False
    )
    assert refused.returncode == 2 and not refused.stdout
    assert "error:" in refused.stderr and "DuckLake" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    report = tmp_path / "weekly.json"
    dora("--warehouse", path, "report", "weekly", "--to", WEEK[1], "--format", "json", "--out", str(report))
    document = json.loads(report.read_text())
    assert document["snapshot"].startswith("generation ") and document["as_of"] is None
