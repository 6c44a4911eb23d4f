"""dora.toml: loaded once, validated against declared keys and types, errors name the key."""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "dora.toml"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Tiers:
    """Thresholds of METRICS.md's tier table; each tier is the first whose test passes."""

    # deploy_days_per_week_median >= elite/high; medium: deployment_days * 30 / days >= medium
    deployment_frequency: dict[str, float] = field(
        default_factory=lambda: {"elite": 5.0, "high": 1.0, "medium": 1.0}
    )
    # lead_time_median_hours < threshold
    lead_time: dict[str, float] = field(
        default_factory=lambda: {"elite": 24.0, "high": 168.0, "medium": 720.0}
    )
    # change_failure_rate <= threshold
    change_failure_rate: dict[str, float] = field(
        default_factory=lambda: {"elite": 0.05, "high": 0.10, "medium": 0.15}
    )
    # recovery_time_median_hours < threshold
    recovery_time: dict[str, float] = field(
        default_factory=lambda: {"elite": 1.0, "high": 24.0, "medium": 168.0}
    )


@dataclass(frozen=True)
class MetricsSettings:
    production_environments: str = r"^(prod|production)([-_].*)?$"
    history_start: dt.date | None = None
    lead_time_start: str = "first_commit"
    attribution_window_hours: float = 72.0
    hotfix_labels: tuple[str, ...] = ("hotfix",)
    hotfix_branch: str = r"^hotfix[-/]"
    hotfix_title: str = r"(?i)^hotfix\b"
    tiers: Tiers = field(default_factory=Tiers)


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    warehouse: str | None = None
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    # sections owned by other parts (collectors, reports), validated by them, kept verbatim here
    sections: dict[str, Any] = field(default_factory=dict)


LEAD_TIME_STARTS = ("first_commit", "pr_opened", "merged")
TIER_NAMES = ("elite", "high", "medium")
# Sections other modules declare; their keys are validated where they are used.
OTHER_SECTIONS: set[str] = {"github", "gitlab", "pagerduty", "git", "report", "smtp", "schedule", "dashboard"}


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "a table"}


def typed(key: str, value: Any, expected: Any, regex_keys: frozenset[str] | set[str] = frozenset()) -> Any:
    """`value` if it is of the `expected` type (a tuple of types reads as "a number"), else an error
    naming the key; a key in `regex_keys` must also compile as a regular expression. For the sections
    the collectors and reports validate."""
    allowed = expected if isinstance(expected, tuple) else (expected,)
    wanted = "a number" if isinstance(expected, tuple) else _TYPE_NAMES.get(expected, expected.__name__)
    if isinstance(value, bool) and bool not in allowed:
        raise ConfigError(f"{key}: expected {wanted}, got true/false")
    if not isinstance(value, expected):
        raise ConfigError(f"{key}: expected {wanted}, got {type(value).__name__}")
    if key.rsplit(".", 1)[-1] in regex_keys:
        _regex(key, value)
    return value


