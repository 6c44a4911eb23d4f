"""`dora sql` through the real command line: limits, notes on stderr, and every refusal one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import dora
from tests.support.warehouses import small_warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(small_warehouse(tmp_path_factory.mktemp("sql") / "w.duckdb"))


def _refused(warehouse: str, *args: str) -> str:
    result = dora("--warehouse", warehouse, "sql", *args, check=False)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    return result.stderr.strip()


@pytest.mark.parametrize(("value", "shown"), [("0", "0"), ("-1", "-1"), ("nan", "nan"), ("inf", "inf")])
def test_a_timeout_must_be_positive(warehouse: str, value: str, shown: str) -> None:
    message = _refused(warehouse, "--timeout", value, "select 1")
    assert message == f"error: --timeout: expected a positive number of seconds, got {shown}"


def test_row_and_byte_limits_must_be_positive(warehouse: str) -> None:
    assert _refused(warehouse, "--max-rows", "0", "select 1") == (
        "error: --max-rows: expected a whole number of at least 1, got 0"
    )
    assert _refused(warehouse, "--max-mb", "-3", "select 1") == (
        "error: --max-mb: expected a whole number of at least 1, got -3"
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("update extensions", "UPDATE EXTENSIONS is not allowed"),
        ("explain analyze create temp table t as select 1", "dora sql is read-only"),
        ("select path from duckdb_databases()", "does not show the server's paths"),
        (
            "select name, value from duckdb_settings() where value like '%/%'",
            "does not show the server's paths",
        ),
        ("select '[/x]'::int", "Could not convert string '[/x]' to INT32"),
    ],
)
def test_refusals_and_errors_are_one_line(warehouse: str, sql: str, message: str) -> None:
    assert message in _refused(warehouse, sql)


def test_the_result_is_cut_with_a_note_on_stderr(warehouse: str) -> None:
    result = dora(
        "--warehouse",
        warehouse,
        "sql",
        "--max-rows",
        "3",
        "--format",
        "csv",
        "select range as n from range(10)",
    )
    assert result.stdout.splitlines() == ["n", "0", "1", "2"]
    assert (
        result.stderr.strip()
        == "result cut at 3 rows (at most 3 rows): --max-rows and --max-mb raise the limits"
    )
    result = dora(
        "--warehouse",
        warehouse,
        "sql",
        "--max-mb",
        "1",
        "--format",
        "json",
        "select repeat('x', 100000) s from range(100)",
    )
    assert result.stdout.count('"s"') == 10  # 10 rows of 100,000 characters in 1 MB (1,048,576 bytes)
    assert result.stderr.strip() == (
        "result cut at 10 rows (at most 1 MB of data): --max-rows and --max-mb raise the limits"
    )


def test_without_options_the_default_limits_apply(warehouse: str) -> None:
    result = dora("--warehouse", warehouse, "sql", "--format", "csv", "select range as n from range(100001)")
    assert len(result.stdout.splitlines()) == 1 + 100_000
    assert "result cut at 100,000 rows (at most 100,000 rows)" in result.stderr


def test_brackets_in_values_are_shown_as_data(warehouse: str) -> None:
    result = dora(
        "--warehouse", warehouse, "sql", "select '[/x]' as \"[b]\", '[red]y' as c, null as d, 1.5 as e"
    )
    assert result.returncode == 0, result.stderr
    assert "[/x]" in result.stdout and "[red]y" in result.stdout and "[b]" in result.stdout
    assert "1.50" in result.stdout and " - " in result.stdout


def test_a_missing_warehouse_is_one_line(tmp_path: Path) -> None:
    assert _refused(str(tmp_path / "typo.duckdb"), "select 1") == (
        f"error: no warehouse at {tmp_path / 'typo.duckdb'}: import or collect some data first"
    )
