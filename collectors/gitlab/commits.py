"""The commits of a GitLab project: the default branch, then the history of every deployed commit that is
still unknown (a maintenance branch, a hotfix branch deployed directly), and, for a project with a
path-filtered service, the files each new non-merge commit changed.

Costs, in requests: the default branch as the range `old_head..head` (one per 100 new commits); per
deployed commit still unknown after it, the commits of `head..sha` newest first (one per 100 new commits,
at least one), stopping once every ancestor of the new commits is known; with paths, one diff request
per new non-merge commit (one per 100 files). Each page is one batch with its cursor: a run killed in
the middle of a history goes on from there, and nothing is asked twice on the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from collectors.base import CollectorError, history_start
from collectors.gitlab import rows
from collectors.gitlab.client import Api, BadAnswer, iso
from collectors.gitlab.scope import ProjectScope, key_of
from warehouse.batch import Batch, Record


class RangeGone(CollectorError):
    """The saved head of the default branch is gone (force push): the commits are listed again."""


class CommitSteps(ProjectScope):
    """The commit steps of a project's collector (collector.py's ProjectCollector)."""

    pool: ThreadPoolExecutor | None
    api_for: Callable[[], Api] | None
    commits_since: dt.datetime | None
    head: str | None = None

    def commits(self) -> None:
        state = self.cursor("commits")
        branch = self.api.one(
            f"{self.base}/repository/branches/{quote(self.default_branch, safe='')}",
            f"{self.name}: branch {self.default_branch}",
        )
        commit = branch.get("commit")
        head = commit.get("id") if isinstance(commit, dict) else None
        if not isinstance(head, str) or not head:
            raise BadAnswer(f"{self.name}: branch {self.default_branch}: no commit id in GitLab's answer")
        self.head = head
        if state.get("head") == head and not state.get("resume"):
            return
        old = state.get("head")
        try:
            self._commit_pages(state, head, f"{old}..{head}" if old else head, old is None)
        except RangeGone:
            self.cursors["commits"] = {}
            self._commit_pages({}, head, head, True)

    def _commit_pages(self, state: dict[str, Any], head: str, ref: str, first: bool) -> None:
        if state.get("resume"):
            url: str | None = state["resume"]
            query: dict[str, Any] | None = None
            head = state.get("new_head") or head
        else:
            url = f"{self.base}/repository/commits"
            query = {"ref_name": ref, "per_page": self.settings.per_page}
            start = self._commit_since() if first else None
            if start:
                query["since"] = start
        old = state.get("head")
        while url:
            try:
                items, next_url = self.api.page(url, query, f"{self.name}: commits")
            except CollectorError as exc:
                if old and "(404)" in str(exc):
                    raise RangeGone(str(exc)) from None
                raise
            batch = self.commit_batch("commits", items)
            batch.cursor = {"head": old, "new_head": head, "resume": next_url} if next_url else {"head": head}
            self.write(batch)
            url, query = next_url, None

    def _commit_since(self) -> str | None:
        start = history_start(self.settings.since, self.commits_since)
        return None if start is None else iso(start)

    def commit_batch(self, entity: str, items: list[Any]) -> Batch:
        """A page of commits: raw payloads, rows, and with paths the files of each non-merge commit."""
        batch = Batch(self.name, entity)
        objects = [c for c in items if isinstance(c, dict)]
        batch.add_raw("commits", [Record(f"{self.name}:{c.get('id')}", c) for c in objects])
        made = []
        for commit in items:
            key = key_of(commit, "id")
            row = self.guarded(batch, "commits", key, commit, lambda c: rows.commit_row(self.name, c))
            if row is not None:
                made.append(row)
        batch.add_rows("commits", made)
        if self.project.files:
            wanted = [row["sha"] for row in made if len(row["parents"]) <= 1]
            batch.add_rows("commit_files", self.files_of(wanted))
        return batch

    def files_of(self, shas: list[str]) -> list[dict[str, Any]]:
        """The files of each commit from its diff (paginated), through the shared pool when there is one."""

        def fetch(sha: str) -> list[dict[str, Any]]:
            api = self.api_for() if self.api_for else self.api
            what = f"{self.name}: files of commit {sha}"
            try:
                diffs = api.all(f"{self.base}/repository/commits/{sha}/diff", None, what)
            except BadAnswer as exc:
                self.stats.warnings.append(f"{exc}; the commit counts in no path-filtered service")
                return []
            return rows.commit_file_rows(self.name, sha, diffs)

        if self.pool is None or len(shas) < 2:
            found = [fetch(sha) for sha in shas]
        else:
            found = list(self.pool.map(fetch, shas))
        return [row for files in found for row in files]

    def history(self, deployed: list[str]) -> None:
        """The history of each deployed commit still unknown, down to commits already known."""
        state = self.cursor("history")
        if state.get("resume"):
            self._history_of(state["sha"], state["resume"], None, set(state.get("pending") or []))
        unknown = [sha for sha in deployed if sha not in self.sink.commits(self.name, deployed)]
        for sha in dict.fromkeys(unknown):
            if self.sink.commits(self.name, [sha]):
                continue  # in the history of a deployed commit fetched before it
            ref = f"{self.head}..{sha}" if self.head else sha
            query = {"ref_name": ref, "per_page": self.settings.per_page}
            self._history_of(sha, f"{self.base}/repository/commits", query, {sha})

    def _history_of(self, sha: str, url: str | None, query: dict[str, Any] | None, pending: set[str]) -> None:
        what = f"{self.name}: history of deployed commit {sha}"
        while url and pending:
            try:
                items, next_url = self.api.page(url, query, what)
            except CollectorError as exc:
                if "(404)" not in str(exc):
                    raise
                self.stats.warnings.append(f"{what}: not in the project (404): its changes stay unknown")
                items, next_url = [], None
            listed = {c["id"] for c in items if isinstance(c, dict) and isinstance(c.get("id"), str)}
            parents = {
                p
                for c in items
                if isinstance(c, dict) and isinstance(c.get("parent_ids"), list)
                for p in c["parent_ids"]
                if isinstance(p, str)
            }
            known = self.sink.commits(self.name, listed | parents)
            new = [c for c in items if not (isinstance(c, dict) and c.get("id") in known)]
            batch = self.commit_batch("history", new)
            pending = (pending - listed) | {
                p
                for c in new
                if isinstance(c, dict) and isinstance(c.get("parent_ids"), list)
                for p in c["parent_ids"]
                if isinstance(p, str) and p not in known and p not in listed
            }
            done = not pending or not next_url
            batch.cursor = {} if done else {"sha": sha, "pending": sorted(pending), "resume": next_url}
            self.write(batch)
            url, query = next_url, None
