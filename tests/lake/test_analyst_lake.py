"""The analyst's SQLAlchemy engine (notebooks, pandas.read_sql) on a lake: the same declared tables read the
lake's rows, behind the same fences as `dora sql`."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.support.cli import EXAMPLES
from tests.support.postgres import LakeSpot
from warehouse import load, transform
from warehouse.address import parse
from warehouse.analyst import core_deployments, engine
from warehouse.metric_settings import MetricsSettings


def test_engine_reads_a_lake_read_only(lake: LakeSpot) -> None:
    where = parse(lake.address, str(lake.data_path))
    load.import_into(where, EXAMPLES / "small", then=lambda con: transform.run(con, MetricsSettings()))
    expected = sum(1 for _ in (EXAMPLES / "small" / "deployments.csv").open()) - 1
    eng = engine(lake.address)
    frame = pd.read_sql(sa.select(core_deployments), eng)
    assert len(frame) == expected
    failed = pd.read_sql(sa.select(core_deployments).where(core_deployments.c.status == "failure"), eng)
    assert 0 < len(failed) < expected
    with eng.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.text("delete from core.deployments"))
