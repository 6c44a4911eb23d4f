"""dora.toml: read once, every section checked by the part of the product that owns it.

This module only composes: each section's keys and rules are declared with its owner (warehouse/, the
collectors, reports/, dashboard/), so a typo in any section fails every command, not only the one using it.
An owner's rules are imported only when the file has its section: a command pays for the sections it reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warehouse import settings
from warehouse.metric_settings import Config, MetricsSettings, WarehouseSettings
from warehouse.settings import ConfigError, Section

__all__ = ["SECTIONS", "Config", "ConfigError", "load", "parse"]

# What checks a section: a model, or a function of the section's body.
Check = type[Section] | Callable[[Any], object]


def _github() -> Check:
    from collectors.github import settings as github_settings

    return github_settings.parse


def _gitlab() -> Check:
    from collectors.gitlab import settings as gitlab_settings

    return gitlab_settings.parse


def _pagerduty() -> Check:
    from collectors.pagerduty import settings as pagerduty_settings

    return pagerduty_settings.parse


def _git() -> Check:
    from collectors.git.settings import GitSection

    return GitSection


def _report() -> Check:
    from reports.settings import ReportSettings

    return ReportSettings


def _smtp() -> Check:
    from reports.settings import SmtpSettings

    return SmtpSettings


def _schedule() -> Check:
    from reports import settings as report_settings

    return report_settings.schedule


def _dashboard() -> Check:
    from dashboard.settings import DashboardSettings

    return DashboardSettings


# Each section of dora.toml and (imported when a file has the section) what checks it.
SECTIONS: dict[str, Callable[[], Check]] = {
    "warehouse": lambda: WarehouseSettings,
    "metrics": lambda: MetricsSettings,
    "github": _github,
    "gitlab": _gitlab,
    "pagerduty": _pagerduty,
    "git": _git,
    "report": _report,
    "smtp": _smtp,
    "schedule": _schedule,
    "dashboard": _dashboard,
}


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    """dora.toml's tables, every section checked by its owner in the order of the file."""
    for name, body in data.items():
        owner = SECTIONS.get(name)
        if owner is None:
            raise ConfigError(f"{name}: unknown section (known: {', '.join(sorted(SECTIONS))})")
        check = owner()
        if isinstance(check, type):
            settings.parse(check, body, name)
        else:
            check(body)
    return Config.of(data, path)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read dora.toml: the given path (must exist), else $DORA_CONFIG, else ./dora.toml if present."""
    return settings.read(path, parse) or Config()
