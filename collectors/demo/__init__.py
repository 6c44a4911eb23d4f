"""The demo organisation: a realistic, deterministic synthetic org for `dora demo`, the docs and the tests.

Four teams, twelve services in eleven repos (`acme/storefront` is a monorepo holding `web` and
`mobile-bff`), 183 days ending on `end`. Each repo is simulated event by event in time order, so every
timestamp is plausible: commits before their PR opens or merges, merges before the deployment that ships
them, incidents after the deployment that caused them, recoveries after the failure.

The dashboard should tell a story: `checkout` is elite (several deploys a day, lead time in hours),
`billing` ships a monthly release train, `ledger` improves over the half-year (more deploys, fewer
failures, faster reviews), the rest sit in between. Failures come with their real-world signals: failed
attempts, rollbacks, reverts (git's own `This reverts commit` text), hotfix PRs, incidents (some linked
explicitly, some by time, some to nothing, a couple still open).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from collectors.demo.frames import add_unattributed, frames
from collectors.demo.model import REPOS, SERVICES
from collectors.demo.org import Org
from collectors.demo.simulate import RepoSim

__all__ = ["build", "generate"]


def generate(seed: int = 7, end: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """The demo org's core tables for the 183 days ending on `end` (default: today, UTC).

    The same seed and end always give the same frames.
    """
    if end is None:
        end = dt.datetime.now(dt.UTC).date()
    elif isinstance(end, dt.datetime):
        end = end.date()
    org = Org(seed, end)
    for repo in REPOS:
        RepoSim(org, repo, [s for s in SERVICES if s.repo == repo.name]).run()
    add_unattributed(org)
    return frames(org)


def build(con: Any, seed: int = 7, end: dt.date | None = None) -> dict[str, int]:
    """Generate the demo org and load it into the warehouse behind `con`. Returns rows per table."""
    from warehouse.load import load_frames  # collectors stay free of DuckDB until asked to load

    return load_frames(con, generate(seed, end), "demo", f"seed={seed}")
