"""Commits: the default branch's history (paged, then compared from the last known head, or read from a
blobless clone), the history of every deployed commit still unknown after it, and the files each commit
changed where a service filters by paths.

Deployed commits off the default branch (a maintenance release, a hotfix branch deployed directly) have
their history listed from them (GET /commits?sha=...), newest first, until every ancestor still needed is
a commit already known: one request per 100 new commits, about one more per unknown deployed commit, and
none for one that an earlier one's history already brought. (A compare from the default branch would
list a long-lived maintenance branch again at each of its releases.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from collectors.base import history_start
from collectors.git.repo import ReadCounts
from collectors.github import rows
from collectors.github.client import ApiError, BadAnswer, fatal, objects
from collectors.github.clone import clone_commits, clone_url
from collectors.github.scope import FILES, TIPS, RepoScope
from warehouse.batch import Batch, Record

DEPLOYING = ("deployments", "releases", "workflow_runs", "pulls")  # the entities whose batches deploy
WITH_FILES = ("commits", "history")  # the entities whose batches add commits (API mode)
FILES_PER_BATCH = 25
MAX_LISTED_FILES = 3000  # GitHub lists at most this many files of one commit


class CommitSteps(RepoScope):
    def commits(self) -> None:
        if self.settings.clone:
            self.clone_commits()
            return
        state = self.cursor("commits")
        branch = self.default_branch
        backfill = state.get("backfill")
        etag = state.get("etag") if state.get("head") and not backfill else None
        response = self.http.get_object(
            f"/repos/{self.name}/branches/{branch}", f"branch {branch}", etag=etag
        )
        if response.status == 304:
            return
        head = (response.data.get("commit") or {}).get("sha")
        if not isinstance(head, str):
            raise BadAnswer(f"{self.name}: branch {branch}: no commit sha in its payload")
        if state.get("head") == head and not backfill:
            self.write(Batch(self.name, "commits", cursor={**state, "etag": response.etag}))
            return
        if state.get("head") and not backfill and self.compare(state["head"], head, response.etag):
            return
        pinned = (backfill or {}).get("sha") or head
        url: str | None = (backfill or {}).get("next") or f"/repos/{self.name}/commits"
        query: dict[str, Any] | None = None
        if not (backfill or {}).get("next"):
            query = {"sha": pinned, "per_page": self.settings.per_page}
            since = self._commit_since()
            if since:
                query["since"] = since
        while url:
            page = self.http.get(url, "commits", query)
            next_url = page.next_url
            # the branch's ETag describes the head we pinned only if the head did not move meanwhile
            done = {"head": pinned, "etag": response.etag if pinned == head else None}
            cursor = {"backfill": {"sha": pinned, "next": next_url}} if next_url else done
            self.write(self.commit_batch("commits", self.listed(page.data, "commits"), cursor))
            url, query = next_url, None
        if pinned != head:
            self.compare(pinned, head, None)

    def listed(self, data: Any, what: str) -> list[dict[str, Any]]:
        try:
            return objects(data or [], "the list")
        except BadAnswer as exc:
            raise BadAnswer(f"{self.name}: {what}: {exc}") from None

    def clone_commits(self) -> None:
        target = Path(self.settings.clone_dir or ".dora-clones") / f"{self.name}.git"
        url = clone_url(self.settings.api_url, self.name, self.settings.clone_url)
        cursor = self.cursor("git_commits")
        counts = ReadCounts()
        # the deployed commits go along: the clone fetches those off the default branch, with their history
        batches = clone_commits(
            url,
            target,
            self.name,
            self.default_branch,
            self.token,
            cursor,
            files=self.repo.path_filtered,
            shas=self.tips(),
            counts=counts,
        )
        for batch in batches:
            for row in batch.rows.get("commits", []):
                self.graph[row["sha"]] = rows.commit_info(row)
            self.write(batch)
        if counts.repaired:
            self.stats.warnings.append(
                f"{self.name}: {counts.repaired} commits with a malformed timezone were read as UTC"
            )
        for problem in counts.problems:
            self.stats.warnings.append(f"{self.name}: commit quarantined: {problem}")

    def tips(self) -> list[str]:
        """The deployed commits not yet looked for (in the cursors of the batches that deployed them)."""
        return list(dict.fromkeys(t for e in DEPLOYING for t in self.cursor(e).get(TIPS) or []))

    def _commit_since(self) -> str | None:
        start = history_start(self.settings.since, self.commits_since)
        return None if start is None else start.strftime("%Y-%m-%dT%H:%M:%SZ")

    def compare_pages(self, base: str, head: str) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """The commits reachable from head and not from base, page by page (with whether more follow);
        ApiError 404 when either is unknown to GitHub."""
        url: str | None = f"/repos/{self.name}/compare/{base}...{head}"
        query: dict[str, Any] | None = {"per_page": self.settings.per_page}
        while url:
            try:
                page = self.http.api.get(url, query)
            except BadAnswer as exc:
                raise BadAnswer(f"{self.name}: compare: {exc}") from None
            if not isinstance(page.data, dict):
                raise BadAnswer(f"{self.name}: compare: expected an object")
            yield self.listed(page.data.get("commits"), "compare"), page.next_url is not None
            url, query = page.next_url, None

    def compare(self, base: str, head: str, etag: str | None) -> bool:
        """The commits reachable from head and not from base, paged; False if base is gone (force push)."""
        try:
            for items, more in self.compare_pages(base, head):
                cursor = {"head": base, "etag": None} if more else {"head": head, "etag": etag}
                self.write(self.commit_batch("commits", items, cursor))
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise fatal(exc, self.name, "compare") from None
        return True

    def history(self) -> None:
        """The history of every deployed commit still unknown, down to commits already known."""
        tips = self.tips()
        if not tips:
            return
        unknown = [t for t in tips if t not in self.known(tips)]
        for tip in unknown:
            if self.known([tip]):  # an earlier tip's history brought it
                continue
            # with a clone, the clone fetched what GitHub serves of them already
            if self.settings.clone or not self.list_history(tip):
                self.stats.warnings.append(
                    f"{self.name}: deployed commit {tip} is not in the repository (404): its history is "
                    "unknown, its changes cannot be counted"
                )
        for entity in DEPLOYING:
            state = self.cursor(entity)
            if state.get(TIPS):
                self.write(Batch(self.name, entity, cursor={**state, TIPS: []}))

    def list_history(self, tip: str) -> bool:
        """The commits listed from `tip` (newest first, 100 a page) until every ancestor still needed is
        known: the new commits and at most one page more. False when GitHub does not know `tip`."""
        url: str | None = f"/repos/{self.name}/commits"
        first: dict[str, Any] = {"sha": tip, "per_page": self.settings.per_page}
        since = self._commit_since()
        if since:  # no further back than the default branch's history goes
            first["since"] = since
        query: dict[str, Any] | None = first
        needed = {tip}
        while url and needed:
            try:
                page = self.http.api.get(url, query)
            except ApiError as exc:
                if exc.status in (404, 422):
                    return False
                raise fatal(exc, self.name, f"history of deployed commit {tip}") from None
            items = self.listed(page.data, f"history of deployed commit {tip}")
            shas = [str(i.get("sha")) for i in items]
            parents = [
                str(p.get("sha")) for i in items for p in i.get("parents") or [] if isinstance(p, dict)
            ]
            known = self.known(shas + parents)
            new = [i for i in items if str(i.get("sha")) not in known]
            for item in new:
                needed.discard(str(item.get("sha")))
                needed |= {str(p.get("sha")) for p in item.get("parents") or [] if isinstance(p, dict)}
            needed -= known | {str(i.get("sha")) for i in new}
            self.write(self.commit_batch("history", new, self.cursor("history")))
            url, query = page.next_url, None
        return True

    def files(self) -> None:
        """The files of each new non-merge commit (GET /repos/{repo}/commits/{sha}), for repositories with
        a path-filtered service, without a clone: one request per commit (per 300 files)."""
        if not self.want_files:
            return
        for entity in WITH_FILES:
            todo = list(self.cursor(entity).get(FILES) or [])
            while todo:
                chunk, todo = todo[:FILES_PER_BATCH], todo[FILES_PER_BATCH:]
                batch = Batch(self.name, entity)
                for sha in chunk:
                    listed = self.commit_files(sha)
                    batch.add_raw("commit_files", [Record(f"{self.name}:{sha}", listed)])
                    batch.add_rows("commit_files", rows.commit_files(self.name, sha, listed))
                batch.cursor = {**self.cursor(entity), FILES: todo}
                self.write(batch)

    def commit_files(self, sha: str) -> list[dict[str, Any]]:
        """The `files` of a commit, every page of them (GitHub pages a commit's files by 300)."""
        files: list[dict[str, Any]] = []
        url: str | None = f"/repos/{self.name}/commits/{sha}"
        while url:
            response = self.http.get_object(url, f"files of commit {sha}")
            listed = response.data.get("files") or []
            files += [{"filename": f.get("filename"), "previous_filename": f.get("previous_filename")}
                      for f in self.listed(listed, f"files of commit {sha}")]  # fmt: skip
            url = response.next_url
        if len(files) >= MAX_LISTED_FILES:
            self.stats.warnings.append(
                f"{self.name}: commit {sha} changed {len(files)} files or more, GitHub lists no more: its "
                "other files are unknown (clone = true reads them all)"
            )
        return files
