"""The tags of a repository peeled to the commits they deploy, with the time of each deployment.

A tag is a deployment of the commit it peels to (a tag of a tag included), at the tagger date of an annotated
tag, or the committer date of the commit for a lightweight one (an annotated tag without a tagger line: the
commit's date too). A tag that peels to no commit (a tree, a blob, a missing object) is skipped, and said.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from collectors.git.objects import Malformed, describe, parse_commit, parse_tag, read_objects
from collectors.git.repo import git
from warehouse.batch import Quarantined


@dataclass(frozen=True)
class Ref:
    name: str  # without refs/tags/
    sha: str
    kind: str  # commit, tag, tree, blob


@dataclass(frozen=True)
class Peeled:
    name: str
    commit: str
    at: dt.datetime


@dataclass
class PeelResult:
    peeled: dict[str, Peeled] = field(default_factory=dict)  # tag name -> its commit and time
    skipped: list[str] = field(default_factory=list)  # warnings naming each tag skipped
    quarantined: list[Quarantined] = field(default_factory=list)
    repaired: int = 0


def list_tags(path: Path | str) -> list[Ref]:
    """Every tag of the repository with what its ref points at. Ref names hold no space, control character
    or NUL (git check-ref-format), and the fields are NUL-separated anyway."""
    out = git(path, "for-each-ref", "--format=%(objectname)%00%(objecttype)%00%(refname)", "refs/tags")
    refs = []
    for line in out.split("\n"):
        parts = line.split("\0")
        if len(parts) == 3:
            refs.append(Ref(parts[2].removeprefix("refs/tags/"), parts[0], parts[1]))
    return refs


def peel(path: Path | str, refs: Iterable[Ref]) -> PeelResult:
    """Each tag's commit and deployment time; the tags that reach no commit skipped with the reason."""
    result = PeelResult()
    # name -> (the object reached so far, its type, the tagger time of the outermost annotated tag)
    pending: dict[str, tuple[str, str, dt.datetime | None]] = {r.name: (r.sha, r.kind, None) for r in refs}
    objects: dict[str, tuple[str | None, bytes]] = {}
    for _depth in range(16):  # a tag of a tag of ... ends long before this
        wanted = sorted(
            {sha for sha, kind, _ in pending.values() if kind in ("tag", "commit")} - set(objects)
        )
        for sha, kind, data in read_objects(path, wanted):
            objects[sha] = (kind, data)
        done = True
        for name, (sha, kind, at) in list(pending.items()):
            if kind != "tag":
                continue
            done = False
            found, data = objects.get(sha, (None, b""))
            if found != "tag":
                result.skipped.append(f"tag {name!r}: its object {sha} is missing; skipped")
                del pending[name]
                continue
            try:
                tag = parse_tag(data)
            except Malformed as exc:
                result.quarantined.append(Quarantined("tags", name, str(exc), describe(data)))
                del pending[name]
                continue
            if at is None and tag.tagger is not None:
                at = tag.tagger.at
                result.repaired += tag.tagger.repaired
            pending[name] = (tag.target, tag.target_type, at)
        if done:
            break
    for name, (sha, kind, at) in sorted(pending.items()):
        if kind != "commit":
            result.skipped.append(
                f"tag {name!r} points at a {kind} ({sha}), not a commit: not a deployment; skipped"
            )
            continue
        found, data = objects.get(sha, (None, b""))
        if found != "commit":
            result.skipped.append(f"tag {name!r}: its commit {sha} is missing from the repository; skipped")
            continue
        if at is None:
            try:
                commit = parse_commit(sha, data)
            except Malformed as exc:
                problem = f"its commit {sha} has no usable time: {exc}"
                result.quarantined.append(Quarantined("tags", name, problem, describe(data)))
                continue
            at = commit.row["committed_at"] or commit.row["authored_at"]
            result.repaired += commit.repaired
        result.peeled[name] = Peeled(name, sha, at)
    return result
