"""The worked examples (tests/fixtures/examples) on the lake: the expected JSON, as on the file, through the
real command line."""

from __future__ import annotations

import pytest

from tests.lake.lakecli import metrics
from tests.support.cli import EXAMPLES, differences, dora, load_json
from tests.support.postgres import LakeSpot
from tests.support.warehouses import import_and_transform


@pytest.mark.parametrize("example", ["small", "generated", "monorepo"])
def test_worked_example_matches_expected_json_on_the_lake(example: str, lake: LakeSpot, tmp_path) -> None:
    folder = EXAMPLES / example
    start, end = (folder / "period.txt").read_text().split()
    file = tmp_path / "w.duckdb"
    dora("--warehouse", lake.address, "import", str(folder))
    import_and_transform(file, folder)
    assert not list(tmp_path.glob("lake-data/*.duckdb")), "the lake wrote a DuckDB file"
    assert list(lake.data_path.rglob("*.parquet")), "the lake's rows are not in its data folder"
    for group_by in ("service", "team", "org"):
        got = metrics(lake.address, group_by=group_by, period=(start, end))
        assert (got["from"], got["to"], got["group_by"]) == (start, end, group_by)
        assert differences(load_json(folder / f"expected-{group_by}.json"), got) == []
        if group_by == "service":  # every field, not only the expected ones, as on the file
            assert got["groups"] == metrics(str(file), group_by=group_by, period=(start, end))["groups"]
