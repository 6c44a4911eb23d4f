"""`--help` of every command keeps the bracketed text of its help as written: `[default: folder name]`,
`[default: unassigned]`, "Run the [[schedule]] jobs" (rich markup would swallow it)."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from doralytics.cli import common


def commands() -> list[tuple[list[str], Any]]:
    """Every command and group of `dora`, with the words that name it (typer carries its own click)."""
    import doralytics.cli  # noqa: F401  (registers every command on the app)

    root = typer.main.get_command(common.app)
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    walk([], root)
    return found


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_help_keeps_its_bracketed_text() -> None:
    runner = CliRunner()
    checked = 0
    for path, command in commands():
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        bracketed = {m for t in texts for m in re.findall(r"\[[^\]\n]*\]+", flat(t))}
        done = runner.invoke(common.app, [*path, "--help"], terminal_width=200)
        assert done.exit_code == 0, (path, done.output)
        for text in bracketed:
            assert text in flat(done.output), f"dora {' '.join(path)} --help lost {text!r}"
            checked += 1
    assert len(commands()) > 20
    assert checked >= 3  # [default: folder name], [default: unassigned], [[schedule]] at least


def test_the_known_cases() -> None:
    runner = CliRunner()
    git = flat(runner.invoke(common.app, ["collect", "git", "--help"], terminal_width=200).output)
    assert "[default: folder name]" in git and "[default: unassigned]" in git
    schedule = [p for p, c in commands() if "[[schedule]]" in (c.help or "")]
    assert schedule, "a command says 'Run the [[schedule]] jobs'"
    out = flat(runner.invoke(common.app, [*schedule[0], "--help"], terminal_width=200).output)
    assert "Run the [[schedule]] jobs" in out