def _regex(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a regular expression string, got {type(value).__name__}")
    try:
        re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{key}: invalid regular expression {value!r}: {exc}") from exc
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {type(value).__name__}")
    if value < 0:
        raise ConfigError(f"{key}: must not be negative")
    return float(value)


def _tiers(value: Any) -> Tiers:
    if not isinstance(value, dict):
        raise ConfigError("metrics.tiers: expected a table")
    defaults = Tiers()
    out = {}
    for metric, thresholds in value.items():
        key = f"metrics.tiers.{metric}"
        if metric not in Tiers.__dataclass_fields__:
            raise ConfigError(f"{key}: unknown key (known: {', '.join(Tiers.__dataclass_fields__)})")
        if not isinstance(thresholds, dict):
            raise ConfigError(f"{key}: expected a table of {', '.join(TIER_NAMES)}")
        merged = dict(getattr(defaults, metric))
        for tier, number in thresholds.items():
            if tier not in TIER_NAMES:
                raise ConfigError(f"{key}.{tier}: unknown key (known: {', '.join(TIER_NAMES)})")
            merged[tier] = _number(f"{key}.{tier}", number)
        out[metric] = merged
    return Tiers(**out)


def _metrics(raw: dict[str, Any]) -> MetricsSettings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"metrics.{key}"
        if key in ("production_environments", "hotfix_branch", "hotfix_title"):
            values[key] = _regex(name, value)
        elif key == "history_start":
            if value == "":
                values[key] = None
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                values[key] = value
            elif isinstance(value, str):
                try:
                    values[key] = dt.date.fromisoformat(value)
                except ValueError as exc:
                    raise ConfigError(f"{name}: expected a date YYYY-MM-DD or empty, got {value!r}") from exc
            else:
                raise ConfigError(f"{name}: expected a date YYYY-MM-DD or empty, got {type(value).__name__}")
        elif key == "lead_time_start":
            if value not in LEAD_TIME_STARTS:
                raise ConfigError(f"{name}: expected one of {', '.join(LEAD_TIME_STARTS)}, got {value!r}")
            values[key] = value
        elif key == "attribution_window_hours":
            values[key] = _number(name, value)
        elif key == "hotfix_labels":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{name}: expected a list of strings")
            values[key] = tuple(value)
        elif key == "tiers":
            values[key] = _tiers(value)
        else:
            known = ", ".join(MetricsSettings.__dataclass_fields__)
            raise ConfigError(f"{name}: unknown key (known: {known})")
    return MetricsSettings(**values)


GIT_KEYS = ("path", "repo", "service", "team", "deploy_tags", "deploy_log", "environment", "rev")
DASHBOARD_LINKS = ("github", "gitlab", "none")


def _strings_table(section: str, body: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(body, dict):
        raise ConfigError(f"{section}: expected a table")
    for key, value in body.items():
        if key not in keys:
            raise ConfigError(f"{section}.{key}: unknown key (known: {', '.join(keys)})")
        if not isinstance(value, str):
            raise ConfigError(f"{section}.{key}: expected a string, got {type(value).__name__}")


def _check_sections(sections: dict[str, Any]) -> None:
    """Every section is checked when dora.toml is read, so a typo fails any command, not only the one
    that would use it. The collectors and reports own their sections' rules."""
    if "git" in sections:
        _strings_table("git", sections["git"], GIT_KEYS)
    if "dashboard" in sections:
        _strings_table("dashboard", sections["dashboard"], ("links", "web_url"))
        links = sections["dashboard"].get("links")
        if links is not None and links not in DASHBOARD_LINKS:
            raise ConfigError(f"dashboard.links: expected one of {', '.join(DASHBOARD_LINKS)}, got {links!r}")
    if "github" in sections:
        from collectors.github import settings as github_settings

        github_settings.parse(sections["github"])
    if "gitlab" in sections:
        from collectors.gitlab import settings as gitlab_settings

        gitlab_settings.parse(sections["gitlab"])
    if "pagerduty" in sections:
        from collectors.pagerduty import settings as pagerduty_settings

        pagerduty_settings.parse(sections["pagerduty"])
    if {"report", "smtp", "schedule"} & set(sections):
        from reports import settings as report_settings

        report_settings.report_settings(sections)
        report_settings.smtp_settings(sections)
        if "schedule" in sections:
            report_settings.jobs(sections)


def parse(data: dict[str, Any], path: Path | None = None) -> Config:
    warehouse = None
    metrics = MetricsSettings()
    sections: dict[str, Any] = {}
    for section, body in data.items():
        if section == "warehouse":
            if not isinstance(body, dict):
                raise ConfigError("warehouse: expected a table")
            for key, value in body.items():
                if key != "path":
                    raise ConfigError(f"warehouse.{key}: unknown key (known: path)")
                if not isinstance(value, str):
                    raise ConfigError("warehouse.path: expected a string")
                warehouse = value
        elif section == "metrics":
            if not isinstance(body, dict):
                raise ConfigError("metrics: expected a table")
            metrics = _metrics(body)
        elif section in OTHER_SECTIONS:
            sections[section] = body
        else:
            known = ", ".join(sorted({"warehouse", "metrics", *OTHER_SECTIONS}))
            raise ConfigError(f"{section}: unknown section (known: {known})")
    _check_sections(sections)
    return Config(path=path, warehouse=warehouse, metrics=metrics, sections=sections)


def load(path: str | os.PathLike | None = None) -> Config:
    """Read dora.toml: the given path (must exist), else $DORA_CONFIG, else ./dora.toml if present."""
    explicit = path or os.environ.get("DORA_CONFIG")
    candidate = Path(explicit) if explicit else Path(CONFIG_FILE)
    if not candidate.exists():
        if explicit:
            raise ConfigError(f"{candidate}: no such file")
        return Config()
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: {exc}") from exc
    try:
        return parse(data, candidate)
    except ConfigError as exc:
        raise ConfigError(f"{candidate}: {exc}") from exc
