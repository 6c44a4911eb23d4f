"""Deployments from GitHub's deployments (with their statuses) and from releases.

Releases are listed whole on every run (one request per 100 releases, each page asked with its ETag, so
an unchanged list costs 304s only): the warehouse then holds exactly the releases of the current
selection, and those no longer selected (a narrower `deploy_tags`, a deleted release) are removed in the
same transaction (warehouse.batch.Complete), counted in the run's warnings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from collectors.base import parse_ts, require
from collectors.github import rows
from collectors.github.client import RESOURCES
from collectors.github.scope import RepoScope
from warehouse.batch import Batch, Complete, Record

RELEASE_PREFIX = "github:release:"


class DeploymentSteps(RepoScope):
    def deployment_batch(
        self, batch: Batch, deployment: dict[str, Any], pending: dict[str, Any], etag: str | None = None
    ) -> str | None:
        """Fetch a deployment's statuses; adds its row (or keeps it pending). Returns its outcome, None
        while it is pending (also when its statuses are unchanged since `etag`)."""
        ident = str(deployment.get("id"))
        url = f"/repos/{self.name}/deployments/{ident}/statuses"
        response = self.http.get(url, f"statuses of deployment {ident}", {"per_page": 100}, etag)
        if response.status == 304:
            return None
        statuses = response.data or []
        batch.add_raw("deployment_statuses", [Record(f"{self.name}:{ident}", statuses)])
        try:
            outcome = rows.deployment_outcome(statuses)
        except rows.MALFORMED as exc:
            self.quarantine(batch, "deployment_statuses", ident, rows.malformed(exc, deployment), statuses)
            pending.pop(ident, None)
            return "quarantined"
        if outcome is None:
            pending[ident] = {"etag": response.etag, "deployment": deployment}
            return None
        pending.pop(ident, None)
        if outcome[0] == "skip":
            return "skip"
        environment = str(deployment.get("environment") or "")
        rule = rows.service_for(self.repo, environment=environment)
        if rule is None:
            return "unmatched"
        try:
            batch.add_rows("deployments", [rows.deployment_row(self.name, rule.name, deployment, outcome)])
        except rows.MALFORMED as exc:
            self.quarantine(batch, "deployments", ident, rows.malformed(exc, deployment), deployment)
            return "quarantined"
        if outcome[0] == "success" and self.in_production(
            environment, deployment.get("production_environment")
        ):
            return "production"
        return outcome[0]

    def pending_deployments(self) -> None:
        self.recheck(
            "deployments",
            lambda batch, _, entry, pending: self.deployment_batch(
                batch, entry["deployment"], pending, entry.get("etag")
            ),
        )

    def deployments(self) -> None:
        for page in self.http.walk(RESOURCES["deployments"], self.cursor("deployments")):
            pending = dict(self.cursor("deployments").get("pending") or {})
            batch = Batch(self.name, "deployments")
            batch.add_raw("deployments", [Record(f"{self.name}:{d.get('id')}", d) for d in page.items])
            stop = False
            for deployment in page.items:
                created = parse_ts(deployment.get("created_at"))
                outcome = self.deployment_batch(batch, deployment, pending)
                if self.stops_walk(created, outcome == "production"):
                    stop = True
                    break
            batch.cursor = {**(page.done_state if stop else page.state), "pending": pending}
            self.write(batch)
            if stop:
                break

    def selection(self) -> str:
        """What decides which releases are deployments and how their rows look: when it changes, every
        release is looked at again."""
        repo = self.repo
        rules = [(r.name, r.tag) for r in repo.services]
        return json.dumps(
            [repo.tag_pattern, repo.deploy_tags, repo.exclude_tags, repo.prereleases, repo.environment, rules]
        )

    def selected(self, release: dict[str, Any], tag_re: re.Pattern[str] | None) -> str | None:
        """The service of a release that counts as a deployment, else None."""
        tag = release.get("tag_name")
        if not isinstance(tag, str) or release.get("draft") or not release.get("published_at"):
            return None
        if release.get("prerelease") and not self.repo.prereleases:
            return None
        if (tag_re and not tag_re.search(tag)) or not self.repo.tags.matches(tag):
            return None
        rule = rows.service_for(self.repo, tag=tag)
        return rule.name if rule else None

    def releases(self) -> None:
        """Every release listed (pages asked with their ETags); new selected ones become deployments (the
        tag's commit asked once per release, then kept in the cursor); the selection is reconciled."""
        state = self.cursor("releases")
        same = state.get("selection") == self.selection()
        etags: list[str | None] = list(state.get("etags") or []) if same else []
        known: dict[str, list[Any]] = dict(state.get("known") or {}) if same else {}  # id -> [sha, service]
        shas: dict[str, str] = dict(state.get("shas") or {})  # tag -> commit, kept across selections
        tag_re = re.compile(self.repo.tag_pattern) if self.repo.tag_pattern else None
        resource = RESOURCES["releases"]
        url: str | None = resource.path.format(repo=self.name)
        query: dict[str, Any] | None = {"per_page": self.settings.per_page}
        links: list[str | None] = list(state.get("links") or []) if same else []
        new_etags: list[str | None] = []
        new_links: list[str | None] = []
        listed: list[dict[str, Any]] = []
        unchanged = True
        while url:
            page = len(new_etags)
            etag = etags[page] if page < len(etags) else None
            response = self.http.get(url, "releases list", query, etag)
            new_etags.append(response.etag if response.status != 304 else etag)
            if response.status == 304:
                listed += state.get("pages", {}).get(str(page), [])
                # a 304 need not repeat the Link header: the next page is the one listed last time
                url = response.next_url or (links[page] if page < len(links) else None)
            else:
                unchanged = False
                items = self.http.items(response, resource)
                listed += [_brief(r) for r in items]
                self.write_raw(items)
                url = response.next_url
            new_links.append(url)
            query = None
        if unchanged and same and len(new_etags) == len(etags) and state:
            return
        self.release_rows(listed, known, shas, tag_re, new_etags, new_links)

    def write_raw(self, items: list[dict[str, Any]]) -> None:
        if items:
            batch = Batch(self.name, "releases_raw")
            batch.add_raw("releases", [Record(f"{self.name}:{r.get('id')}", r) for r in items])
            self.write(batch)

    def release_rows(
        self,
        listed: list[dict[str, Any]],
        known: dict[str, list[Any]],
        shas: dict[str, str],
        tag_re: re.Pattern[str] | None,
        etags: list[str | None],
        links: list[str | None],
    ) -> None:
        batch = Batch(self.name, "releases")
        keep: dict[str, list[tuple[str]]] = {rule.name: [] for rule in self.repo.services}
        now: dict[str, list[Any]] = {}
        baseline_seen = False
        ordered = sorted(listed, key=lambda r: str(r.get("published_at") or ""), reverse=True)
        for release in ordered:
            ident = str(release.get("id"))
            service = self.selected(release, tag_re)
            if service is None:
                continue
            keep[service].append((RELEASE_PREFIX + ident,))
            published = parse_ts(release.get("published_at"))
            if ident in known:
                now[ident] = known[ident]
                continue
            if self.before_since(published):
                if baseline_seen:
                    continue
                baseline_seen = True
                self.note_baseline(published)
            tag = release["tag_name"]
            try:
                if tag not in shas:
                    commit = self.http.get_object(f"/repos/{self.name}/commits/{tag}", f"commit of tag {tag}")
                    shas[tag] = str(require(commit.data, "sha", f"commit of tag {tag} of {self.name}"))
                row = rows.release_deployment_row(
                    self.name, service, release, shas[tag], self.repo.environment
                )
            except rows.MALFORMED as exc:
                self.quarantine(batch, "releases", ident, rows.malformed(exc, release), release)
                continue
            batch.add_rows("deployments", [row])
            now[ident] = [shas[tag], service]
        batch.complete = [
            Complete("deployments", {"service": service}, keys, key_prefix=RELEASE_PREFIX)
            for service, keys in keep.items()
        ]
        pages = {str(i): chunk for i, chunk in enumerate(_chunks(listed, self.settings.per_page))}
        batch.cursor = {
            "selection": self.selection(),
            "etags": etags,
            "links": links,
            "known": now,
            "shas": shas,
            "pages": pages,
        }
        removed = self.sink_removed(batch)
        if removed:
            self.stats.warnings.append(
                f"{self.name}: {removed} release deployments removed: their releases are no longer selected "
                "(deploy_tags, exclude_tags, tag_pattern, prereleases) or were deleted"
            )

    def sink_removed(self, batch: Batch) -> int:
        """Writes the batch; how many rows its `complete` removed (0 where the sink does not count)."""
        before = int(getattr(self.sink, "rows_removed", 0))
        self.write(batch)
        return int(getattr(self.sink, "rows_removed", 0)) - before


def _brief(release: dict[str, Any]) -> dict[str, Any]:
    """What the cursor keeps of a listed release to decide again without listing it (a 304 page)."""
    keys = ("id", "tag_name", "draft", "prerelease", "published_at", "created_at")
    return {k: release.get(k) for k in keys}


def _chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
