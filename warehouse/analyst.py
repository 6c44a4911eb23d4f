"""The read-only analyst connection for notebooks and `pandas.read_sql`, and the core tables declared.

    from sqlalchemy import select
    from warehouse.analyst import engine, core_deployments
    pd.read_sql(select(core_deployments).where(core_deployments.c.status == "failure"), engine("dora.duckdb"))

The tables are declared, not reflected: duckdb-engine's reflection is broken (STACK.md). A test compares
every declaration with information_schema, so they cannot drift from warehouse/migrations/.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from duckdb_engine import ConnectionWrapper
from sqlalchemy.pool import NullPool

from warehouse import db, sandbox


def engine(path: str | os.PathLike | None = None) -> sa.Engine:
    """A SQLAlchemy engine on the warehouse with the `dora sql` fences: read-only, no files, locked config."""
    p = db.resolve_path(path)
    # connect_args say what the connection is; do_connect below builds it through sandbox.connect instead,
    # which adds what duckdb-engine cannot: the lock retry every reader does, and TimeZone = UTC set before
    # the configuration is locked (nothing can be SET afterwards, and TimeZone is refused at connect).
    eng = sa.create_engine(
        sa.URL.create("duckdb", database=str(p)),
        connect_args={"read_only": True, "config": dict(sandbox.SANDBOX_CONFIG)},
        # No pool: an idle pooled connection would keep the file open and lock out the next sync.
        poolclass=NullPool,
    )

    @sa.event.listens_for(eng, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> ConnectionWrapper:
        return ConnectionWrapper(sandbox.connect(p))

    return eng


metadata = sa.MetaData()
# Keys (primary_key=True) are the grain of spec/BUNDLE.md; the warehouse enforces them in the loaders, not
# with constraints, but declaring them lets the ORM map these tables. DateTime holds UTC, without zone.
String, BigInteger, DateTime = sa.String, sa.BigInteger, sa.DateTime
Strings = sa.ARRAY(sa.String)  # varchar[]: duckdb-engine reads it back as a Python list


def _table(name: str, *columns: sa.Column) -> sa.Table:
    # _load_id: the load that wrote the row (every core table has it; dora transform reads it)
    return sa.Table(name, metadata, *columns, _required("_load_id", BigInteger), schema="core")


def _key(name: str, type_: Any = String) -> sa.Column:
    return sa.Column(name, type_, primary_key=True)


def _required(name: str, type_: Any = String) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _optional(name: str, type_: Any = String) -> sa.Column:
    return sa.Column(name, type_)


core_services = _table("services", _key("service"), _optional("repo"), _optional("team"))

core_commits = _table(
    "commits",
    _key("repo"),
    _key("sha"),
    _required("parents", Strings),
    _required("authored_at", DateTime),
    _optional("committed_at", DateTime),
    _optional("author"),
    _optional("message"),
)

core_pull_requests = _table(
    "pull_requests",
    _key("repo"),
    _key("number", BigInteger),
    _optional("title"),
    _optional("author"),
    _optional("created_at", DateTime),
    _optional("first_commit_at", DateTime),
    _optional("first_review_at", DateTime),
    _optional("merged_at", DateTime),
    _optional("merge_commit_sha"),
    _optional("head_branch"),
    _optional("base_branch"),
    _required("labels", Strings),
)

core_pull_request_commits = _table(
    "pull_request_commits", _key("repo"), _key("number", BigInteger), _key("sha")
)

core_deployments = _table(
    "deployments",
    _key("deployment_id"),
    _required("service"),
    _required("environment"),
    _optional("environment_tier"),
    _required("commit_sha"),
    _optional("started_at", DateTime),
    _required("finished_at", DateTime),
    _required("status"),
)

core_pipeline_runs = _table(
    "pipeline_runs",
    _key("run_id"),
    _optional("service"),
    _optional("pipeline"),
    _optional("branch"),
    _optional("commit_sha"),
    _optional("started_at", DateTime),
    _optional("finished_at", DateTime),
    _optional("status"),
)

core_incidents = _table(
    "incidents",
    _key("incident_id"),
    _required("service"),
    _optional("title"),
    _optional("severity"),
    _required("created_at", DateTime),
    _optional("resolved_at", DateTime),
    _optional("deployment_id"),
    _optional("commit_sha"),
)
