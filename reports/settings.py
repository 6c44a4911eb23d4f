"""The [report], [smtp] and [[schedule]] sections of dora.toml, validated here: errors name the key.

config.py keeps these sections verbatim (Config.sections); this module owns their keys and types, so a typo
in a schedule fails at `dora schedule --list`, not at 08:00 on Monday.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from doralytics.config import ConfigError

FORMATS = ("html", "md")
DEFAULT_OUT_DIR = "reports-out"
DEFAULT_PR_URL = "https://github.com/{repo}/pull/{number}"
DEFAULT_COMMIT_URL = "https://github.com/{repo}/commit/{sha}"


@dataclass(frozen=True)
class ReportSettings:
    out_dir: str = DEFAULT_OUT_DIR
    format: str = "html"
    title: str = "Weekly delivery report"
    teams: tuple[str, ...] = ()
    # Where a PR or commit lives, for the links of the slowest changes (GitLab: {repo}/-/merge_requests/..).
    pr_url: str = DEFAULT_PR_URL
    commit_url: str = DEFAULT_COMMIT_URL
    # Where the written reports are served, if anywhere: the webhook message links to public_url/<file>.
    public_url: str | None = None
    template_dir: str | None = None
    interactive: bool = False
    email: tuple[str, ...] = ()
    webhook: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    user: str | None = None
    sender: str = "doralytics@localhost"
    timeout: float = 30.0
    attempts: int = 3
    retry_seconds: float = 5.0


@dataclass(frozen=True)
class Job:
    """One [[schedule]] entry: when, what to collect first, which report to whom."""

    name: str
    cron: str
    timezone: str = "UTC"
    collect: tuple[str, ...] = ()
    format: str = "html"
    teams: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    webhook: str | None = None
    out_dir: str | None = None


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: expected a non-empty string, got {value!r}")
    return value


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{key}: expected a list of strings")
    return tuple(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return value


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key}: expected an integer from {low} to {high}, got {value!r}")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key}: expected a non-negative number, got {value!r}")
    return float(value)


def _format(key: str, value: Any) -> str:
    if value not in FORMATS:
        raise ConfigError(f"{key}: expected one of {', '.join(FORMATS)}, got {value!r}")
    return value


def _url(key: str, value: Any) -> str:
    value = _str(key, value)
    if not re.match(r"^https?://", value):
        raise ConfigError(f"{key}: expected an http:// or https:// URL, got {value!r}")
    return value


def _template(key: str, value: Any, fields: tuple[str, ...]) -> str:
    value = _url(key, value)
    try:
        value.format(**dict.fromkeys(fields, "x"))
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{key}: may only use {', '.join('{' + f + '}' for f in fields)}") from exc
    return value


def timezone(key: str, value: Any) -> str:
    value = _str(key, value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{key}: unknown time zone {value!r} (e.g. Europe/Berlin, UTC)") from exc
    return value


def _table(key: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ConfigError(f"{key}: expected a table")
    return body


def _unknown(key: str, name: str, known: type) -> ConfigError:
    return ConfigError(f"{key}.{name}: unknown key (known: {', '.join(known.__dataclass_fields__)})")


def report_settings(sections: dict[str, Any]) -> ReportSettings:
    body = _table("report", sections.get("report", {}))
    values: dict[str, Any] = {}
    for name, value in body.items():
        key = f"report.{name}"
        if name in ("out_dir", "title", "template_dir"):
            values[name] = _str(key, value)
        elif name == "format":
            values[name] = _format(key, value)
        elif name in ("teams", "email"):
            values[name] = _strings(key, value)
        elif name == "pr_url":
            values[name] = _template(key, value, ("repo", "number"))
        elif name == "commit_url":
            values[name] = _template(key, value, ("repo", "sha"))
        elif name in ("public_url", "webhook"):
            values[name] = _url(key, value)
        elif name == "interactive":
            values[name] = _bool(key, value)
        else:
            raise _unknown("report", name, ReportSettings)
    return ReportSettings(**values)


SMTP_KEYS = {"from": "sender"}  # TOML says `from`, Python cannot


def smtp_settings(sections: dict[str, Any]) -> SmtpSettings:
    body = _table("smtp", sections.get("smtp", {}))
    values: dict[str, Any] = {}
    for name, value in body.items():
        key = f"smtp.{name}"
        if name in ("host", "user", "from"):
            values[SMTP_KEYS.get(name, name)] = _str(key, value)
        elif name == "port":
            values[name] = _int(key, value, 1, 65535)
        elif name in ("starttls", "ssl"):
            values[name] = _bool(key, value)
        elif name in ("timeout", "retry_seconds"):
            values[name] = _number(key, value)
        elif name == "attempts":
            values[name] = _int(key, value, 1, 20)
        else:
            known = "host, port, starttls, ssl, user, from, timeout, attempts, retry_seconds"
            raise ConfigError(
                f"{key}: unknown key (known: {known}; the password comes from DORA_SMTP_PASSWORD)"
            )
    settings = SmtpSettings(**values)
    if settings.ssl and settings.starttls:
        raise ConfigError("smtp.ssl: choose ssl (implicit TLS, port 465) or starttls, not both")
    return settings


def cron_fields(key: str, expression: Any) -> list[str]:
    """5 crontab fields (minute hour day month weekday), or 6 with seconds first (for tests and demos)."""
    expression = _str(key, expression)
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ConfigError(
            f"{key}: expected 5 crontab fields (minute hour day month weekday), e.g. '0 8 * * mon', "
            f"got {expression!r}"
        )
    return fields


def jobs(sections: dict[str, Any]) -> list[Job]:
    from reports.schedule import trigger  # validates the expression with APScheduler's own parser

    raw = sections.get("schedule", [])
    if isinstance(raw, dict):
        raise ConfigError("schedule: write [[schedule]] (a list of jobs), not [schedule]")
    if not isinstance(raw, list):
        raise ConfigError("schedule: expected [[schedule]] entries")
    out: list[Job] = []
    for index, body in enumerate(raw):
        where = f"schedule[{index}]"
        body = _table(where, body)
        values: dict[str, Any] = {}
        for name, value in body.items():
            key = f"{where}.{name}"
            if name in ("name", "cron", "out_dir"):
                values[name] = _str(key, value)
            elif name == "timezone":
                values[name] = timezone(key, value)
            elif name == "format":
                values[name] = _format(key, value)
            elif name in ("teams", "email"):
                values[name] = _strings(key, value)
            elif name == "collect":
                values[name] = _strings(key, value)
                for item in values[name]:
                    try:
                        shlex.split(item)
                    except ValueError as exc:
                        raise ConfigError(f"{key}: cannot split {item!r}: {exc}") from exc
            elif name == "webhook":
                values[name] = _url(key, value)
            else:
                known = "name, cron, timezone, collect, format, teams, email, webhook, out_dir"
                raise ConfigError(f"{key}: unknown key (known: {known})")
        for required in ("name", "cron"):
            if required not in values:
                raise ConfigError(f"{where}.{required}: required")
        job = Job(**values)
        if any(other.name == job.name for other in out):
            raise ConfigError(f"{where}.name: {job.name!r} is used by another job")
        try:
            trigger(job.cron, job.timezone)
        except ValueError as exc:
            raise ConfigError(f"{where}.cron: {exc}") from exc
        out.append(job)
    return out
