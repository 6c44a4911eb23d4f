"""A git repository for tests whose every commit and tag gets the date we say, and whose odd objects
(malformed timezones, absurd times, any bytes in a message) are written with git itself."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class Repo:
    """A git repository whose every commit and tag gets the date we say."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.name", "Alice")
        self.git("config", "user.email", "alice@example.com")
        self.git("config", "commit.gpgsign", "false")
        self.git("config", "tag.gpgsign", "false")
        self.git("config", "advice.nestedTag", "false")

    def git(self, *args: str, when: str = "2026-03-02T09:00:00+00:00") -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        done = subprocess.run(["git", "-C", str(self.path), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def commit(self, name: str, message: str, when: str) -> str:
        """A commit writing `name` (folders made as needed), on the current branch."""
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(message + "\n")
        self.git("add", name)
        self.git("commit", "-q", "-m", message, when=when)
        return self.git("rev-parse", "HEAD")

    def literally(self, kind: str, content: bytes) -> str:
        """An object written as given, unchecked (`git hash-object --literally`): what fsck would refuse."""
        done = subprocess.run(
            ["git", "-C", str(self.path), "hash-object", "-t", kind, "--literally", "-w", "--stdin"],
            input=content,
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().strip()

    def raw_commit(
        self,
        parents: list[str],
        message: bytes,
        author: str,
        committer: str | None = None,
        headers: bytes = b"",
        tree: str | None = None,
    ) -> str:
        """A commit object with the author/committer lines' `EPOCH TZ` as given, e.g. "1772442000 +051800"."""
        tree = tree or self.literally("tree", b"")
        lines = [f"tree {tree}".encode(), *(f"parent {p}".encode() for p in parents)]
        lines.append(f"author Alice <alice@example.com> {author}".encode())
        lines.append(f"committer Alice <alice@example.com> {committer or author}".encode())
        return self.literally("commit", b"\n".join(lines) + b"\n" + headers + b"\n" + message)

    def raw_tag(self, name: str, target: str, kind: str, tagger: str, message: bytes = b"release\n") -> str:
        """An annotated tag object with the tagger line's `EPOCH TZ` as given, and its ref."""
        content = f"object {target}\ntype {kind}\ntag {name}\ntagger Alice <alice@example.com> {tagger}\n\n"
        sha = self.literally("tag", content.encode() + message)
        self.git("update-ref", f"refs/tags/{name}", sha)
        return sha


def day(d: int, h: int, m: int = 0) -> str:
    return f"2026-03-{d:02d}T{h:02d}:{m:02d}:00+00:00"


def epoch(d: int, h: int, m: int = 0, s: int = 0) -> int:
    """Seconds since 1970 of 2026-03-d h:m:s UTC."""
    return int(dt.datetime(2026, 3, d, h, m, s, tzinfo=dt.UTC).timestamp())
