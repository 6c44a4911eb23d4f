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
```
Errors name the key (`gitlab.project."acme/x".deploy_job: ...`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import Field

from collectors.settings import Listing
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
    environment: Str = "production"  # the environment of job deployments


class ProjectTable(ProjectOptions):
    """[gitlab.project."GROUP/NAME"]: the project's options and the service it is."""

    service: Str | None = None  # default: the project's name
    team: Str | None = None  # default: its top-level group


class ProjectSettings(ProjectOptions):
    path: Str  # group/sub/name, as GitLab's path_with_namespace
    service: Str
    team: Str


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
    options = {**defaults, **table.model_dump(include=set(ProjectOptions.model_fields), exclude_unset=True)}
    return ProjectSettings(
        path=path,
        service=service if table.service is None else table.service,
        team=team if table.team is None else table.team,
        **options,
    )


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
        other = seen.get(project.service)
        if other is not None and other != project.path:
            raise settings.ConfigError(
                f"service {project.service!r} would come from both {other} and {project.path}: name one of "
                f'them otherwise in dora.toml ([gitlab.project."{project.path}"] service = "...")'
            )
        seen[project.service] = project.path
