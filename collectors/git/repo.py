"""A local repository read with git: the commit graph (`git log` with parents), batched from a cursor.

The GitHub collector reads its clones with it too (collectors/github/clone.py).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from collectors.base import CollectorError, parse_ts
from warehouse.batch import Batch, Record

FIELD, RECORD = "\x1f", "\x1e"
LOG_FORMAT = FIELD.join(["%H", "%P", "%aI", "%cI", "%an", "%B"]) + RECORD
BATCH_COMMITS = 5000


def git(path: Path | str, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, **(env or {}), "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError as exc:
        raise CollectorError("git is not installed (or not on PATH)") from exc
    if done.returncode != 0:
        raise CollectorError(f"git {' '.join(args[:2])} in {path}: {done.stderr.strip()[:300]}")
    return done.stdout


def log(path: Path | str, rev: str, exclude: str | None = None) -> Iterator[dict[str, Any]]:
    """Commits reachable from rev (not from exclude) as canonical rows without the repo column."""
    args = ["log", f"--format={LOG_FORMAT}", rev]
    if exclude:
        args.append(f"^{exclude}")
    for chunk in git(path, *args).split(RECORD):
        chunk = chunk.lstrip("\n")
        if not chunk:
            continue
        sha, parents, authored, committed, author, message = chunk.split(FIELD, 5)
        yield {
            "sha": sha,
            "parents": parents.split(),
            "authored_at": parse_ts(authored),
            "committed_at": parse_ts(committed),
            "author": author,
            "message": message.rstrip("\n"),
        }


def resolve(path: Path | str, rev: str) -> str | None:
    try:
        return git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
    except CollectorError:
        return None


def is_ancestor(path: Path | str, old: str, new: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(path), "merge-base", "--is-ancestor", old, new], capture_output=True
    )
    return done.returncode == 0


def commit_batches(
    path: Path | str, repo: str, rev: str, cursor: dict[str, Any] | None, entity: str, scope: str
) -> Iterator[Batch]:
    """New commits since the cursor's head, in batches; the last batch moves the cursor."""
    head = resolve(path, rev)
    if head is None:
        raise CollectorError(f"{path}: no commit at {rev} (an empty repository?)")
    old = (cursor or {}).get("head")
    if old == head:
        return
    exclude = old if old and resolve(path, old) and is_ancestor(path, old, head) else None
    pending: list[dict[str, Any]] = []

    def batch(rows: list[dict[str, Any]], last: bool) -> Batch:
        out = Batch(scope, entity, cursor={"head": head} if last else None)
        out.add_raw(entity, [Record(f"{repo}:{r['sha']}", jsonable(r)) for r in rows])
        out.add_rows("commits", [{"repo": repo, **r} for r in rows])
        return out

    for row in log(path, head, exclude):
        pending.append(row)
        if len(pending) >= BATCH_COMMITS:
            yield batch(pending, False)
            pending = []
    yield batch(pending, True)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in row.items()}
