"""What every step of a repository's collection shares: its settings, cursors, the commit graph of the
run, and the bookkeeping that makes the later steps incremental and safe to interrupt.

Two lists ride in the cursor of the batch that creates their work, so that a run killed at any point
leaves the work to the next one:

- `tips`: the deployed commits of the deployments a batch wrote (the history step fetches those still
  unknown, down to commits already known);
- `files_todo`: the commits whose changed files are still to be asked (repositories with a path-filtered
  service, without a clone).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from collectors import runner
from collectors.base import Run
from collectors.github import rows
from collectors.github.client import Api, RepoApi
from collectors.github.settings import GithubSettings, RepoSettings
from warehouse.batch import Batch, CommitInfo, Record

TIPS, FILES = "tips", "files_todo"


class RepoScope(runner.Scope):
    """One repository; runs in one worker thread with its own client."""

    def __init__(
        self, api: Api, settings: GithubSettings, repo: RepoSettings, run: Run, token: str | None = None
    ) -> None:
        super().__init__(repo.repo, run, api.stats, settings.full)
        self.http = RepoApi(api, repo.repo, settings.per_page)
        self.settings, self.repo, self.token = settings, repo, token
        self.bots = re.compile(settings.bot_pattern)
        self.severity = re.compile(settings.severity_pattern)
        self.production = re.compile(settings.production_pattern)
        self.graph: dict[str, CommitInfo] = {}
        self.default_branch = "main"
        self.commits_since: dt.datetime | None = None
        # commit_files come from the per-commit API only where a service filters by paths, without a clone
        self.want_files = repo.path_filtered and not settings.clone

    def write(self, batch: Batch) -> None:
        """Writes the batch, carrying the work it creates (deployed commits, commits without files) in its
        cursor."""
        shas = [d["commit_sha"] for d in batch.rows.get("deployments", []) if d.get("commit_sha")]
        todo = []
        if self.want_files:
            todo = [c["sha"] for c in batch.rows.get("commits", []) if len(c["parents"]) <= 1]
        if shas or todo:
            before = self.cursor(batch.entity)
            cursor = dict(before if batch.cursor is None else batch.cursor)
            for key, new in ((TIPS, shas), (FILES, todo)):
                if new:
                    cursor[key] = list(dict.fromkeys([*(before.get(key) or []), *new]))
            batch.cursor = cursor
        super().write(batch)

    def in_production(self, environment: str, flag: Any = None) -> bool:
        return rows.in_production(self.production, environment, flag)

    def before_since(self, when: dt.datetime | None) -> bool:
        since = self.settings.since
        return since is not None and when is not None and when.date() < since

    def stops_walk(self, created: dt.datetime | None, baseline: bool) -> bool:
        """Whether a walk back in time stops at an item created at `created`: it is before --since (its
        commits are fetched, it may be the baseline) and `baseline` says nothing older is needed."""
        if not self.before_since(created):
            return False
        self.note_baseline(created)
        return baseline

    def note_baseline(self, finished: dt.datetime | None) -> None:
        """The last deployment before --since: commits are fetched back to it (it is the baseline)."""
        if finished is not None and (self.commits_since is None or finished < self.commits_since):
            self.commits_since = finished

    def recheck(self, entity: str, ask: Callable[[Batch, str, dict[str, Any], dict[str, Any]], Any]) -> None:
        """The items of `entity` not finished at the last run (`pending` in its cursor) asked again, each
        with its ETag (a 304 costs nothing): `ask(batch, id, entry, pending)` drops those now finished."""
        state = self.cursor(entity)
        pending = dict(state.get("pending") or {})
        if not pending:
            return
        batch = Batch(self.name, entity)
        for ident, entry in list(pending.items()):
            ask(batch, ident, entry, pending)
        batch.cursor = {**state, "pending": pending}
        self.write(batch)

    def known(self, shas: list[str]) -> set[str]:
        """The shas among `shas` that this run fetched or the warehouse holds."""
        missing = [s for s in shas if s not in self.graph]
        found = self.sink.commits(self.name, missing) if missing else {}
        self.graph.update(found)
        return {s for s in shas if s in self.graph}

    def commit_batch(self, entity: str, items: list[dict[str, Any]], cursor: dict[str, Any]) -> Batch:
        batch = Batch(self.name, entity, cursor=cursor)
        batch.add_raw("commits", [Record(f"{self.name}:{c.get('sha')}", c) for c in items])
        good = []
        for item in items:
            try:
                row = rows.commit_row(self.name, item)
            except rows.MALFORMED as exc:
                self.quarantine(batch, "commits", str(item.get("sha")), rows.malformed(exc, item), item)
                continue
            good.append(row)
            self.graph[row["sha"]] = rows.commit_info(row)
        batch.add_rows("commits", good)
        return batch

    def graph_view(self) -> dict[str, CommitInfo]:
        return rows.GraphView(self.graph, lambda shas: self.sink.commits(self.name, shas))
