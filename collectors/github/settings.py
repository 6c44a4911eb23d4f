"""The [github] section of dora.toml, validated here (config.py passes it through verbatim).

```toml
[github]
repos = ["acme/checkout", "acme/payments"]   # and/or: org = "acme"
api_url = "https://ghe.example.com/api/v3"   # GitHub Enterprise Server; default api.github.com
deployments = "deployments"                  # default detection mode of every repo
workers = 4

[github.repo."acme/payments"]                # per-repo options override the defaults above
deployments = "workflow-runs"
workflow = 'deploy\\.ya?ml'
service = "payments-api"
team = "payments"
```
Errors name the key (`github.repo."acme/x".workflow: ...`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

from doralytics.config import ConfigError, typed

MODES = ("deployments", "workflow-runs", "releases", "merged-prs")
REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class ServiceRule:
    """One service of a repo. In a monorepo, a deployment goes to the first rule whose pattern matches."""

    name: str
    team: str
    environment: str | None = None  # regex on the deployment environment (deployments mode)
    workflow: str | None = None  # regex on the workflow name or file (workflow-runs mode)
    tag: str | None = None  # regex on the release tag (releases mode)


@dataclass(frozen=True)
class RepoSettings:
    repo: str
    services: tuple[ServiceRule, ...]
    deployments: str = "deployments"
    workflow: str = r"(?i)deploy"
    branch: str | None = None  # the deploy branch; None = the repo's default branch
    environment: str = "production"  # what the modes without environments write
    tag_pattern: str | None = None  # releases mode: only tags matching this
    prereleases: bool = False


@dataclass(frozen=True)
class GithubSettings:
    repos: tuple[RepoSettings, ...] = ()
    org: str | None = None
    api_url: str = "https://api.github.com"
    workers: int = 4
    per_page: int = 100
    incident_label: str = "incident"
    # the severity is the first label matching; group 1 is kept: "sev2" -> sev2, "severity:low" -> low
    severity_pattern: str = r"(?i)^(?:severity[:/ -])?((?:sev|p)\d+|critical|high|medium|low|minor|major)$"
    bot_pattern: str = r"(?i)(\[bot\]$|^dependabot|^renovate)"
    # METRICS.md's production_environments ([metrics] in dora.toml), for --dry-run and --since baselines
    production_pattern: str = r"^(prod|production)([-_].*)?$"
    clone: bool = False
    clone_url: str | None = None  # template with {repo}; default derived from api_url
    clone_dir: str | None = None
    since: dt.date | None = None
    full: bool = False
    timeout: float = 30.0
    retries: int = 8
    backoff: float = 0.5  # seconds, doubled per retry of a 5xx
    secondary_rate_wait: float = 60.0
    max_rate_limit_wait: float = 3600.0
    runs_lookback_hours: float = 24.0
    ca_bundle: str | None = None  # PEM file of a private or corporate CA (GHES)
    repo_defaults: dict[str, Any] = field(default_factory=dict)  # the per-repo keys given at the top level

    def for_repo(self, repo: str) -> RepoSettings:
        """Settings of a repo found at run time (through --org), from the top-level defaults."""
        for known in self.repos:
            if known.repo.lower() == repo.lower():
                return known
        return _repo(repo, {}, self.repo_defaults)

    def with_repos(self, repos: list[str]) -> GithubSettings:
        return replace(self, repos=tuple(self.for_repo(r) for r in repos))


REPO_KEYS = {
    "deployments": str,
    "workflow": str,
    "branch": str,
    "environment": str,
    "tag_pattern": str,
    "prereleases": bool,
    "service": str,
    "team": str,
    "services": list,
}
TOP_KEYS = {
    "repos": list,
    "org": str,
    "api_url": str,
    "workers": int,
    "per_page": int,
    "incident_label": str,
    "severity_pattern": str,
    "bot_pattern": str,
    "clone": bool,
    "clone_url": str,
    "clone_dir": str,
    "timeout": (int, float),
    "retries": int,
    "backoff": (int, float),
    "secondary_rate_wait": (int, float),
    "max_rate_limit_wait": (int, float),
    "runs_lookback_hours": (int, float),
    "ca_bundle": str,
    "repo": dict,
}
REGEX_KEYS = {"workflow", "tag_pattern", "severity_pattern", "bot_pattern", "environment_pattern"}


def _typed(key: str, value: Any, expected: Any) -> Any:
    return typed(key, value, expected, REGEX_KEYS)


def _repo(
    repo: str, body: dict[str, Any], defaults: dict[str, Any], where: str | None = None
) -> RepoSettings:
    where = where or f'github.repo."{repo}"'
    if not REPO_NAME.match(repo):
        raise ConfigError(f"{where}: {repo!r} is not OWNER/NAME")
    merged = {**defaults, **body}
    for key, value in body.items():
        if key not in REPO_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(REPO_KEYS)})")
        _typed(f"{where}.{key}", value, REPO_KEYS[key])
    mode = merged.get("deployments", "deployments")
    if mode not in MODES:
        raise ConfigError(f"{where}.deployments: expected one of {', '.join(MODES)}, got {mode!r}")
    owner, name = repo.split("/")
    team = merged.get("team", owner)
    if "services" in body:
        if "service" in body:
            raise ConfigError(f"{where}: give either service or services, not both")
        services = tuple(_service(f"{where}.services[{i}]", s, team) for i, s in enumerate(body["services"]))
        if not services:
            raise ConfigError(f"{where}.services: expected at least one service")
    else:
        services = (ServiceRule(body.get("service", name), team),)
    options = {
        k: merged[k]
        for k in ("workflow", "branch", "environment", "tag_pattern", "prereleases")
        if k in merged
    }
    return RepoSettings(repo=repo, services=services, deployments=mode, **options)


def _service(where: str, body: Any, team: str) -> ServiceRule:
    if not isinstance(body, dict):
        raise ConfigError(f'{where}: expected a table like {{ name = "web", environment = "^web-" }}')
    known = {"name": str, "team": str, "environment": str, "workflow": str, "tag": str}
    for key, value in body.items():
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(known)})")
        _typed(f"{where}.{key}", value, known[key])
        if key in ("environment", "workflow", "tag"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(f"{where}.{key}: invalid regular expression {value!r}: {exc}") from exc
    if "name" not in body:
        raise ConfigError(f"{where}.name: required")
    return ServiceRule(
        body["name"], body.get("team", team), body.get("environment"), body.get("workflow"), body.get("tag")
    )


def parse(section: dict[str, Any] | None, **overrides: Any) -> GithubSettings:
    """Validate the [github] section; command-line values (`overrides`, None = not given) win."""
    section = dict(section or {})
    if not isinstance(section, dict):
        raise ConfigError("github: expected a table")
    values: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for key, value in section.items():
        name = f"github.{key}"
        if key in REPO_KEYS and key not in ("service", "team", "services"):
            defaults[key] = _typed(name, value, REPO_KEYS[key])
        elif key in TOP_KEYS:
            values[key] = _typed(name, value, TOP_KEYS[key])
        else:
            known = sorted({*TOP_KEYS, *REPO_KEYS} - {"service", "team", "services"})
            raise ConfigError(f"{name}: unknown key (known: {', '.join(known)})")
    if "deployments" in defaults and defaults["deployments"] not in MODES:
        raise ConfigError(
            f"github.deployments: expected one of {', '.join(MODES)}, got {defaults['deployments']!r}"
        )
    for key in ("workers", "per_page", "retries"):
        if key in values and values[key] < 1:
            raise ConfigError(f"github.{key}: must be at least 1")
    if values.get("per_page", 100) > 100:
        raise ConfigError("github.per_page: GitHub serves at most 100 items per page")
    names = values.pop("repos", [])
    for i, repo in enumerate(names):
        if not isinstance(repo, str) or not REPO_NAME.match(repo):
            raise ConfigError(f"github.repos[{i}]: {repo!r} is not OWNER/NAME")
    per_repo = values.pop("repo", {})
    for repo, body in per_repo.items():
        if not isinstance(body, dict):
            raise ConfigError(f'github.repo."{repo}": expected a table')
    for key, value in overrides.items():
        if value is not None and key != "repos":
            values[key] = value
    if overrides.get("repos"):
        names = list(overrides["repos"])
        for repo in names:
            if not REPO_NAME.match(repo):
                raise ConfigError(f"--repo: {repo!r} is not OWNER/NAME")
    else:
        names = list(dict.fromkeys([*names, *per_repo]))
    repos = tuple(_repo(r, per_repo.get(r, {}), defaults) for r in names)
    settings = GithubSettings(repos=repos, repo_defaults=defaults, **values)
    check_services(settings.repos)
    return settings


def check_services(repos: tuple[RepoSettings, ...] | list[RepoSettings]) -> None:
    """Two repos must not give the same service name: their deployments would mix."""
    seen: dict[str, str] = {}
    for repo in repos:
        for rule in repo.services:
            other = seen.get(rule.name)
            if other is not None and other != repo.repo:
                raise ConfigError(
                    f"service {rule.name!r} would come from both {other} and {repo.repo}: name one of them "
                    f'otherwise in dora.toml ([github.repo."{repo.repo}"] service = "...")'
                )
            seen[rule.name] = repo.repo
