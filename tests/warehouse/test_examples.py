"""The worked examples (tests/fixtures/examples), through the real command line, for every grouping."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import EXAMPLES, differences, dora, load_json


@pytest.mark.parametrize("example", ["small", "generated", "monorepo"])
def test_worked_example_matches_expected_json(example, warehouse):
    folder = EXAMPLES / example
    start, end = (folder / "period.txt").read_text().split()
    dora("--warehouse", str(warehouse), "import", str(folder))
    for group_by in ("service", "team", "org"):
        out = dora(
            "--warehouse",
            str(warehouse),
            "metrics",
            "--from",
            start,
            "--to",
            end,
            "--group-by",
            group_by,
            "--format",
            "json",
        ).stdout
        got = json.loads(out)
        assert (got["from"], got["to"], got["group_by"]) == (start, end, group_by)
        assert differences(load_json(folder / f"expected-{group_by}.json"), got) == []
        # every group with a service appears, sorted by name
        assert [g["group"] for g in got["groups"]] == sorted(g["group"] for g in got["groups"])


def test_counts_are_integers_and_formats_carry_the_same_fields(warehouse):
    folder = EXAMPLES / "small"
    dora("--warehouse", str(warehouse), "import", str(folder))
    args = ("--warehouse", str(warehouse), "metrics", "--from", "2026-03-02", "--to", "2026-03-15")
    group = json.loads(dora(*args, "--format", "json").stdout)["groups"][0]
    assert isinstance(group["deployments"], int) and isinstance(group["deploys_per_day"], float)
    header, first = dora(*args, "--format", "csv").stdout.splitlines()[:2]
    columns = header.split(",")
    assert set(columns) == {k for k in group if k != "tiers"} | {f"tier_{k}" for k in group["tiers"]}
    row = dict(zip(columns, first.split(","), strict=True))
    assert (
        row["group"] == "checkout" and row["deployments"] == "7" and row["tier_change_failure_rate"] == "low"
    )
    table = dora(*args).stdout
    assert "checkout" in table and "57% (4/7) · low" in table and "14.5 h · elite" in table


def test_metrics_rejects_bad_dates_with_exit_code_2(warehouse):
    bad = dora(
        "--warehouse", str(warehouse), "metrics", "--from", "2026-13-01", "--to", "2026-12-31", check=False
    )
    assert bad.returncode == 2 and "--from" in bad.stderr
    backwards = dora(
        "--warehouse", str(warehouse), "metrics", "--from", "2026-03-02", "--to", "2026-03-01", check=False
    )
    assert backwards.returncode == 2 and "after" in backwards.stderr


def _explain(warehouse, metric: str, *group: str) -> list[dict]:
    args = ("--warehouse", str(warehouse), "explain", metric, *group)
    return json.loads(dora(*args, "--from", "2026-03-02", "--to", "2026-03-15", "--format", "json").stdout)


def test_explain_lists_the_rows_behind_a_number(warehouse):
    dora("--warehouse", str(warehouse), "import", str(EXAMPLES / "small"))
    rows = {r["deployment_id"]: r for r in _explain(warehouse, "change_failure_rate", "--group", "checkout")}
    assert set(rows) == {"D3", "D4", "D6", "D9"}
    assert rows["D6"]["failure_signals"] == ["rollback", "revert"]
    assert rows["D4"]["failure_signals"] == ["incident", "hotfix"]
    assert rows["D3"]["incident_ids"] == ["INC-3"]
    lead = _explain(warehouse, "lead_time", "--group", "checkout")
    assert sorted(round(r["lead_time_hours"], 2) for r in lead) == [0.67, 2.0, 2.0, 27.0, 29.0, 72.0]
    unattributed = _explain(warehouse, "unattributed_incidents")
    assert [r["incident_id"] for r in unattributed] == ["INC-4"]


def test_reading_a_warehouse_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "typo.duckdb"
    result = dora(
        "--warehouse", str(missing), "metrics", "--from", "2026-01-01", "--to", "2026-01-31", check=False
    )
    assert result.returncode == 2 and "no warehouse at" in result.stderr and not missing.exists()


def test_a_warehouse_never_transformed_says_what_to_do(warehouse):
    from warehouse import db

    with db.write(warehouse):
        pass
    for command in ("metrics", "explain lead_time"):
        result = dora(
            "--warehouse",
            str(warehouse),
            *command.split(),
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            check=False,
        )
        assert result.returncode == 2 and "run `dora transform`" in result.stderr
        assert "Traceback" not in result.stderr
