"""The [gitlab] section of dora.toml, and the settings of a `dora collect gitlab` run.

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

[gitlab.project."acme/shop"]                # a monorepo: services told apart by environment and paths
services = [
  { name = "shop-web", team = "web", environment = "^web-", paths = ["web/*"] },
  { name = "shop-api", environment = "^api-", paths = ["api/*", "lib/*"] },
]
```
Errors name the key (`gitlab.project."acme/x".deploy_job: ...`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import Field, model_validator

from collectors.settings import Listing, ServiceChoice, TagSelection
from warehouse import settings
from warehouse.settings import Bool, Int, NonNegative, Positive, Regex, Section, Str

PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
ProjectPath = Annotated[
    str, Field(strict=True), settings.matching(PROJECT_PATH.pattern, "{value} is not GROUP/NAME")
]

PerPage = Annotated[Int, Field(ge=1), settings.most(100, "GitLab serves at most 100 items per page")]


class ProjectOptions(Section):
    """What [gitlab] sets for every project, and [gitlab.project."GROUP/NAME"] for one."""

    incidents: Bool = True  # GitLab issues of type incident -> core.incidents
    pipelines: Bool = True  # pipelines -> core.pipeline_runs
    deploy_job: Regex | None = None  # finished jobs of this name on the default branch are deployments
    environment: Str = "production"  # the environment of job and release deployments
    releases: Bool = False  # published releases are deployments too (at their release time)
    deploy_tags: tuple[Str, ...] = ("*",)  # ... those of tags matching a glob (collectors/settings.py)
    exclude_tags: tuple[Str, ...] = ()  # ... and none of these

    @property
    def tags(self) -> TagSelection:
        return TagSelection(tuple(self.deploy_tags), tuple(self.exclude_tags))


PathGlob = Annotated[
    Str, settings.matching(r"^[^/\s]", "{value} is not a path relative to the repository root")
]


class ServiceTable(Section):
    """An item of a project's `services = [...]`: one service of a monorepo."""

    name: Str
    team: Str | None = None  # default: the project's team
    environment: Regex | None = None  # regex on the deployment's environment; None: every environment
    # globs on the files a commit changed (`*` crosses `/`); none: every commit of the project
    paths: tuple[PathGlob, ...] = ()


class ServiceRule(ServiceTable):
    """One service of a project. A deployment goes to the first rule whose environment matches."""

    team: Str

    def takes(self, environment: str) -> bool:
        """Environments are matched as the warehouse stores them: trimmed and lowercased."""
        return self.environment is None or bool(re.search(self.environment, environment.strip().lower()))


class ProjectTable(ProjectOptions, ServiceChoice):
    """[gitlab.project."GROUP/NAME"]: the project's options and its service, or a monorepo's services."""

    services: tuple[ServiceTable, ...] | None = None


class ProjectSettings(ProjectOptions):
    path: Str  # group/sub/name, as GitLab's path_with_namespace
    service: Str  # the first service's: incidents, pipelines and deploy jobs go to it
    team: Str
    services: tuple[ServiceRule, ...] = ()

    @model_validator(mode="after")
    def _one_service_at_least(self) -> ProjectSettings:
        if not self.services:
            self.services = (ServiceRule(name=self.service, team=self.team),)
        return self

    @property
    def files(self) -> bool:
        """Whether the files of each commit are needed: a service of the project is path-filtered."""
        return any(rule.paths for rule in self.services)

    def service_for(self, environment: str) -> ServiceRule | None:
        return next((rule for rule in self.services if rule.takes(environment)), None)


class GitlabOptions(Section):
    """The keys of [gitlab] that are not about one project."""

    group: Str | None = None
    url: Annotated[Str, settings.matching(r"^https?://[^/\s]+", "{value} is not an http(s) URL")] = (
        "https://gitlab.com"
    )
    ca_bundle: settings.File | None = None
    workers: Int = Field(4, ge=1)
    per_page: PerPage = 100
    # notes by these users are not reviews: GitLab's project/group access-token bots and the usual apps
    bot_pattern: Regex = r"(?i)(^(project|group)_\d+_bot|\[bot\]$|^(renovate|dependabot|gitlab-bot|ghost)\b)"
    # an incident's severity when GitLab reports none: the first label matching; group 1 is kept
    severity_pattern: Regex = r"(?i)^(?:severity(?:::|[:/ -]))?((?:sev|s|p)\d+|critical|high|medium|low)$"
    timeout: Positive = 30.0
    retries: Int = Field(10, ge=1)  # python-gitlab's own retries of 429 and 5xx
    jobs_lookback_hours: NonNegative = 24.0  # a job listed late (it ran long) is still found on the next run
    max_answer_mb: Positive = 64.0  # a larger answer is refused (reported for its project and endpoint)


class GitlabSection(ProjectOptions, GitlabOptions):
    """[gitlab] as written in dora.toml."""

    projects: tuple[ProjectPath, ...] = ()
    project: dict[ProjectPath, ProjectTable] = Field(default_factory=dict)


class GitlabSettings(GitlabOptions):
    """A run: [gitlab] with its projects resolved, and the command-line options."""

    projects: tuple[ProjectSettings, ...] = ()
    # production_environments of [metrics]: --dry-run and --since baselines
    production_pattern: Regex = r"^(prod|production)([-_].*)?$"
    since: dt.date | None = None
    full: Bool = False
    project_defaults: dict[str, Any] = Field(default_factory=dict)

    def for_project(self, path: str) -> ProjectSettings:
        for known in self.projects:
            if known.path.lower() == path.lower():
                return known
        return _project(path, None, self.project_defaults)

    def with_projects(self, paths: list[str]) -> GitlabSettings:
        return self.model_copy(update={"projects": tuple(self.for_project(p) for p in paths)})


def split_path(path: str) -> tuple[str, str]:
    """`group/sub/name` -> (service `name`, team `group`): a project maps like a GitHub repo."""
    parts = path.split("/")
    return parts[-1], parts[0]


def _project(path: str, table: ProjectTable | None, defaults: dict[str, Any]) -> ProjectSettings:
    table = table or ProjectTable()
    service, team = split_path(path)
    team = team if table.team is None else table.team
    options = {**defaults, **table.model_dump(include=set(ProjectOptions.model_fields), exclude_unset=True)}
    rules: tuple[ServiceRule, ...]
    if table.services is None:
        rules = (ServiceRule(name=service if table.service is None else table.service, team=team),)
    else:
        rules = tuple(
            ServiceRule(**{**s.model_dump(), "team": team if s.team is None else s.team})
            for s in table.services
        )
    return ProjectSettings(path=path, service=rules[0].name, team=rules[0].team, services=rules, **options)


PROJECTS = Listing("gitlab", "projects", "project", ProjectOptions, PROJECT_PATH, "--project", "GROUP/NAME")


def parse(section: Any, **overrides: Any) -> GitlabSettings:
    """Validate the [gitlab] section; command-line values (`overrides`, None = not given) win."""
    result = PROJECTS.parse(GitlabSection, GitlabSettings, section, overrides, _project)
    check_services(result.projects)
    return result


def check_services(projects: tuple[ProjectSettings, ...] | list[ProjectSettings]) -> None:
    """Two projects must not give the same service name: their deployments would mix."""
    seen: dict[str, str] = {}
    for project in projects:
        for rule in project.services:
            other = seen.get(rule.name)
            if other is not None and other != project.path:
                raise settings.ConfigError(
                    f"service {rule.name!r} would come from both {other} and {project.path}: name one of "
                    f'them otherwise in dora.toml ([gitlab.project."{project.path}"] service = "...")'
                )
            seen[rule.name] = project.path
