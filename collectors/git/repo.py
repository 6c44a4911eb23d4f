"""A local repository read with git: which folder is a repository, the commits reachable from a set of tips
(the default branch and every deployed commit), batched from a cursor, and the files each commit changed.

Everything is read in a form no commit content can forge: shas from `git rev-list`, objects from
`git cat-file --batch` (collectors/git/objects.py), file lists NUL-separated. The GitHub collector reads
its clones with it too (collectors/github/clone.py).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.base import CollectorError
from collectors.git.objects import Malformed, describe, existing, parse_commit, read_objects
from warehouse.batch import Batch, Quarantined, Record

BATCH_COMMITS = 5000
SHA = re.compile(rb"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass
class ReadCounts:
    """What reading the history found, for the end-of-run summary."""

    commits: int = 0
    files: int = 0
    quarantined: int = 0
    repaired: int = 0  # commits whose malformed timezone was read as UTC
    problems: list[str] = field(default_factory=list)  # "sha: reason" of the quarantined


def git(path: Path | str, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            input=stdin,
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


def repository_root(path: Path) -> Path:
    """`path` itself when it is the root of a repository (a work tree's top folder or a bare repository);
    otherwise a CollectorError saying what it is and what to give instead."""
    folder = path.resolve()
    try:
        # GIT_DIR would make any folder look like that repository
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--is-bare-repository", "--is-inside-git-dir"]
            + ["--absolute-git-dir"],
            capture_output=True,
            text=True,
            errors="replace",
            env={**env, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError as exc:
        raise CollectorError("git is not installed (or not on PATH)") from exc
    if done.returncode != 0:
        if "not a git repository" in done.stderr:
            raise CollectorError(
                f"{path}: not a git repository (give the folder of a clone: `git clone URL` makes one)"
            )
        raise CollectorError(f"{path}: git rev-parse: {done.stderr.strip()[:300]}")
    bare, inside, git_dir = done.stdout.splitlines()[:3]
    if bare != "true" and inside == "true":  # the .git folder of a work tree, or a folder in it
        root = Path(git_dir).parent
        raise CollectorError(
            f"{path} is inside the .git folder of {root}: give {root} to collect that repository"
        )
    if bare == "true":
        if Path(git_dir).resolve() != folder:
            raise CollectorError(
                f"{path} is a folder inside the bare repository {git_dir}: give {git_dir} to collect it"
            )
        return folder
    top = git(folder, "rev-parse", "--show-toplevel").strip()
    if Path(top).resolve() != folder:
        raise CollectorError(
            f"{path} is a folder inside the repository {top}: `collect git` reads a whole repository; "
            f"give {top} to collect it (to count only some of its files for a service, give that service "
            "`paths` in [[git.services]] of dora.toml)"
        )
    return folder


def rev_list(path: Path | str, tips: Iterable[str], known: Iterable[str]) -> list[str]:
    """The shas of the commits reachable from `tips` and not from `known` (which must exist)."""
    lines = [*tips, *(f"^{sha}" for sha in known)]
    out = git(path, "rev-list", "--stdin", stdin="\n".join(lines) + "\n")
    return out.split()


def changed_files(path: Path | str, shas: Iterable[str]) -> dict[str, list[str]]:
    """The files each non-merge commit changed against its first parent (a root commit: all its files);
    merge commits, and commits that change nothing, have no entry. Read NUL-separated: a path may hold
    any character."""
    wanted = "".join(f"{sha}\n" for sha in shas)
    if not wanted:
        return {}
    try:
        done = subprocess.run(
            [
                "git",
                "-C",
                str(path),
                "diff-tree",
                "--stdin",
                "-r",
                "-z",
                "--root",
                "--no-renames",
                "--name-status",
            ],
            input=wanted.encode("ascii"),
            capture_output=True,
        )
    except FileNotFoundError as exc:
        raise CollectorError("git is not installed (or not on PATH)") from exc
    if done.returncode != 0:
        raise CollectorError(
            f"git diff-tree in {path}: {done.stderr.decode('utf-8', 'replace').strip()[:300]}"
        )
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    tokens = done.stdout.split(b"\0")
    i = 0
    # the output is `sha \0 (status \0 path \0)*` per commit: a path always follows a status, so a path that
    # looks like a sha is still read as a path
    while i < len(tokens):
        token = tokens[i]
        if current is not None and 1 <= len(token) <= 4 and token[:1].isalpha() and not SHA.match(token):
            if i + 1 < len(tokens):
                current.append(tokens[i + 1].decode("utf-8", "replace"))
            i += 2
            continue
        if SHA.match(token):
            current = files.setdefault(token.decode("ascii"), [])
        i += 1
    return {sha: paths for sha, paths in files.items() if paths}


def read_commits(
    path: Path | str, shas: Sequence[str], entity: str, counts: ReadCounts
) -> tuple[list[dict[str, Any]], list[Quarantined]]:
    """The canonical rows of the commits, and the quarantined ones with their reason."""
    rows: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    for sha, kind, data in read_objects(path, shas):
        try:
            if kind != "commit":
                raise Malformed(f"not a commit in the repository ({kind or 'missing'})")
            commit = parse_commit(sha, data)
        except Malformed as exc:
            quarantined.append(Quarantined(entity, sha, str(exc), describe(data)))
            counts.quarantined += 1
            counts.problems.append(f"commit {sha}: {exc}")
            continue
        counts.repaired += commit.repaired
        rows.append(commit.row)
    return rows, quarantined


def commit_batches(
    path: Path | str,
    repo: str,
    tips: Sequence[str],
    cursor: dict[str, Any] | None,
    entity: str,
    scope: str,
    files: bool = False,
    counts: ReadCounts | None = None,
) -> Iterator[Batch]:
    """The commits reachable from `tips` (commit shas) and new since the cursor's tips, in batches of rows,
    raw payloads and quarantined objects (with their files as commit_files rows when `files`); the last batch
    moves the cursor. Nothing before the last batch moves it: a run stopped halfway is read again."""
    counts = counts if counts is not None else ReadCounts()
    tips = sorted(set(tips))
    old = cursor or {}
    old_tips: list[str] = old.get("tips") or ([old["head"]] if old.get("head") else [])
    if files and not old.get("files"):
        old_tips = []  # file lists are wanted now and were not read before: read everything again
    new_cursor = {"tips": tips, "files": files}
    if old_tips == tips and old.get("files", False) == files:
        return
    # commits reachable from a tip read before were all read then (a tip rewritten away stays an object
    # until git gc; one gone is dropped and its history read again)
    known = existing(path, old_tips)
    shas = rev_list(path, tips, known)
    if not shas:
        yield Batch(scope, entity, cursor=new_cursor)
        return
    for start in range(0, len(shas), BATCH_COMMITS):
        chunk = shas[start : start + BATCH_COMMITS]
        last = start + BATCH_COMMITS >= len(shas)
        rows, quarantined = read_commits(path, chunk, entity, counts)
        out = Batch(scope, entity, cursor=new_cursor if last else None, quarantined=quarantined)
        out.add_raw(entity, [Record(f"{repo}:{r['sha']}", jsonable(r)) for r in rows])
        out.add_rows("commits", [{"repo": repo, **r} for r in rows])
        if files:
            changed = changed_files(path, [r["sha"] for r in rows if len(r["parents"]) <= 1])
            file_rows = [
                {"repo": repo, "sha": sha, "path": p} for sha, paths in changed.items() for p in paths
            ]
            out.add_rows("commit_files", file_rows)
            counts.files += len(file_rows)
        counts.commits += len(rows)
        yield out


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in row.items()}
