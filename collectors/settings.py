"""What the settings of [github] and [gitlab] share: the section lists items (repos, projects), an item may
have a table of its own options (`[github.repo."OWNER/NAME"]`), and the same options given at the top of
the section are every item's defaults. The command line may name the items instead (`--repo`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from warehouse import settings
from warehouse.settings import ConfigError, Section, overridden

S = TypeVar("S", bound=Section)


@dataclass(frozen=True)
class Listing:
    """How a section lists its items; e.g. [github]: `repos = [...]` and `[github.repo."OWNER/NAME"]`."""

    section: str  # "github"
    items: str  # "repos": the list in dora.toml, the command-line option and the resolved settings' field
    tables: str  # "repo": one item's table each; the resolved settings hold the defaults as <tables>_defaults
    options: type[Section]  # the keys of an item's table that may also be given at the top
    name: re.Pattern[str]  # what an item's name looks like
    flag: str  # "--repo"
    shape: str  # "OWNER/NAME"

    def parse(
        self,
        written: type[Section],
        model: type[S],
        body: Any,
        overrides: Mapping[str, Any],
        resolve: Callable[[str, Any, dict[str, Any]], Any],
    ) -> S:
        """`body` checked as `written`, then each item resolved (`resolve(name, its table or None, defaults)`)
        into `model` with the command-line `overrides` (None = not given)."""
        toml = settings.parse(written, body, self.section)
        given = overridden(overrides)
        names = given.pop(self.items, None)
        for name in names or ():
            if not self.name.match(name):
                raise ConfigError(f"{self.flag}: {name!r} is not {self.shape}")
        tables: dict[str, Any] = getattr(toml, self.tables)
        defaults = toml.model_dump(include=set(self.options.model_fields), exclude_unset=True)
        listed = names or dict.fromkeys([*getattr(toml, self.items), *tables])
        top = toml.model_dump(
            exclude={self.items, self.tables, *self.options.model_fields}, exclude_unset=True
        )
        top[self.items] = tuple(resolve(name, tables.get(name), defaults) for name in listed)
        top[f"{self.tables}_defaults"] = defaults
        return settings.parse(model, top, self.section, **given)
