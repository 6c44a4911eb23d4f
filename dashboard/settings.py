"""The [dashboard] section of dora.toml: where the links of pull requests and commits point.

```toml
[dashboard]
links = "gitlab"                         # github, gitlab or none; default: gitlab if only [gitlab] is set
web_url = "https://gitlab.example.com"   # default: github.com, or [gitlab] url
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from warehouse import settings
from warehouse.metric_settings import Config
from warehouse.settings import Section, Str

__all__ = ["Config", "DashboardSettings", "load"]


class DashboardSettings(Section):
    links: Literal["github", "gitlab", "none"] | None = None
    web_url: Str | None = None


def _checked(data: dict[str, Any], path: Path) -> Config:
    settings.parse(DashboardSettings, data.get("dashboard"), "dashboard")
    return Config.of(data, path)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """What the dashboard reads of dora.toml (found as `dora` finds it): the warehouse, the metrics settings,
    [dashboard], and the other sections as written. `dora dashboard` has checked all of it on start."""
    return settings.read(path, _checked) or Config()
