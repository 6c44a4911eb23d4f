"""The [git] section of dora.toml, and the settings of one `dora collect git` run.

```toml
[git]
path = "../checkout"          # the clone; the command's PATH argument wins
service = "checkout"          # default: the folder's name
deploy_tags = "v*"            # or: deploy_log = "deploys.csv"
```
"""

from __future__ import annotations

from pathlib import Path

from warehouse.settings import Section, Str


class GitSection(Section):
    """[git] as written: defaults of `dora collect git`, each overridden by its command-line option."""

    path: Str | None = None
    repo: Str | None = None
    service: Str | None = None
    team: Str | None = None
    deploy_tags: Str | None = None
    deploy_log: Str | None = None
    environment: Str | None = None
    rev: Str | None = None


class GitSettings(Section):
    path: Path
    repo: Str  # the repo name commits are stored under (services.repo)
    service: Str
    team: Str = "unassigned"
    deploy_tags: Str | None = None  # glob over tag names, e.g. "v*" or "deploy/prod-*"
    deploy_log: Path | None = None  # a CSV with the deployments.csv columns
    environment: Str = "production"
    rev: Str = "HEAD"
