"""The read-only analyst connection for notebooks and `pandas.read_sql`, and the core tables declared.

    from sqlalchemy import select
    from warehouse.analyst import engine, core_deployments
    pd.read_sql(select(core_deployments).where(core_deployments.c.status == "failure"), engine("dora.duckdb"))

The tables are declared, not reflected (duckdb-engine's reflection is broken), from the one declaration of
warehouse/schema.py; a test compares it with information_schema, so they cannot drift from the migrations.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from sqlalchemy.pool import NullPool

from warehouse import address, sandbox, schema


def engine(path: str | os.PathLike | None = None) -> sa.Engine:
    """A SQLAlchemy engine on the warehouse (a file or a lake) with the `dora sql` fences: read-only, no
    files, locked config."""
    where = address.parse(path)
    # A lake is attached inside an in-memory DuckDB (sandbox.connect does it); a file is the database itself.
    database = str(where.path) if isinstance(where, address.FileAddress) else ":memory:"
    # connect_args say what the connection is; do_connect below builds it through sandbox.connect instead,
    # which adds what duckdb-engine cannot: the lock retry every reader does, and TimeZone = UTC set before
    # the configuration is locked (nothing can be SET afterwards, and TimeZone is refused at connect).
    eng = sa.create_engine(
        sa.URL.create("duckdb", database=database),
        connect_args={"read_only": True, "config": dict(sandbox.SANDBOX_CONFIG)},
        # No pool: an idle pooled connection would keep the file open and lock out the next sync.
        poolclass=NullPool,
    )

    @sa.event.listens_for(eng, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> ConnectionWrapper:
        return ConnectionWrapper(sandbox.connect(where))

    return eng


metadata = sa.MetaData()
# The SQLAlchemy type of each DuckDB type of warehouse/schema.py. DateTime holds UTC, without zone; an
# ARRAY of String is varchar[], which duckdb-engine reads back as a Python list.
SA_TYPES: dict[str, sa.types.TypeEngine] = {
    "VARCHAR": sa.String(),
    "BIGINT": sa.BigInteger(),
    "TIMESTAMP": sa.DateTime(),
    "VARCHAR[]": sa.ARRAY(sa.String),
}


def _declare(table: schema.Table) -> sa.Table:
    # Keys (primary_key=True) are the grain; the warehouse enforces them in the loaders, not with
    # constraints, but declaring them lets the ORM map these tables.
    columns = [
        sa.Column(
            c.name,
            SA_TYPES[c.sql_type],
            primary_key=c.name in table.key,
            nullable=table.is_nullable(c),
        )
        for c in table.columns
    ]
    load_id = sa.Column(schema.LOAD_ID, sa.BigInteger(), nullable=False)
    return sa.Table(table.name, metadata, *columns, load_id, schema="core")


CORE: dict[str, sa.Table] = {t.name: _declare(t) for t in schema.TABLES}
core_services = CORE["services"]
core_commits = CORE["commits"]
core_commit_files = CORE["commit_files"]
core_pull_requests = CORE["pull_requests"]
core_pull_request_commits = CORE["pull_request_commits"]
core_deployments = CORE["deployments"]
core_pipeline_runs = CORE["pipeline_runs"]
core_incidents = CORE["incidents"]
