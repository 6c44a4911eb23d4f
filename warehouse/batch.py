"""What a collector hands the warehouse: one page's raw payloads, canonical rows, quarantined objects and
the cursor to resume from, written in one transaction by the warehouse's sink (warehouse/sync.py).
Collectors read cursors and ask about known commits through the `Sink` protocol only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Record:
    """One verbatim API object, stored in raw.<source>__<entity> under `key`."""

    key: str
    payload: Any


@dataclass(frozen=True)
class Quarantined:
    entity: str
    key: str
    problem: str
    payload: Any


@dataclass(frozen=True)
class Complete:
    """The complete set of keys of `table` among its rows whose columns equal `match` (and whose first key
    column starts with `key_prefix`, when given): the sink deletes the other rows of that set, in the
    batch's transaction, and counts them in `rows_removed`. How a collector reconciles a selection that
    shrank (tags no longer selected, releases deleted)."""

    table: str
    match: dict[str, Any]
    keys: list[tuple[Any, ...]]
    key_prefix: str | None = None


@dataclass
class Batch:
    """Everything one page produced; written atomically so that a kill at any point resumes cleanly."""

    scope: str  # what the cursor belongs to, e.g. "acme/checkout"
    entity: str  # the cursor's entity, e.g. "pulls"
    raw: dict[str, list[Record]] = field(default_factory=dict)  # raw entity -> records
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # core table -> rows
    cursor: dict[str, Any] | None = None  # the new cursor of (scope, entity); None leaves it as it is
    quarantined: list[Quarantined] = field(default_factory=list)
    complete: list[Complete] = field(default_factory=list)  # applied after the rows are written

    def add_raw(self, entity: str, records: Iterable[Record]) -> None:
        self.raw.setdefault(entity, []).extend(records)

    def add_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.setdefault(table, []).extend(rows)

    @property
    def items(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass(frozen=True)
class CommitInfo:
    """What a collector needs of a commit already in the warehouse (rebase-merge detection)."""

    sha: str
    parents: tuple[str, ...]
    authored_at: dt.datetime | None
    message: str


class Sink(Protocol):
    def write(self, batch: Batch) -> None: ...

    def cursor(self, scope: str, entity: str) -> dict[str, Any] | None: ...

    def commits(self, repo: str, shas: Iterable[str]) -> dict[str, CommitInfo]: ...
