"""The CSV bundle of spec/BUNDLE.md: its files declared as data, header checks and physical line numbers.

Validation and loading run inside DuckDB (warehouse/load.py); this module knows the file format only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# Column kinds: text (trimmed), raw (kept as is), lower (trimmed, lowercased), ts, sha, shas
# (space-separated), labels (;-separated), int, status (deployment), run_status (pipeline run).


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    required: bool = False
    optional_in_file: bool = False


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


C = Column
# Load order matters: services first, so the other files can name the bundle's own services.
TABLES: tuple[Table, ...] = (
    Table("services", ("service",), (C("service"), C("repo"), C("team"))),
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


class BundleError(Exception):
    """A bundle problem, located as file:line:column."""

    def __init__(self, file: str, line: int, column: str | None, message: str) -> None:
        self.file, self.line, self.column, self.message = file, line, column, message
        where = f"{file}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


def read_header(path: Path, table: Table) -> list[str]:
    """The header row, checked for every column the table requires."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BundleError(path.name, 1, None, f"unreadable header: {exc}") from exc
    if not header:
        raise BundleError(path.name, 1, None, "empty file: a header row is required")
    header = [h.strip() for h in header]
    for column in table.columns:
        if column.name not in header and not column.optional_in_file:
            raise BundleError(path.name, 1, column.name, f"missing column {column.name!r} in the header")
    duplicated = {h for h in header if header.count(h) > 1}
    if duplicated:
        raise BundleError(path.name, 1, sorted(duplicated)[0], "column appears twice in the header")
    return header


def physical_line(path: Path, row_index: int) -> int:
    """The line where data row `row_index` (0-based, header excluded) starts, counting quoted newlines.

    Only called when a row is bad, so reading the file with the csv module here costs nothing in
    the normal case.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        previous_end = 0
        seen = -1
        for record in reader:
            if record:  # DuckDB skips blank lines as well
                if seen == row_index:
                    return previous_end + 1
                seen += 1
            previous_end = reader.line_num
    return previous_end + 1


def present_files(folder: Path) -> list[tuple[Table, Path]]:
    return [(t, folder / t.file) for t in TABLES if (folder / t.file).is_file()]
