"""Every command is documented in the README and has --help with an example (sqlite-utils' test_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from doralytics.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text()


def is_group(command) -> bool:
    return hasattr(command, "commands")  # typer vendors click: no isinstance against click.Group


def commands(group, prefix: str = "dora") -> list[tuple[str, object]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if is_group(command):
            found.extend(commands(command, f"{prefix} {name}"))
    return found


COMMANDS = commands(typer.main.get_command(app))


def test_there_are_commands():
    assert {"dora import", "dora metrics", "dora explain", "dora sql", "dora export csv", "dora demo"} <= {
        name for name, _ in COMMANDS
    }


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_command_is_in_the_readme_and_has_an_example(name, command):
    assert f"`{name}" in README, f"{name} is not documented in README.md"
    if not is_group(command):
        assert "Example:" in (command.help or ""), f"{name} --help has no example"


def test_every_metrics_setting_is_in_the_readme():
    from doralytics.config import MetricsSettings

    for key in MetricsSettings.__dataclass_fields__:
        assert f"\n{key} = " in README or f"[metrics.{key}" in README, key
