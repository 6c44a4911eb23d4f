"""A git repository for tests whose every commit and tag gets the date we say."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


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

    def git(self, *args: str, when: str = "2026-03-02T09:00:00+00:00") -> str:
        env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        done = subprocess.run(["git", "-C", str(self.path), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def commit(self, name: str, message: str, when: str) -> str:
        (self.path / name).write_text(message + "\n")
        self.git("add", name)
        self.git("commit", "-q", "-m", message, when=when)
        return self.git("rev-parse", "HEAD")


def day(d: int, h: int, m: int = 0) -> str:
    return f"2026-03-{d:02d}T{h:02d}:{m:02d}:00+00:00"
