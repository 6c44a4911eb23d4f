"""dora.toml: read once, every section checked by the part of the product that owns it.

This module only composes: each section's keys and rules are declared with its owner (warehouse/, the
collectors, reports/, dashboard/), so a typo in any section fails every command, not only the one using it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.git.settings import GitSection
from collectors.github import settings as github_settings
from collectors.gitlab import settings as gitlab_settings
from collectors.pagerduty import settings as pagerduty_settings
from dashboard.settings import DashboardSettings
from reports import settings as report_settings
from warehouse import settings
from warehouse.metric_settings import Config, MetricsSettings, WarehouseSettings
from warehouse.settings import ConfigError, Section

__all__ = ["SECTIONS", "Config", "ConfigError", "load", "parse"]

# Each section of dora.toml and what checks it: a model, or a function of the section's body.
SECTIONS: dict[str, type[Section] | Callable[[Any], object]] = {
    "warehouse": WarehouseSettings,
    "metrics": MetricsSettings,
    "github": github_settings.parse,
    "gitlab": gitlab_settings.parse,
    "pagerduty": pagerduty_settings.parse,
    "git": GitSection,
    "report": report_settings.ReportSettings,
    "smtp": report_settings.SmtpSettings,
    "schedule": report_settings.schedule,
    "dashboard": DashboardSettings,
}


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    """dora.toml's tables, every section checked by its owner in the order of the file."""
    for name, body in data.items():
        check = SECTIONS.get(name)
        if check is None:
            raise ConfigError(f"{name}: unknown section (known: {', '.join(sorted(SECTIONS))})")
        if isinstance(check, type):
            settings.parse(check, body, name)
        else:
            check(body)
    return Config.of(data, path)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read dora.toml: the given path (must exist), else $DORA_CONFIG, else ./dora.toml if present."""
    return settings.read(path, parse) or Config()
