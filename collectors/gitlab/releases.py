"""Releases as deployments (`releases = true`): the project's published releases whose tags the selection
takes (`deploy_tags`, `exclude_tags`: collectors/settings.py TagSelection), each a successful deployment to
`environment` at its release time.

Every run lists all of them (one request per 100 releases) and tells the warehouse that these are all the
release deployments of the project (warehouse.batch.Complete): those of a release deleted, or of a tag
the selection no longer takes (or of every release, once `releases` is off), are removed, and the run says
how many.
"""

from __future__ import annotations

from typing import Any

from collectors.gitlab import rows
from collectors.gitlab.commits import CommitSteps
from collectors.gitlab.scope import key_of
from warehouse.batch import Batch, Complete, Record


class ReleaseSteps(CommitSteps):
    """The releases step of a project's collector (collector.py's ProjectCollector)."""

    def releases(self) -> None:
        prefix = rows.release_id(self.name, "")
        batch = Batch(self.name, "releases")
        keys: list[tuple[Any, ...]] = []
        listed: list[Any] = []
        if self.project.releases:
            listed = self.api.all(f"{self.base}/releases", None, f"{self.name}: releases")
            keys = self.release_rows(batch, listed)
        batch.complete.append(Complete("deployments", {}, keys, key_prefix=prefix))
        saved = list(self.cursor("releases").get("unchecked") or [])
        saved += [row["commit_sha"] for row in batch.rows.get("deployments", [])]
        batch.cursor = {"unchecked": list(dict.fromkeys(saved))}
        before = int(getattr(self.sink, "rows_removed", 0))
        self.write(batch)
        removed = int(getattr(self.sink, "rows_removed", 0)) - before
        if removed:
            self.stats.warnings.append(
                f"{self.name}: {removed} release deployments removed: their releases are gone or no longer "
                f"selected ({self.project.tags.describe()})"
            )
        if listed and not keys:
            self.stats.warnings.append(
                f"{self.name}: {len(listed)} releases, none selected by {self.project.tags.describe()}: no "
                "release is a deployment (deploy_tags / exclude_tags in dora.toml)"
            )

    def release_rows(self, batch: Batch, listed: list[Any]) -> list[tuple[Any, ...]]:
        """The rows of the selected releases; the keys of every selected one (a quarantined one too)."""
        keys: list[tuple[Any, ...]] = []
        releases = [r for r in listed if isinstance(r, dict)]
        batch.add_raw("releases", [Record(f"{self.name}@{r.get('tag_name')}", r) for r in releases])
        for release in listed:
            tag = release.get("tag_name") if isinstance(release, dict) else None
            if isinstance(tag, str) and not self.project.tags.matches(tag):
                continue
            if isinstance(tag, str):
                keys.append((rows.release_id(self.name, tag),))
            row = self.guarded(batch, "releases", key_of(release, "tag_name"), release, self.release_row)
            if row is None:
                continue
            rule = self.project.service_for(row["environment"])
            if rule is None:
                self.unmatched[row["environment"]] = self.unmatched.get(row["environment"], 0) + 1
                continue
            batch.add_rows("deployments", [{**row, "service": rule.name}])
            self.deployed.setdefault(row["commit_sha"], row["finished_at"])
        return keys

    def release_row(self, release: dict[str, Any]) -> dict[str, Any] | None:
        return rows.release_deployment_row(self.name, self.project.service, release, self.project.environment)
