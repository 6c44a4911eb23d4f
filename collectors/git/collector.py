"""Local git collector: the commit graph straight from a clone, deployments from tags or a deploy log.

Works offline on any repository. The history read is that of the default branch (`rev`, HEAD) and of every
deployed commit, wherever it lives (a maintenance branch never merged back, a tag on no branch). A
repository may be deployed as several services, each with its own tags and files ([[git.services]]).
How the repository is read is in repo.py, objects.py and tags.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors.base import CollectorError
from collectors.git.deploylog import read_deploy_log
from collectors.git.objects import existing
from collectors.git.repo import ReadCounts, commit_batches, jsonable, repository_root
from collectors.git.settings import GitSettings, ServiceSpec
from collectors.git.tags import Peeled, Ref, list_tags, peel
from warehouse.batch import Batch, Complete, Record, Sink

SOURCE = "git"


@dataclass
class GitResult:
    """What one run did, for the end-of-run summary."""

    commits: int = 0
    files: int = 0
    deployments: int = 0
    removed: int = 0  # deployments of tags no longer selected (set by the caller from the sink)
    skipped_tags: int = 0
    quarantined: int = 0
    repaired_timestamps: int = 0
    environments: set[str] = field(default_factory=set)  # of the deployments written without a tier
    production_tier: bool = False  # some deployment written has the tier production
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "commits": self.commits,
            "files": self.files,  # commit_files rows
            "deployments": self.deployments,
            "removed": self.removed,  # deployments of tags no longer selected
            "skipped_tags": self.skipped_tags,
            "quarantined": self.quarantined,
            "repaired": self.repaired_timestamps,  # timestamps with a malformed timezone, read as UTC
        }


def deployment_id(settings: GitSettings, service: ServiceSpec, tag: str) -> str:
    if len(settings.services) == 1:
        return f"git:{settings.repo}:{tag}"
    return f"git:{settings.repo}:{service.name}:{tag}"


def tag_deployment(settings: GitSettings, service: ServiceSpec, tag: Peeled) -> dict[str, Any]:
    """One successful deployment of a tag's commit at the tag's time (tags.py: the time convention)."""
    return {
        "deployment_id": deployment_id(settings, service, tag.name),
        "service": service.name,
        "environment": settings.environment,
        "environment_tier": None,
        "commit_sha": tag.commit,
        "started_at": tag.at,
        "finished_at": tag.at,
        "status": "success",
    }


def nothing_selected(service: ServiceSpec, refs: list[Ref], several: bool) -> str:
    who = f"service {service.name!r}: " if several else ""
    if not refs:
        return (
            f"{who}{service.tags.describe()} selects nothing: the repository has no tags "
            "(a clone made without them? `git fetch --tags` brings them)"
        )
    examples = ", ".join(r.name for r in refs[-5:])
    return (
        f"{who}{service.tags.describe()} matches none of the repository's {len(refs)} tags "
        f"(for example {examples}): no deployment from tags; fix the glob (quote it so that the shell "
        "does not expand it)"
    )


def services_rows(settings: GitSettings) -> list[dict[str, Any]]:
    return [
        {"service": s.name, "repo": settings.repo, "team": s.team, "paths": list(s.paths)}
        for s in settings.services
    ]


def collect(settings: GitSettings, sink: Sink) -> GitResult:
    """Services, commits (incremental from the cursor's tips) and deployments, in that order."""
    root = repository_root(settings.path)
    scope = settings.repo
    result = GitResult()
    found = existing(root, [f"{settings.rev}^{{commit}}"])
    if not found:
        raise CollectorError(f"{settings.path}: no commit at {settings.rev} (an empty repository?)")
    services = services_rows(settings)
    # rewritten only when they change: a rewrite is new data to the incremental transform
    if sink.cursor(scope, "services") != {"services": services}:
        sink.write(Batch(scope, "services", rows={"services": services}, cursor={"services": services}))

    refs = list_tags(root) if settings.selected else []
    wanted = [r for r in refs if any(s.tags.matches(r.name) for s in settings.services)]
    peeled = peel(root, wanted)
    result.skipped_tags = len(peeled.skipped)
    result.warnings += peeled.skipped
    result.repaired_timestamps += peeled.repaired
    deployments: list[dict[str, Any]] = []
    complete: list[Complete] = []
    several = len(settings.services) > 1
    for service in settings.services:
        if not service.tags:
            continue
        chosen = [t for name, t in sorted(peeled.peeled.items()) if service.tags.matches(name)]
        if not any(service.tags.matches(r.name) for r in refs):
            result.warnings.append(nothing_selected(service, refs, several))
        rows = [tag_deployment(settings, service, t) for t in chosen]
        deployments += rows
        # the warehouse holds exactly the deployments of the current selection
        complete.append(
            Complete(
                "deployments",
                {"service": service.name},
                [(r["deployment_id"],) for r in rows],
                key_prefix=f"git:{settings.repo}:",
            )
        )
    if settings.deploy_log:
        single = settings.services[0].name if len(settings.services) == 1 else None
        deployments += read_deploy_log(settings.deploy_log, single)

    deployed = {d["commit_sha"].lower() for d in deployments}
    tips = [found[0], *existing(root, sorted(deployed))]
    counts = ReadCounts()
    for batch in commit_batches(
        root, settings.repo, tips, sink.cursor(scope, "commits"), "commits", scope, settings.files, counts
    ):
        sink.write(batch)
    result.commits, result.files = counts.commits, counts.files
    result.quarantined += counts.quarantined + len(peeled.quarantined)
    result.repaired_timestamps += counts.repaired
    if result.repaired_timestamps:
        result.warnings.append(
            f"{result.repaired_timestamps} commits or tags have a malformed timezone (git fsck calls it "
            "bad): their exact instant is kept, read as UTC"
        )

    if deployments or complete or peeled.quarantined:
        batch = Batch(scope, "deployments", rows={"deployments": deployments}, complete=complete)
        batch.add_raw("deployments", [Record(d["deployment_id"], jsonable(d)) for d in deployments])
        batch.quarantined += peeled.quarantined
        sink.write(batch)
    result.deployments = len(deployments)
    # a deployment with a tier says itself whether it is production; the others go by their environment's name
    result.production_tier = any(d.get("environment_tier") == "production" for d in deployments)
    result.environments = {d["environment"] for d in deployments if not d.get("environment_tier")}
    return result
