"""The simulation's state: random draws, sha and id counters, and the rows of every table as they are made."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from collectors.demo.model import SYMPTOMS, WINDOW_DAYS, Service

T = TypeVar("T")


@dataclass
class PR:
    title: str
    author: str
    reviewer: str
    style: str  # merge | squash | rebase
    head_branch: str
    labels: list[str]
    first_commit_at: dt.datetime
    created_at: dt.datetime
    first_review_at: dt.datetime | None
    planned_merge: dt.datetime | None  # None: abandoned, or still open at the window's end
    commit_times: list[dt.datetime]
    messages: list[str]
    number: int = 0
    # sha, parents, time, message of each branch commit
    branch: list[tuple[str, list[str], dt.datetime, str]] = field(default_factory=list)
    landed: list[str] = field(default_factory=list)  # rebase merges: the new shas on main
    merged_at: dt.datetime | None = None
    merge_commit_sha: str | None = None


@dataclass
class Release:
    sha: str
    deployment_id: int  # the first successful production deployment of the release
    finished_at: dt.datetime


@dataclass
class Deployer:
    """Deployment state of one service."""

    service: Service
    releases: list[Release] = field(default_factory=list)
    frozen: bool = False  # after a bad release only the remediation ships: the next deploy is the fix
    pending: list[dict[str, Any]] = field(default_factory=list)  # incidents the next fix resolves


class Org:
    """Random draws, sha and id counters, and the rows of every table."""

    def __init__(self, seed: int, end: dt.date) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # stdlib: fast scalar draws, stable across versions
        self.start = dt.datetime.combine(end - dt.timedelta(days=WINDOW_DAYS - 1), dt.time())
        self.stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        self._shas = 0
        self._deployments = 0
        self.commits: list[dict[str, Any]] = []
        self.prs: list[tuple[str, PR]] = []
        self.deployments: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []

    def sha(self) -> str:
        # a hash of seed and counter: deterministic, 40 lowercase hex digits like git's
        self._shas += 1
        return hashlib.sha1(f"doralytics-demo:{self.seed}:{self._shas}".encode()).hexdigest()

    def deployment_id(self) -> int:
        self._deployments += 1
        return self._deployments

    def frac(self, t: dt.datetime) -> float:
        return (t - self.start) / (self.stop - self.start)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return self.rng.choice(items)

    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(seconds=round(self.rng.uniform(low, high) * 60))

    def hours(self, median: float, sigma: float = 0.8) -> dt.timedelta:
        return dt.timedelta(seconds=round(median * 3600 * math.exp(sigma * self.rng.gauss(0.0, 1.0))))

    def weighted(self, options: tuple[str, ...], weights: tuple[float, ...]) -> str:
        return self.rng.choices(options, weights)[0]

    def poisson(self, rate: float) -> int:
        # Knuth's method: exact, and quick for the small rates used here
        limit, count, product = math.exp(-rate), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def geometric(self, p: float) -> int:
        count = 1
        while not self.chance(p):
            count += 1
        return count

    def days(self, first: dt.datetime) -> list[dt.datetime]:
        count = (self.stop - first).days
        return [dt.datetime.combine(first.date(), dt.time()) + dt.timedelta(days=i) for i in range(count)]

    def working_times(self, first: dt.datetime, per_weekday: Callable[[float], float]) -> list[dt.datetime]:
        """A Poisson process over office hours (UTC), quiet at weekends."""
        times = []
        for day in self.days(first):
            rate = per_weekday(self.frac(day)) * (1.0 if day.weekday() < 5 else 0.05)
            for _ in range(self.poisson(rate)):
                times.append(day + dt.timedelta(seconds=round(self.rng.uniform(7.5, 18.5) * 3600)))
        return sorted(t for t in times if first <= t < self.stop)

    def incident(self, service: str, created: dt.datetime, severity: str | None = None) -> dict[str, Any]:
        row = {
            "incident_id": None,
            "service": service,
            "title": f"{self.pick(SYMPTOMS)} in {service}",
            "severity": severity or self.weighted(("sev1", "sev2", "sev3"), (0.1, 0.35, 0.55)),
            "created_at": created,
            "resolved_at": None,
            "deployment_id": None,
            "commit_sha": None,
        }
        self.incidents.append(row)
        return row

    def resolve(self, incident: dict[str, Any], at: dt.datetime) -> None:
        at = max(at, incident["created_at"] + dt.timedelta(minutes=10))
        incident["resolved_at"] = at if at < self.stop else None  # not yet resolved when the window ends
