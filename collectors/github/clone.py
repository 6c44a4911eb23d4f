"""`clone = true`: a repository's commits from a blobless bare clone read with git (collectors/git/repo.py:
shas from `git rev-list`, objects from `git cat-file --batch`, no message can forge a row), instead of
paging the commits API (100k commits in a few seconds). With `files`, each commit's changed files too (a
blobless clone has every tree: no blob is fetched)."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from collectors.base import CollectorError
from collectors.git.objects import existing
from collectors.git.repo import ReadCounts, commit_batches, git
from warehouse.batch import Batch


def clone_url(api_url: str, repo: str, template: str | None) -> str:
    if template:
        return template.format(repo=repo)
    host = re.sub(r"^(https?://)api\.github\.com/?$", r"\1github.com", api_url.rstrip("/"))
    host = re.sub(r"/api/v3$", "", host)
    return f"{host}/{repo}.git"


def clone_commits(
    url: str,
    target: Path,
    repo: str,
    branch: str,
    token: str | None,
    cursor: dict[str, Any] | None,
    files: bool = False,
    shas: Sequence[str] = (),
    counts: ReadCounts | None = None,
) -> Iterator[Batch]:
    """Fetch `branch` into the bare clone at `target` (cloned on first use), then the batches of the
    commits new since `cursor` (entity git_commits) reachable from the branch and from those of `shas`
    (deployed commits) the clone holds; with `files`, their commit_files rows too. `counts` gathers what
    was read (commits, files, quarantined, repaired timestamps)."""
    env: dict[str, str] = {}
    if token and url.startswith("http"):
        # through the environment, not argv: a token on a command line shows in `ps`
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    if not (target / "HEAD").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        git(
            target.parent,
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            "--single-branch",
            "--branch",
            branch,
            url,
            target.name,
            env=env,
        )
    else:
        git(
            target,
            "fetch",
            "--quiet",
            "--filter=blob:none",
            url,
            f"+refs/heads/{branch}:refs/heads/{branch}",
            env=env,
        )
    have = set(existing(target, shas))
    missing = [sha for sha in dict.fromkeys(s.lower() for s in shas) if sha not in have]
    if missing:
        # deployed commits on other branches: GitHub serves any reachable commit by its sha
        # one not served (a force-pushed branch) stays an unknown sha
        with contextlib.suppress(CollectorError):
            git(target, "fetch", "--quiet", "--filter=blob:none", url, *missing, env=env)
    tips = existing(target, [f"refs/heads/{branch}^{{commit}}", *shas])
    yield from commit_batches(target, repo, tips, cursor, "git_commits", repo, files, counts)
