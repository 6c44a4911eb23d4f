"""The [github] section of dora.toml, and the settings of a `dora collect github` run.

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
from typing import Annotated, Any, Literal

from pydantic import Field

from collectors.settings import Listing, ServiceChoice, TagSelection
from warehouse import settings
from warehouse.settings import Bool, Int, NonNegative, Positive, Regex, Section, Str

REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
RepoName = Annotated[
    str, Field(strict=True), settings.matching(REPO_NAME.pattern, "{value} is not OWNER/NAME")
]

PerPage = Annotated[Int, Field(ge=1), settings.most(100, "GitHub serves at most 100 items per page")]


class ServiceTable(Section):
    """An item of a repo's `services = [...]`: one service of a monorepo."""

    name: Str
    team: Str | None = None  # default: the repo's team
    environment: Regex | None = None  # regex on the deployment environment (deployments mode)
    workflow: Regex | None = None  # regex on the workflow name or file (workflow-runs mode)
    tag: Regex | None = None  # regex on the release tag (releases mode)
    # path globs (`*` matches any run of characters, `/` included): the service's changes are the commits
    # touching at least one of them; none = every commit of the repository (METRICS.md "Service paths")
    paths: tuple[Str, ...] = ()


class ServiceRule(ServiceTable):
    """One service of a repo. In a monorepo, a deployment goes to the first rule whose pattern matches."""

    team: Str


class RepoOptions(Section):
    """What [github] sets for every repo, and [github.repo."OWNER/NAME"] for one."""

    deployments: Literal["deployments", "workflow-runs", "releases", "merged-prs"] = "deployments"
    workflow: Regex = r"(?i)deploy"
    branch: Str | None = None  # the deploy branch; None = the repo's default branch
    environment: Str = "production"  # what the modes without environments write
    tag_pattern: Regex | None = None  # releases mode: only tags matching this
    # releases mode: the tags whose releases are deployments (globs; collectors/settings.py TagSelection)
    deploy_tags: tuple[Str, ...] = ("*",)
    exclude_tags: tuple[Str, ...] = ()
    prereleases: Bool = False
    # workflow-runs mode: the events whose runs deploy (compared without regard to case)
    deploy_events: tuple[Str, ...] = ("push", "workflow_dispatch", "release", "schedule")


class RepoTable(RepoOptions, ServiceChoice):
    """[github.repo."OWNER/NAME"]: the repo's options and its service, or a monorepo's services."""

    services: tuple[ServiceTable, ...] | None = None


class RepoSettings(RepoOptions):
    repo: Str
    services: tuple[ServiceRule, ...]

    @property
    def path_filtered(self) -> bool:
        """Whether a service of the repository has paths: its commits' files are needed then."""
        return any(rule.paths for rule in self.services)

    @property
    def tags(self) -> TagSelection:
        return TagSelection(tuple(self.deploy_tags), tuple(self.exclude_tags))


class GithubOptions(Section):
    """The keys of [github] that are not about one repo."""

    org: Str | None = None
    api_url: Str = "https://api.github.com"
    workers: Int = Field(4, ge=1)
    per_page: PerPage = 100
    incident_label: Str = "incident"
    # the severity is the first label matching; group 1 is kept: "sev2" -> sev2, "severity:low" -> low
    severity_pattern: Regex = r"(?i)^(?:severity[:/ -])?((?:sev|p)\d+|critical|high|medium|low|minor|major)$"
    bot_pattern: Regex = r"(?i)(\[bot\]$|^dependabot|^renovate)"
    clone: Bool = False
    clone_url: Str | None = None  # template with {repo}; default derived from api_url
    clone_dir: Str | None = None
    timeout: Positive = 30.0
    retries: Int = Field(8, ge=1)
    backoff: NonNegative = 0.5  # seconds, doubled per retry of a 5xx
    secondary_rate_wait: NonNegative = 60.0
    max_rate_limit_wait: NonNegative = 3600.0
    runs_lookback_hours: NonNegative = 24.0
    ca_bundle: Str | None = None  # PEM file of a private or corporate CA (GHES)
    max_answer_mb: Positive = 64.0  # a larger answer is reported, not decoded


class GithubSection(RepoOptions, GithubOptions):
    """[github] as written in dora.toml."""

    repos: tuple[RepoName, ...] = ()
    repo: dict[RepoName, RepoTable] = Field(default_factory=dict)


class GithubSettings(GithubOptions):
    """A run: [github] with its repos resolved, and the command-line options."""

    repos: tuple[RepoSettings, ...] = ()
    # production_environments of [metrics], for --dry-run and --since baselines
    production_pattern: Regex = r"^(prod|production)([-_].*)?$"
    since: dt.date | None = None
    full: Bool = False
    repo_defaults: dict[str, Any] = Field(default_factory=dict)  # the per-repo keys given at the top level

    def for_repo(self, repo: str) -> RepoSettings:
        """Settings of a repo found at run time (through --org), from the top-level defaults."""
        for known in self.repos:
            if known.repo.lower() == repo.lower():
                return known
        return _repo(repo, None, self.repo_defaults)

    def with_repos(self, repos: list[str]) -> GithubSettings:
        return self.model_copy(update={"repos": tuple(self.for_repo(r) for r in repos)})


def _repo(repo: str, table: RepoTable | None, defaults: dict[str, Any]) -> RepoSettings:
    table = table or RepoTable()
    owner, name = repo.split("/")
    team = owner if table.team is None else table.team
    services: tuple[ServiceRule, ...]
    if table.services is None:
        services = (ServiceRule(name=name if table.service is None else table.service, team=team),)
    else:
        services = tuple(
            ServiceRule(**{**s.model_dump(), "team": team if s.team is None else s.team})
            for s in table.services
        )
    options = {**defaults, **table.model_dump(include=set(RepoOptions.model_fields), exclude_unset=True)}
    return RepoSettings(repo=repo, services=services, **options)


REPOS = Listing("github", "repos", "repo", RepoOptions, REPO_NAME, "--repo", "OWNER/NAME")


def parse(section: Any, **overrides: Any) -> GithubSettings:
    """Validate the [github] section; command-line values (`overrides`, None = not given) win."""
    result = REPOS.parse(GithubSection, GithubSettings, section, overrides, _repo)
    check_services(result.repos)
    return result


def check_services(repos: tuple[RepoSettings, ...] | list[RepoSettings]) -> None:
    """Two repos must not give the same service name: their deployments would mix."""
    seen: dict[str, str] = {}
    for repo in repos:
        for rule in repo.services:
            other = seen.get(rule.name)
            if other is not None and other != repo.repo:
                raise settings.ConfigError(
                    f"service {rule.name!r} would come from both {other} and {repo.repo}: name one of them "
                    f'otherwise in dora.toml ([github.repo."{repo.repo}"] service = "...")'
                )
            seen[rule.name] = repo.repo
