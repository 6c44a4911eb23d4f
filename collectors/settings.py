"""What the settings of [github] and [gitlab] share: the section lists items (repos, projects), an item may
have a table of its own options (`[github.repo."OWNER/NAME"]`), and the same options given at the top of
the section are every item's defaults. The command line may name the items instead (`--repo`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Self, TypeVar

from pydantic import field_validator, model_validator

from warehouse import settings
from warehouse.settings import ConfigError, Section, Str, overridden

S = TypeVar("S", bound=Section)


class ServiceChoice(Section):
    """A repository's one service, or a monorepo's services (a source narrows the type of `services`):
    not both, and not an empty list."""

    service: Str | None = None  # default: named after the repository
    team: Str | None = None  # default: its owner or top-level group
    services: tuple[Any, ...] | None = None

    @field_validator("services")
    @classmethod
    def _some(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value is not None and not value:
            raise ValueError("expected at least one service")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.service is not None and self.services is not None:
            raise ValueError("give either service or services, not both")
        return self


@dataclass(frozen=True)
class TagSelection:
    """Which tags (or releases) are deployments: a name is selected when it matches at least one include
    glob and no exclude glob. Globs are fnmatch-style and case-sensitive: `*` any run of characters (`/`
    included), `?` one character, `[..]` one of a set."""

    includes: tuple[str, ...]
    excludes: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, includes: str | Iterable[str] | None, excludes: str | Iterable[str] | None = None
    ) -> TagSelection:
        """From a glob or a list of globs (dora.toml accepts either); None is no glob."""

        def globs(value: str | Iterable[str] | None) -> tuple[str, ...]:
            if value is None:
                return ()
            return (value,) if isinstance(value, str) else tuple(value)

        return cls(globs(includes), globs(excludes))

    def __bool__(self) -> bool:
        return bool(self.includes)

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, glob) for glob in self.includes) and not any(
            fnmatchcase(name, glob) for glob in self.excludes
        )

    def describe(self) -> str:
        """How the selection reads on a command line: --deploy-tags 'v*' --exclude-tags '*rc*'."""
        parts = [f"--deploy-tags '{glob}'" for glob in self.includes]
        parts += [f"--exclude-tags '{glob}'" for glob in self.excludes]
        return " ".join(parts) or "no --deploy-tags"


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
