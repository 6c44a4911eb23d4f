"""Every command is documented in the README and has --help with an example (sqlite-utils' test_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from pydantic import BaseModel

from doralytics.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


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
    from warehouse.metric_settings import MetricsSettings

    for key in MetricsSettings.model_fields:
        assert f"\n{key} = " in README or f"[metrics.{key}" in README, key


def toml_keys(*models: type[BaseModel]) -> set[str]:
    """The keys a dora.toml table may hold: the models' fields, by their TOML names."""
    return {field.alias or name for model in models for name, field in model.model_fields.items()}


def test_every_key_of_every_section_is_in_the_readme():
    import re

    from collectors.git.settings import GitSection
    from collectors.github import settings as github_settings
    from collectors.gitlab import settings as gitlab_settings
    from collectors.pagerduty.settings import PagerdutySection
    from dashboard.settings import DashboardSettings
    from reports import settings as report_settings

    sections = {
        "github": toml_keys(github_settings.GithubSection, github_settings.RepoTable),
        "gitlab": toml_keys(gitlab_settings.GitlabSection, gitlab_settings.ProjectTable),
        "pagerduty": toml_keys(PagerdutySection),
        "report": toml_keys(report_settings.ReportSettings),
        "smtp": toml_keys(report_settings.SmtpSettings),
        "schedule": toml_keys(report_settings.Job),
        "git": toml_keys(GitSection),
        "dashboard": toml_keys(DashboardSettings),
    }
    for section, keys in sections.items():
        missing = sorted(
            k for k in keys if not re.search(rf"(^|[\s`\[(.]){re.escape(k)}(\s*=|`|\.)", README, re.M)
        )
        assert missing == [], f"[{section}] keys not documented in README.md: {missing}"
