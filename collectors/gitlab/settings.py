"""The [gitlab] section of dora.toml, validated here (config.py passes it through verbatim).

```toml
[gitlab]
url = "https://gitlab.example.com"          # self-managed; default https://gitlab.com
projects = ["acme/platform/checkout"]       # and/or: group = "acme" (subgroups included)
ca_bundle = "/etc/ssl/certs/corp-ca.pem"    # a private or corporate CA
deploy_job = '^deploy(-prod)?$'             # also: finished jobs of this name on the default branch

[gitlab.project."acme/platform/checkout"]   # per-project options override the defaults above
service = "checkout-api"
team = "payments"
incidents = false                           # incidents come from PagerDuty for this service
```
Errors name the key (`gitlab.project."acme/x".deploy_job: ...`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from doralytics.config import ConfigError, typed

PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


@dataclass(frozen=True)
class ProjectSettings:
    path: str  # group/sub/name, as GitLab's path_with_namespace
    service: str
    team: str
    incidents: bool = True  # GitLab issues of type incident -> core.incidents
    pipelines: bool = True  # pipelines -> core.pipeline_runs
    deploy_job: str | None = None  # regex: finished jobs of this name on the default branch are deployments
    environment: str = "production"  # the environment of job deployments


@dataclass(frozen=True)
class GitlabSettings:
    projects: tuple[ProjectSettings, ...] = ()
    group: str | None = None
    url: str = "https://gitlab.com"
    ca_bundle: str | None = None
    workers: int = 4
    per_page: int = 100
    # notes by these users are not reviews: GitLab's project/group access-token bots and the usual apps
    bot_pattern: str = r"(?i)(^(project|group)_\d+_bot|\[bot\]$|^(renovate|dependabot|gitlab-bot|ghost)\b)"
    # an incident's severity when GitLab reports none: the first label matching; group 1 is kept
    severity_pattern: str = r"(?i)^(?:severity(?:::|[:/ -]))?((?:sev|s|p)\d+|critical|high|medium|low)$"
    # METRICS.md's production_environments ([metrics] in dora.toml): --dry-run and --since baselines
    production_pattern: str = r"^(prod|production)([-_].*)?$"
    since: dt.date | None = None
    full: bool = False
    timeout: float = 30.0
    retries: int = 10  # python-gitlab's own retries of 429 and 5xx
    jobs_lookback_hours: float = 24.0  # a job listed late (it ran long) is still found on the next run
    project_defaults: dict[str, Any] = field(default_factory=dict)

    def for_project(self, path: str) -> ProjectSettings:
        for known in self.projects:
            if known.path.lower() == path.lower():
                return known
        return _project(path, {}, self.project_defaults)

    def with_projects(self, paths: list[str]) -> GitlabSettings:
        return replace(self, projects=tuple(self.for_project(p) for p in paths))


PROJECT_KEYS: dict[str, Any] = {
    "service": str,
    "team": str,
    "incidents": bool,
    "pipelines": bool,
    "deploy_job": str,
    "environment": str,
}
TOP_KEYS: dict[str, Any] = {
    "url": str,
    "projects": list,
    "group": str,
    "ca_bundle": str,
    "workers": int,
    "per_page": int,
    "bot_pattern": str,
    "severity_pattern": str,
    "timeout": (int, float),
    "retries": int,
    "jobs_lookback_hours": (int, float),
    "project": dict,
}
REGEX_KEYS = {"deploy_job", "bot_pattern", "severity_pattern"}
DEFAULTABLE = ("incidents", "pipelines", "deploy_job", "environment")  # per-project keys allowed on top


def _typed(key: str, value: Any, expected: Any) -> Any:
    return typed(key, value, expected, REGEX_KEYS)


def split_path(path: str) -> tuple[str, str]:
    """`group/sub/name` -> (service `name`, team `group`): a project maps like a GitHub repo."""
    parts = path.split("/")
    return parts[-1], parts[0]


def _project(
    path: str, body: dict[str, Any], defaults: dict[str, Any], where: str | None = None
) -> ProjectSettings:
    where = where or f'gitlab.project."{path}"'
    if not PROJECT_PATH.match(path):
        raise ConfigError(f"{where}: {path!r} is not GROUP/NAME")
    for key, value in body.items():
        if key not in PROJECT_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(PROJECT_KEYS)})")
        _typed(f"{where}.{key}", value, PROJECT_KEYS[key])
    merged = {**defaults, **body}
    service, team = split_path(path)
    return ProjectSettings(
        path=path,
        service=merged.get("service", service),
        team=merged.get("team", team),
        incidents=merged.get("incidents", True),
        pipelines=merged.get("pipelines", True),
        deploy_job=merged.get("deploy_job"),
        environment=merged.get("environment", "production"),
    )


def parse(section: Any, **overrides: Any) -> GitlabSettings:
    """Validate the [gitlab] section; command-line values (`overrides`, None = not given) win."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError("gitlab: expected a table")
    values: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for key, value in section.items():
        name = f"gitlab.{key}"
        if key in DEFAULTABLE:
            defaults[key] = _typed(name, value, PROJECT_KEYS[key])
        elif key in TOP_KEYS:
            values[key] = _typed(name, value, TOP_KEYS[key])
        else:
            raise ConfigError(f"{name}: unknown key (known: {', '.join(sorted({*TOP_KEYS, *DEFAULTABLE}))})")
    for key in ("workers", "per_page", "retries"):
        if key in values and values[key] < 1:
            raise ConfigError(f"gitlab.{key}: must be at least 1")
    if values.get("per_page", 100) > 100:
        raise ConfigError("gitlab.per_page: GitLab serves at most 100 items per page")
    names = values.pop("projects", [])
    for i, path in enumerate(names):
        if not isinstance(path, str) or not PROJECT_PATH.match(path):
            raise ConfigError(f"gitlab.projects[{i}]: {path!r} is not GROUP/NAME")
    per_project = values.pop("project", {})
    for path, body in per_project.items():
        if not isinstance(body, dict):
            raise ConfigError(f'gitlab.project."{path}": expected a table')
    for key, value in overrides.items():
        if value is not None and key != "projects":
            values[key] = value
    if overrides.get("projects"):
        names = list(overrides["projects"])
        for path in names:
            if not PROJECT_PATH.match(path):
                raise ConfigError(f"--project: {path!r} is not GROUP/NAME")
    else:
        names = list(dict.fromkeys([*names, *per_project]))
    url = values.get("url")
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"gitlab.url: {url!r} is not an http(s) URL")
    ca = values.get("ca_bundle")
    if ca is not None and not Path(ca).is_file():
        raise ConfigError(f"gitlab.ca_bundle: {ca}: no such file")
    projects = tuple(_project(p, per_project.get(p, {}), defaults) for p in names)
    settings = GitlabSettings(projects=projects, project_defaults=defaults, **values)
    check_services(settings.projects)
    return settings


def check_services(projects: tuple[ProjectSettings, ...] | list[ProjectSettings]) -> None:
    """Two projects must not give the same service name: their deployments would mix."""
    seen: dict[str, str] = {}
    for project in projects:
        other = seen.get(project.service)
        if other is not None and other != project.path:
            raise ConfigError(
                f"service {project.service!r} would come from both {other} and {project.path}: name one of "
                f'them otherwise in dora.toml ([gitlab.project."{project.path}"] service = "...")'
            )
        seen[project.service] = project.path
