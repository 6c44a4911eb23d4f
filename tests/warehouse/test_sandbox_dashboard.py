"""The dashboard's SQL page on the bounded sandbox: a cut result says so, server details are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builder import linear_bundle_for_config
from tests.support.dashboard import app
from tests.support.warehouses import import_and_transform


def test_the_sql_page_says_where_a_result_was_cut_and_shows_no_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    import_and_transform(warehouse, linear_bundle_for_config().write(tmp_path / "bundle"))
    at = app(warehouse, monkeypatch).run()
    at.switch_page("views/sql.py").run()
    at.text_area(key="sql-query").set_value("select range as n from range(25000)")
    at.button(key="sql-run").click().run()
    assert not at.exception
    assert at.dataframe[-1].value["n"].tolist() == list(range(10_000))
    assert [w.value for w in at.warning] == ["Result cut at 10,000 rows (at most 10,000 rows)."]
    at.text_area(key="sql-query").set_value("select path from duckdb_databases()")
    at.button(key="sql-run").click().run()
    errors = [e.value for e in at.error]
    assert any("does not show the server's paths" in e for e in errors), errors
    assert str(tmp_path) not in " ".join(errors)
