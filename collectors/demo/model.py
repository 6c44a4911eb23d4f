"""The demo organisation's shape: its teams, how each repo works and each service ships, and the words
its titles are made of. Pairs are (value at the window's start, value at its end), interpolated by `lerp`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WINDOW_DAYS = 183
CI_DELAY = dt.timedelta(minutes=15)  # a commit is deployable once its CI run had time to pass

TEAMS: dict[str, tuple[str, ...]] = {
    "checkout": ("alice-w", "bram", "chen-li", "dana", "emeka"),
    "platform": ("farah", "gus", "hiro", "ines"),
    "growth": ("jonas", "kemi", "lars", "maya", "nour"),
    "finance": ("oskar", "priya", "quinn", "rosa"),
}


@dataclass(frozen=True)
class Repo:
    """How a team works in one repo. Pairs are (value at the window's start, value at its end)."""

    name: str
    team: str
    changes_per_day: tuple[float, float]  # merges to main per weekday
    styles: tuple[float, float, float]  # weights of merge-commit, squash and rebase PRs
    coding_hours: tuple[float, float]  # median first commit -> PR opened
    pickup_hours: tuple[float, float]  # median PR opened -> first review
    review_hours: tuple[float, float]  # median first review -> merge
    direct_push: float = 0.05
    ci_failure: tuple[float, float] = (0.07, 0.07)


@dataclass(frozen=True)
class Service:
    name: str
    repo: str
    deploys_per_day: tuple[float, float]  # release attempts per weekday (unless a release train)
    failure_rate: tuple[float, float]  # share of releases that go bad
    prod: tuple[str, ...] = ("production",)
    tiered: bool = False  # its CD tool reports environment_tier (GitLab does, GitHub does not)
    release_every_days: float | None = None
    attempt_failure: float = 0.05
    remedies: tuple[float, float, float, float] = (0.3, 0.35, 0.25, 0.1)  # rollback, hotfix, revert, none
    rollback_minutes: tuple[float, float] = (25, 60)  # bad release finished -> rollback starts
    fix_hours: float = 0.3  # median bad release finished -> first commit of the hotfix or revert


# fmt: off
REPOS: tuple[Repo, ...] = (
    #    name            team        changes/day  merge,squash,rebase coding h    pickup h    review h
    Repo("checkout",      "checkout", (7, 8),     (0.1, 0.8, 0.1),   (2.5, 2.5), (0.4, 0.4), (0.8, 0.8),
         direct_push=0.03),
    Repo("cart",          "checkout", (2, 2),     (0.3, 0.6, 0.1),   (8, 8),     (3, 3),     (4, 4)),
    Repo("payments",      "checkout", (1.5, 1.5), (0.8, 0.15, 0.05), (14, 14),   (6, 6),     (8, 8)),
    Repo("api-gateway",   "platform", (2, 2),     (0.1, 0.2, 0.7),   (6, 6),     (2, 2),     (3, 3)),
    Repo("auth",          "platform", (1, 1),     (0.5, 0.5, 0.0),   (10, 10),   (5, 5),     (6, 6)),
    Repo("notifications", "platform", (1.2, 1.2), (0.2, 0.7, 0.1),   (8, 8),     (4, 4),     (4, 4)),
    Repo("storefront",    "growth",   (3, 3),     (0.2, 0.7, 0.1),   (6, 6),     (3, 3),     (3, 3)),
    Repo("search",        "growth",   (1, 1),     (0.4, 0.4, 0.2),   (12, 12),   (6, 6),     (6, 6)),
    Repo("billing",       "finance",  (1.2, 1.2), (0.7, 0.2, 0.1),   (30, 30),   (24, 24),   (30, 30),
         direct_push=0.12, ci_failure=(0.15, 0.15)),
    Repo("ledger",        "finance",  (1.2, 3),   (0.5, 0.5, 0.0),   (24, 6),    (30, 3),    (36, 4),
         ci_failure=(0.2, 0.05)),
    Repo("reporting",     "finance",  (0.8, 0.8), (0.3, 0.6, 0.1),   (16, 16),   (10, 10),   (10, 10)),
)

SERVICES: tuple[Service, ...] = (
    #       name             repo             deploys/day  failure rate
    # the elite one: automated canary analysis rolls most bad releases back within minutes
    Service("checkout",      "checkout",      (5, 6),      (0.04, 0.04), attempt_failure=0.02,
            remedies=(0.7, 0.15, 0.1, 0.05), rollback_minutes=(6, 15)),
    Service("cart",          "cart",          (1.2, 1.2),  (0.08, 0.08)),
    Service("payments",      "payments",      (0.6, 0.6),  (0.1, 0.1), prod=("prod-eu", "prod-us")),
    Service("api-gateway",   "api-gateway",   (1.5, 1.5),  (0.07, 0.07), prod=("prod-eu", "prod-us"),
            tiered=True),
    Service("auth",          "auth",          (0.5, 0.5),  (0.12, 0.12)),
    Service("notifications", "notifications", (0.8, 0.8),  (0.1, 0.1), prod=("live",), tiered=True),
    Service("web",           "storefront",    (2, 2),      (0.09, 0.09)),
    # low on its own, but web's reverts and hotfixes in the shared repo reach it too
    Service("mobile-bff",    "storefront",    (0.6, 0.6),  (0.03, 0.03)),
    Service("search",        "search",        (0.4, 0.4),  (0.12, 0.12)),
    # the low performer: a monthly release train, no rollbacks (migrations), fixes take a day or two
    Service("billing",       "billing",       (0, 0),      (0.4, 0.4), release_every_days=30,
            attempt_failure=0.15, remedies=(0.0, 0.6, 0.3, 0.1), fix_hours=30),
    # the improving one: from a fortnightly big-bang release to several small ones a day
    Service("ledger",        "ledger",        (0.08, 2.2), (0.4, 0.02), tiered=True, attempt_failure=0.1),
    Service("reporting",     "reporting",     (0.25, 0.25), (0.15, 0.15)),
)

VERBS = ("Add", "Fix", "Refactor", "Update", "Remove", "Improve", "Handle", "Speed up", "Validate",
         "Document")
THINGS = (
    "retry on upstream timeout", "currency rounding", "pagination of list endpoint", "flag for new flow",
    "metrics for queue depth", "stale cache entries", "input validation", "error messages",
    "connection pool size", "request id logging", "idempotency keys", "rate limiter", "database index",
    "health check", "config loading", "date serialization", "session expiry", "webhook signatures",
    "batch size", "dead letter queue", "tracing spans", "null handling in totals", "locale fallback",
)
PACKAGES = ("requests", "urllib3", "pydantic", "fastapi", "sqlalchemy", "boto3", "grpcio", "protobuf")
CHORES = ("Bump version", "Update CHANGELOG", "Fix typo in README", "Update CODEOWNERS",
          "Cache CI dependencies")
SYMPTOMS = (
    "Elevated 5xx rate", "p99 latency above SLO", "Error spike after release", "Queue backlog growing",
    "Timeouts calling upstream", "Failed jobs piling up", "Checkout conversion drop", "Memory leak alerts",
)
# fmt: on


def lerp(pair: tuple[float, float], f: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * f
