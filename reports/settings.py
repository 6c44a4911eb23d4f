"""The [report], [smtp] and [[schedule]] sections of dora.toml: errors name the key.

dora.toml is checked when it is read, so a typo in a schedule fails at `dora schedule --list`, not at 08:00
on Monday.
"""

from __future__ import annotations

import datetime as dt
import shlex
import urllib.parse
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from warehouse import settings
from warehouse.settings import Bool, ConfigError, Int, NonEmpty, NonNegative, Section

DEFAULT_OUT_DIR = "reports-out"
DEFAULT_PR_URL = "https://github.com/{repo}/pull/{number}"
DEFAULT_COMMIT_URL = "https://github.com/{repo}/commit/{sha}"


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _url(value: str) -> str:
    """An http(s) URL with a host. The message never repeats the URL: it may hold a password or a token."""
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError("expected an http:// or https:// URL, got one whose port is not a number") from exc
    if not parts.scheme:
        raise ValueError("expected an http:// or https:// URL, got one without a scheme")
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// URL, got a {parts.scheme}: URL")
    if not parts.hostname:
        raise ValueError("expected an http:// or https:// URL, got one without a host")
    return value


def _template(*fields: str) -> AfterValidator:
    """A URL whose placeholders are only `fields`, e.g. {repo} and {number}."""

    def check(value: str) -> str:
        try:
            value.format(**dict.fromkeys(fields, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may only use {', '.join('{' + f + '}' for f in fields)}") from exc
        return value

    return AfterValidator(check)


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (e.g. Europe/Berlin, UTC)") from exc
    return value


def _cron(value: str) -> str:
    from reports.schedule import trigger  # APScheduler's own parser (imported only when there are jobs)

    # A cron whose day and month never meet (31 2: February 31) parses, then never fires: say so now.
    # (The time zone does not matter: a date that exists somewhere exists in every zone.)
    if trigger(value).get_next_fire_time(None, dt.datetime.now(dt.UTC)) is None:
        raise ValueError(f"{value!r} never fires: no date has that day in that month (and weekday)")
    return value


def _command(value: str) -> str:
    try:
        shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot split {value!r}: {exc}") from exc
    return value


Url = Annotated[NonEmpty, AfterValidator(_url)]
# A list of strings; one string is a list of one.
Items = Annotated[tuple[NonEmpty, ...], BeforeValidator(_one_or_many)]
Format = Literal["html", "md", "json"]


class ReportSettings(Section):
    out_dir: NonEmpty = DEFAULT_OUT_DIR
    format: Format = "html"
    title: NonEmpty = "Weekly delivery report"
    teams: Items = ()
    # Where a PR or commit lives, for the links of the slowest changes (GitLab: {repo}/-/merge_requests/..).
    pr_url: Annotated[Url, _template("repo", "number")] = DEFAULT_PR_URL
    commit_url: Annotated[Url, _template("repo", "sha")] = DEFAULT_COMMIT_URL
    # Where the written reports are served, if anywhere: the webhook message links to public_url/<file>.
    public_url: Url | None = None
    template_dir: NonEmpty | None = None
    interactive: Bool = False
    email: Items = ()
    webhook: Url | None = None


class SmtpSettings(Section):
    unknown_hint = "the password comes from DORA_SMTP_PASSWORD"

    host: NonEmpty = "localhost"
    port: Int = Field(25, ge=1, le=65535)
    starttls: Bool = False
    ssl: Bool = False
    user: NonEmpty | None = None
    sender: NonEmpty = Field("doralytics@localhost", alias="from")  # TOML says `from`, Python cannot
    timeout: NonNegative = 30.0
    attempts: Int = Field(3, ge=1, le=20)
    retry_seconds: NonNegative = 5.0

    @field_validator("ssl")
    @classmethod
    def _one_tls(cls, ssl: bool, info: ValidationInfo) -> bool:
        if ssl and info.data.get("starttls"):
            raise ValueError("choose ssl (implicit TLS, port 465) or starttls, not both")
        return ssl


class Job(Section):
    """One [[schedule]] entry: when, what to collect first, which report to whom."""

    name: NonEmpty
    # 5 crontab fields (minute hour day month weekday), or 6 with seconds first (for tests and demos)
    cron: Annotated[NonEmpty, AfterValidator(_cron)]
    timezone: Annotated[NonEmpty, AfterValidator(_time_zone)] = "UTC"
    collect: Annotated[
        tuple[Annotated[NonEmpty, AfterValidator(_command)], ...], BeforeValidator(_one_or_many)
    ] = ()
    format: Format = "html"
    teams: Items = ()
    email: Items = ()
    webhook: Url | None = None
    out_dir: NonEmpty | None = None


def report_settings(sections: dict[str, Any]) -> ReportSettings:
    return settings.parse(ReportSettings, sections.get("report"), "report")


def smtp_settings(sections: dict[str, Any]) -> SmtpSettings:
    return settings.parse(SmtpSettings, sections.get("smtp"), "smtp")


def schedule(raw: Any) -> list[Job]:
    """The [[schedule]] entries of dora.toml, each a Job; job names are unique."""
    if isinstance(raw, dict):
        raise ConfigError("schedule: write [[schedule]] (a list of jobs), not [schedule]")
    if not isinstance(raw, list):
        raise ConfigError("schedule: expected [[schedule]] entries")
    out: list[Job] = []
    for index, body in enumerate(raw):
        job = settings.parse(Job, body, "schedule", index)
        if any(other.name == job.name for other in out):
            raise ConfigError(f"schedule[{index}].name: {job.name!r} is used by another job")
        out.append(job)
    return out


def jobs(sections: dict[str, Any]) -> list[Job]:
    return schedule(sections.get("schedule", []))
