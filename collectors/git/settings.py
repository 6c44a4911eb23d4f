"""The [git] section of dora.toml, and the settings of one `dora collect git` run.

```toml
[git]
path = "../checkout"          # the clone; the command's PATH argument wins
service = "checkout"          # default: the folder's name
deploy_tags = ["v*"]          # globs (or one glob); or: deploy_log = "deploys.csv"
exclude_tags = ["*rc*", "*dev*"]

# or: one repository deployed as several services, each with its own tags and files
[[git.services]]
name = "checkout"
team = "payments"
tags = ["checkout-v*"]
paths = ["services/checkout/*", "libs/payments/*"]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from collectors.settings import TagSelection
from warehouse.settings import NonEmpty, Section, Str


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise PydanticCustomError("globs_type", "expected a glob or a list of globs (non-empty strings)", {})
    return tuple(value)


# a glob like "v*", or a list of them
Globs = Annotated[tuple[str, ...], BeforeValidator(_globs)]


class GitService(Section):
    """One item of [[git.services]]: a service deployed from the repository by its own tags."""

    name: NonEmpty
    team: Str | None = None  # default: [git] team, else unassigned
    tags: Globs = ()
    exclude_tags: Globs = ()
    paths: Globs = ()  # its files (BUNDLE.md "Monorepos"); none: every commit of the repository


class GitSection(Section):
    """[git] as written: defaults of `dora collect git`, each overridden by its command-line option."""

    path: Str | None = None
    repo: Str | None = None
    service: Str | None = None
    team: Str | None = None
    deploy_tags: Globs | None = None
    exclude_tags: Globs | None = None
    deploy_log: Str | None = None
    environment: Str | None = None
    rev: Str | None = None
    services: tuple[GitService, ...] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> GitSection:
        if self.services is not None:
            if not self.services:
                raise ValueError("services: expected at least one [[git.services]] table")
            if self.service is not None or self.deploy_tags is not None or self.exclude_tags is not None:
                raise ValueError(
                    "give either [[git.services]] (each with its tags) or service/deploy_tags, not both"
                )
            names = [s.name for s in self.services]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"services: {twice[0]!r} is named twice")
        return self


class ServiceSpec(Section):
    """A service of the run: its tags and, in a monorepo, its files."""

    name: Str
    team: Str = "unassigned"
    tags: TagSelection = Field(default_factory=lambda: TagSelection(()))
    paths: tuple[str, ...] = ()


class GitSettings(Section):
    path: Path
    repo: Str  # the repo name commits are stored under (services.repo)
    services: tuple[ServiceSpec, ...]
    deploy_log: Path | None = None  # a CSV with the deployments.csv columns
    environment: Str = "production"
    rev: Str = "HEAD"

    @property
    def files(self) -> bool:
        """Whether commit file lists are wanted: a service of the repository has paths."""
        return any(s.paths for s in self.services)

    @property
    def selected(self) -> bool:
        return any(s.tags for s in self.services)
