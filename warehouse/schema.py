"""The canonical tables, declared once: the bundle format, the SQLAlchemy tables of the analyst engine and
the key checks read this declaration, and a test holds the migrations to it (tests/warehouse/test_schema.py).

A table's `key` is its unique, not-null key; `required` columns must hold a value in every row. A new
column is one `Column` here plus one migration (warehouse/migrations/) that adds it to core.<table>.
"""

from __future__ import annotations

from dataclasses import dataclass

# Column kinds: text (trimmed), raw (kept as is), lower (trimmed, lowercased), ts, sha, shas
# (space-separated), labels (;-separated), int, status (deployment), run_status (pipeline run).
# The DuckDB type each kind is stored as in core.<table>; the kinds not named here are varchar.
SQL_TYPES = {"ts": "TIMESTAMP", "int": "BIGINT", "shas": "VARCHAR[]", "labels": "VARCHAR[]"}
# Lists are stored empty rather than null, so an absent list cell is never null either.
LIST_KINDS = ("shas", "labels")
# Every core table also has the id of the load that wrote each row: `dora transform` reads it.
LOAD_ID = "_load_id"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    required: bool = False
    optional_in_file: bool = False

    @property
    def sql_type(self) -> str:
        """The DuckDB type of the column in core.<table> (TIMESTAMP holds UTC)."""
        return SQL_TYPES.get(self.kind, "VARCHAR")


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def is_required(self, column: Column) -> bool:
        return column.required or column.name in self.key

    def is_nullable(self, column: Column) -> bool:
        """Whether core.<table> lets the column be null."""
        return not (self.is_required(column) or column.kind in LIST_KINDS)


C = Column
# Load order matters: services first, so the other files can name the bundle's own services.
TABLES: tuple[Table, ...] = (
    Table(
        "services",
        ("service",),
        (C("service"), C("repo"), C("team"), C("paths", "labels", optional_in_file=True)),
    ),
    Table(
        "commits",
        ("repo", "sha"),
        (
            C("repo"),
            C("sha", "sha"),
            C("parents", "shas"),
            C("authored_at", "ts", required=True),
            C("committed_at", "ts"),
            C("author"),
            C("message", "raw"),
        ),
    ),
    Table("commit_files", ("repo", "sha", "path"), (C("repo"), C("sha", "sha"), C("path", "raw"))),
    Table(
        "pull_requests",
        ("repo", "number"),
        (
            C("repo"),
            C("number", "int"),
            C("title"),
            C("author"),
            C("created_at", "ts"),
            C("first_commit_at", "ts"),
            C("first_review_at", "ts"),
            C("merged_at", "ts"),
            C("merge_commit_sha", "sha"),
            C("head_branch"),
            C("base_branch"),
            C("labels", "labels"),
        ),
    ),
    Table(
        "pull_request_commits", ("repo", "number", "sha"), (C("repo"), C("number", "int"), C("sha", "sha"))
    ),
    Table(
        "deployments",
        ("deployment_id",),
        (
            C("deployment_id"),
            C("service", required=True),
            C("environment", "lower", required=True),
            C("environment_tier", "lower", optional_in_file=True),
            C("commit_sha", "sha", required=True),
            C("started_at", "ts"),
            C("finished_at", "ts", required=True),
            C("status", "status", required=True),
        ),
    ),
    Table(
        "pipeline_runs",
        ("run_id",),
        (
            C("run_id"),
            C("service"),
            C("pipeline"),
            C("branch"),
            C("commit_sha", "sha"),
            C("started_at", "ts"),
            C("finished_at", "ts"),
            C("status", "run_status"),
        ),
    ),
    Table(
        "incidents",
        ("incident_id",),
        (
            C("incident_id"),
            C("service", required=True),
            C("title"),
            C("severity"),
            C("created_at", "ts", required=True),
            C("resolved_at", "ts"),
            C("deployment_id"),
            C("commit_sha", "sha"),
        ),
    ),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}
DEPLOYMENT_STATUSES = ("success", "failure")
RUN_STATUSES = ("success", "failure", "cancelled")
