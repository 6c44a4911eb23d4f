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

import bisect
import datetime as dt
import hashlib
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from warehouse.schema import TABLE_BY_NAME

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


def _lerp(pair: tuple[float, float], f: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * f


@dataclass
class _PR:
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
class _Release:
    sha: str
    deployment_id: int  # the first successful production deployment of the release
    finished_at: dt.datetime


@dataclass
class _Deployer:
    """Deployment state of one service."""

    service: Service
    releases: list[_Release] = field(default_factory=list)
    frozen: bool = False  # after a bad release only the remediation ships: the next deploy is the fix
    pending: list[dict[str, Any]] = field(default_factory=list)  # incidents the next fix resolves


class _Org:
    """Random draws, sha and id counters, and the rows of every table."""

    def __init__(self, seed: int, end: dt.date) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # stdlib: fast scalar draws, stable across versions
        self.start = dt.datetime.combine(end - dt.timedelta(days=WINDOW_DAYS - 1), dt.time())
        self.stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        self._shas = 0
        self._deployments = 0
        self.commits: list[dict[str, Any]] = []
        self.prs: list[tuple[str, _PR]] = []
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

    def pick(self, items: tuple[str, ...] | list[str]) -> str:
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


class _RepoSim:
    """One repo and its services, simulated in time order through a queue of events."""

    def __init__(self, org: _Org, repo: Repo, services: list[Service]) -> None:
        self.org, self.repo = org, repo
        self.name = f"acme/{repo.name}"
        self.devs = TEAMS[repo.team]
        self.deployers = [_Deployer(s) for s in services]
        self.main_times: list[dt.datetime] = []  # first-parent history of main, oldest first
        self.main_shas: list[str] = []
        self.index: dict[str, int] = {}
        self.parents: dict[str, list[str]] = {}
        self.messages: dict[str, str] = {}
        self.pr_of: dict[str, _PR] = {}
        self.next_number = 1
        self._queue: list[tuple[dt.datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0

    def at(self, t: dt.datetime, handler: Callable[..., None], *args: Any) -> None:
        if t < self.org.stop:  # what would happen after the window's end never happened
            self._seq += 1
            heapq.heappush(self._queue, (t, self._seq, handler, args))

    def run(self) -> None:
        org = self.org
        self.commit(org.start + org.minutes(20, 60), [], self.devs[0], "Initial commit", main=True)
        for t in org.working_times(
            org.start + dt.timedelta(days=2), lambda f: _lerp(self.repo.changes_per_day, f)
        ):
            if org.chance(self.repo.direct_push):
                self.at(t, self.push, org.pick(CHORES), org.pick(self.devs))
            else:
                self.plan(self.planned_pr(t))
        self.plan_abandoned()
        for deployer in self.deployers:
            self.plan_deploys(deployer)
        while self._queue:
            t, _, handler, args = heapq.heappop(self._queue)
            handler(t, *args)

    # --- commits and pull requests

    def commit(
        self, t: dt.datetime, parents: list[str], author: str, message: str, *,
        authored: dt.datetime | None = None, sha: str | None = None, main: bool = False,
    ) -> str:  # fmt: skip
        sha = sha or self.org.sha()
        self.org.commits.append(
            {"repo": self.name, "sha": sha, "parents": parents, "authored_at": authored or t,
             "committed_at": t, "author": author, "message": message}
        )  # fmt: skip
        self.parents[sha], self.messages[sha] = parents, message
        if main:
            self.index[sha] = len(self.main_shas)
            self.main_times.append(t)
            self.main_shas.append(sha)
            self.ci(t, sha, "main")
        return sha

    def head_at(self, t: dt.datetime) -> str | None:
        i = bisect.bisect_right(self.main_times, t)
        return self.main_shas[i - 1] if i else None

    def planned_pr(self, merged: dt.datetime) -> _PR:
        org, repo = self.org, self.repo
        f = org.frac(merged)
        author = org.pick(self.devs)
        reviewer = org.pick([d for d in self.devs if d != author])
        pickup = org.hours(_lerp(repo.pickup_hours, f))
        review = org.hours(_lerp(repo.review_hours, f))
        if org.chance(0.07):  # dependency bots open PRs at once and with a single commit
            package, minor, patch = org.pick(PACKAGES), org.rng.randrange(1, 30), org.rng.randrange(9)
            title = f"Bump {package} from 2.{minor}.{patch} to 2.{minor}.{patch + 1}"
            branch, labels = f"dependabot/pip/{package}-2.{minor}.{patch + 1}", ["dependencies"]
            author = "dependabot[bot]"
            coding, messages = dt.timedelta(0), [title]
        else:
            verb, thing = org.pick(VERBS), org.pick(THINGS)
            title = f"{verb} {thing}"
            prefix = {"Fix": "fix", "Refactor": "chore", "Document": "docs"}.get(verb, "feature")
            branch = f"{prefix}/{thing.replace(' ', '-')}"
            labels = ["bug"] if verb == "Fix" and org.chance(0.6) else ["feature"] if org.chance(0.3) else []
            coding = org.hours(_lerp(repo.coding_hours, f))
            count = min(org.geometric(0.45), 6)
            messages = [title] + [f"{org.pick(VERBS)} {org.pick(THINGS)}" for _ in range(count - 1)]
        created = merged - review - pickup
        times = [created - coding, created, created + pickup]
        floor = org.start + dt.timedelta(hours=1)
        if times[0] < floor:  # squeeze an early PR into the window, keeping its proportions
            scale = (merged - floor) / (merged - times[0])
            times = [merged - (merged - t) * scale for t in times]
            times = [t.replace(microsecond=0) for t in times]
        first, created, reviewed = times
        reviewed_at = None if org.chance(0.1) else reviewed  # merged without a review
        commit_times = [first] + sorted(first + (created - first) * org.rng.random() for _ in messages[1:])
        if reviewed_at and reviewed_at < merged and org.chance(0.35):
            commit_times.append(reviewed_at + (merged - reviewed_at) * org.rng.random())
            messages = messages + ["Address review comments"]
        style = org.weighted(("merge", "squash", "rebase"), repo.styles)
        return _PR(title, author, reviewer, style, branch, labels, first, created, reviewed_at, merged,
                   [t.replace(microsecond=0) for t in commit_times], messages)  # fmt: skip

    def plan(self, pr: _PR) -> None:
        self.at(pr.created_at, self.open, pr)
        if pr.planned_merge is not None:
            self.at(pr.planned_merge, self.merge, pr)

    def plan_abandoned(self) -> None:
        """PRs closed without merging, and a few opened in the last days that are still open."""
        org = self.org
        span = (org.stop - org.start).total_seconds()
        starts = [
            org.start + dt.timedelta(seconds=round(org.rng.uniform(0.05, 0.98) * span)) for _ in range(4)
        ]
        starts += [org.stop - org.hours(30, 0.5) for _ in range(2)]
        for t in starts:
            pr = self.planned_pr(t + org.hours(20))
            pr.planned_merge = None
            if pr.first_review_at and pr.first_review_at >= org.stop:
                pr.first_review_at = None
            kept = [(at, m) for at, m in zip(pr.commit_times, pr.messages, strict=True) if at < org.stop]
            pr.commit_times, pr.messages = [at for at, _ in kept], [m for _, m in kept]
            if pr.created_at < org.stop:
                self.plan(pr)

    def open(self, t: dt.datetime, pr: _PR) -> None:
        # the branch starts from main as it was at the first commit; its commits exist from their own times
        pr.number, self.next_number = self.next_number, self.next_number + 1
        parent = self.head_at(pr.first_commit_at)
        for at, message in zip(pr.commit_times, pr.messages, strict=True):
            sha = self.org.sha()
            pr.branch.append((sha, [parent] if parent else [], at, message))
            parent = sha
            if at < self.org.stop:
                self.ci(at, sha, pr.head_branch)
        self.org.prs.append((self.name, pr))

    def merge(self, t: dt.datetime, pr: _PR) -> None:
        head = self.main_shas[-1]
        body = "\n".join(f"* {m}" for m in pr.messages)
        if pr.style == "merge":  # the branch commits reach main through the merge commit's second parent
            for sha, parents, at, message in pr.branch:
                self.commit(at, parents, pr.author, message, sha=sha)
            message = f"Merge pull request #{pr.number} from acme/{pr.head_branch}\n\n{pr.title}"
            shas = [self.commit(t, [head, pr.branch[-1][0]], pr.reviewer, message, main=True)]
        elif pr.style == "squash":  # one new commit; the branch commits never reach main (as on GitHub)
            shas = [self.commit(t, [head], pr.author, f"{pr.title} (#{pr.number})\n\n{body}", main=True)]
        else:  # rebase: the branch commits are rewritten onto main with new shas and the merge time
            shas = []
            for _, _, at, message in pr.branch:
                shas.append(self.commit(t, [head], pr.author, message, authored=at, main=True))
                head = shas[-1]
            pr.landed = shas
        pr.merged_at, pr.merge_commit_sha = t, shas[-1]
        for sha in shas:
            self.pr_of[sha] = pr

    def push(self, t: dt.datetime, message: str, author: str) -> None:
        self.commit(t, [self.main_shas[-1]], author, message, authored=t - self.org.minutes(1, 30), main=True)

    def ci(self, t: dt.datetime, sha: str, branch: str) -> None:
        org = self.org
        for i, deployer in enumerate(self.deployers):
            if i and org.chance(0.4):  # a monorepo's CI runs only for the paths a push touched
                continue
            started = t + org.minutes(0.3, 2)
            finished = started + org.hours(8 / 60, 0.3)  # CI takes minutes
            failure = _lerp(self.repo.ci_failure, org.frac(t))
            status = org.weighted(("success", "failure", "cancelled"), (0.97 - failure, failure, 0.03))
            if finished < org.stop:
                org.runs.append(
                    {"service": deployer.service.name, "pipeline": "ci", "branch": branch, "commit_sha": sha,
                     "started_at": started, "finished_at": finished, "status": status}
                )  # fmt: skip

    # --- deployments

    def plan_deploys(self, deployer: _Deployer) -> None:
        org, service = self.org, deployer.service
        first = org.start + dt.timedelta(days=1, hours=org.rng.uniform(9, 16))
        self.at(first.replace(microsecond=0), self.deploy, deployer, True)  # the baseline
        if service.release_every_days:
            t = first
            while True:
                day = t.date() + dt.timedelta(days=round(org.rng.gauss(service.release_every_days, 3)))
                while day.weekday() >= 5:
                    day += dt.timedelta(days=1)
                t = dt.datetime.combine(day, dt.time(10)) + org.minutes(0, 240)
                if t >= org.stop:
                    break
                self.at(t, self.deploy, deployer, False)
        else:
            for t in org.working_times(
                first + dt.timedelta(hours=12), lambda f: _lerp(service.deploys_per_day, f)
            ):
                self.at(t, self.deploy, deployer, False)

    def deploy(self, t: dt.datetime, deployer: _Deployer, forced: bool) -> None:
        """Ship main as CI left it. A forced deploy (the baseline, a fix) goes out even while frozen."""
        org = self.org
        if deployer.frozen and not forced:
            return
        sha = self.head_at(t - CI_DELAY)
        last = deployer.releases[-1].sha if deployer.releases else None
        if sha is None or (sha == last and not org.chance(0.04)):  # nothing new; sometimes redeploy anyway
            return
        release = self.release(t, deployer, sha, staging=True)
        if release is None:  # staging caught a problem: fixed and retried within the hour or two
            self.at(t + org.minutes(30, 120), self.deploy, deployer, forced)
            return
        if forced:
            self.recovered(deployer, release)
        elif len(deployer.releases) > 1 and sha != last and org.chance(self.failure_rate(deployer, t)):
            self.go_bad(deployer, release)

    def failure_rate(self, deployer: _Deployer, t: dt.datetime) -> float:
        return _lerp(deployer.service.failure_rate, self.org.frac(t))

    def release(self, t: dt.datetime, deployer: _Deployer, sha: str, *, staging: bool) -> _Release | None:
        """Deploy to staging (maybe), then to each production environment in turn; retry failed attempts."""
        org, service = self.org, deployer.service
        rows, cursor = [], t
        if staging:
            finished = cursor + org.minutes(4, 12)
            failed = org.chance(0.03)
            rows.append(("staging", cursor, finished, "failure" if failed else "success"))
            if failed:  # caught before production; the next release tries again
                self.emit(deployer, sha, rows)
                return None
            cursor = finished + org.minutes(5, 20)
        for environment in service.prod:
            if org.chance(service.attempt_failure):
                failed_at = cursor + org.minutes(2, 8)
                rows.append((environment, cursor, failed_at, "failure"))
                cursor = failed_at + org.minutes(5, 20)
            finished = cursor + org.minutes(3, 15)
            rows.append((environment, cursor, finished, "success"))
            cursor = finished + org.minutes(2, 10)
        if rows[-1][2] >= org.stop:
            return None
        ids = self.emit(deployer, sha, rows)
        first = next(
            i for i, row in zip(ids, rows, strict=True) if row[0] != "staging" and row[3] == "success"
        )
        deployer.releases.append(_Release(sha, first, rows[-1][2]))
        return deployer.releases[-1]

    def emit(
        self, deployer: _Deployer, sha: str, rows: list[tuple[str, dt.datetime, dt.datetime, str]]
    ) -> list[int]:
        ids = []
        for environment, started, finished, status in rows:
            tier = None
            if deployer.service.tiered:
                tier = "staging" if environment == "staging" else "production"
            ids.append(self.org.deployment_id())
            self.org.deployments.append(
                {"deployment_id": ids[-1], "service": deployer.service.name, "environment": environment,
                 "environment_tier": tier, "commit_sha": sha, "started_at": started, "finished_at": finished,
                 "status": status}
            )  # fmt: skip
        return ids

    def go_bad(self, deployer: _Deployer, bad: _Release) -> None:
        """A release broke production: maybe an incident, then a rollback, a hotfix or a revert."""
        org = self.org
        service = deployer.service
        mode = org.weighted(("rollback", "hotfix", "revert", "incident"), service.remedies)
        if mode == "incident" or org.chance(0.55):
            incident = org.incident(service.name, bad.finished_at + org.minutes(3, 10))
            link = org.rng.random()
            if link < 0.25:  # PagerDuty/Opsgenie integrations that carry the deployment
                incident["deployment_id"] = bad.deployment_id
            elif link < 0.35:
                incident["commit_sha"] = bad.sha
            if mode == "incident":  # fixed by a config change, no deployment
                org.resolve(incident, incident["created_at"] + org.hours(2.5))
            else:
                deployer.pending.append(incident)
        if mode == "incident":
            return
        deployer.frozen = True
        if mode == "rollback":
            rollback_at = bad.finished_at + org.minutes(*service.rollback_minutes)
            self.at(rollback_at, self.rollback, deployer, deployer.releases[-2].sha, bad)
        elif mode == "hotfix":
            self.hotfix(deployer, bad.finished_at + org.hours(service.fix_hours, 0.5))
        else:
            self.revert(deployer, bad, bad.finished_at + org.hours(service.fix_hours * 2, 0.5))

    def rollback(self, t: dt.datetime, deployer: _Deployer, sha: str, bad: _Release) -> None:
        # straight to production; the real fix follows hours later and rolls forward
        release = self.release(t, deployer, sha, staging=False)
        if release is None:
            return
        for incident in deployer.pending:
            self.org.resolve(incident, release.finished_at + self.org.minutes(5, 30))
        deployer.pending.clear()
        fix_at = t + self.org.hours(5, 0.5)
        if self.org.chance(0.8):
            self.revert(deployer, bad, fix_at)
        else:
            self.hotfix(deployer, fix_at)

    def recovered(self, deployer: _Deployer, fix: _Release) -> None:
        deployer.frozen = False
        for incident in deployer.pending:
            self.org.resolve(incident, fix.finished_at + self.org.minutes(5, 45))
        deployer.pending.clear()

    def hotfix(self, deployer: _Deployer, t: dt.datetime) -> None:
        org = self.org
        author = org.pick(self.devs)
        title = f"Hotfix: {org.pick(THINGS)}"
        if org.chance(0.15):  # pushed straight to main; its title says hotfix
            merged = t + org.minutes(10, 40)
            self.at(merged, self.push, title, author)
        else:
            labelled = org.chance(0.8)
            prefix = "hotfix" if not labelled or org.chance(0.6) else "fix"
            pr = self.small_pr(t, title, author, f"{prefix}/{title[8:].replace(' ', '-')}", [title])
            pr.labels = ["hotfix", "bug"] if labelled else ["bug"]
            merged = pr.planned_merge
            self.plan(pr)
        self.at(merged + CI_DELAY + org.minutes(1, 15), self.deploy, deployer, True)

    def revert(self, deployer: _Deployer, bad: _Release, t: dt.datetime) -> None:
        """Revert one main-line commit the bad release shipped, with git's own message."""
        org = self.org
        # what the bad release shipped: main after everything deployed before it (a rollback included)
        reached = max(self.index[r.sha] for r in deployer.releases[: deployer.releases.index(bad)])
        shipped = self.main_shas[reached + 1 : self.index[bad.sha] + 1] or [bad.sha]
        target = org.pick(shipped)
        # git writes the full sha; people editing the message shorten it
        ref = target if org.chance(0.8) else target[: org.pick((7, 12))]
        subject = self.messages[target].splitlines()[0]
        if len(self.parents[target]) > 1:
            body = f"This reverts commit {ref}, reversing\nchanges made to {self.parents[target][0]}."
        else:
            body = f"This reverts commit {ref}."
        message = f'Revert "{subject}"\n\n{body}'
        author = org.pick(self.devs)
        if org.chance(0.3):
            merged = t
            self.at(t, self.push, message, author)
        else:
            source = self.pr_of.get(target)
            branch = f"revert-{source.number}-{source.head_branch}" if source else f"revert-{target[:7]}"
            pr = self.small_pr(t, f'Revert "{subject}"', author, branch, [message])
            merged = pr.planned_merge
            self.plan(pr)
        self.at(merged + CI_DELAY + org.minutes(1, 15), self.deploy, deployer, True)

    def small_pr(self, t: dt.datetime, title: str, author: str, branch: str, messages: list[str]) -> _PR:
        """An urgent one-commit PR: opened minutes after the commit, reviewed and merged fast."""
        org = self.org
        created = t + org.minutes(3, 15)
        reviewed = created + org.minutes(3, 20)
        merged = reviewed + org.minutes(5, 30)
        reviewer = org.pick([d for d in self.devs if d != author])
        style = org.weighted(("merge", "squash", "rebase"), self.repo.styles)
        return _PR(title, author, reviewer, style, branch, [], t, created, reviewed, merged, [t], messages)


def _unattributed(org: _Org) -> None:
    """Incidents no deployment explains (infrastructure, a provider outage), and two left open at the end."""
    finishes: dict[str, list[dt.datetime]] = {s.name: [] for s in SERVICES}
    prod = [d for d in org.deployments if d["environment"] != "staging" and d["status"] == "success"]
    for d in prod:
        finishes[d["service"]].append(d["finished_at"])
    window = dt.timedelta(hours=72)

    def quiet(service: str, t: dt.datetime) -> bool:
        return not any(t - window <= f <= t for f in finishes[service])

    span = (org.stop - org.start).total_seconds()
    for service in SERVICES:
        for _ in range(org.poisson(3)):
            t = org.start + dt.timedelta(seconds=round(org.rng.uniform(0.03, 0.99) * span))
            if quiet(service.name, t):
                severity = org.weighted(("sev2", "sev3"), (0.3, 0.7))
                org.resolve(org.incident(service.name, t, severity), t + org.hours(3, 1.0))
    # still open: one nothing explains, one right after the latest release of a busy service
    for name in ("billing", "reporting", "search", "auth", "payments"):
        latest = max(finishes[name], default=org.start)
        earliest = max(latest + window + dt.timedelta(hours=1), org.stop - dt.timedelta(days=2))
        t = earliest + org.minutes(0, 900)
        if t < org.stop - dt.timedelta(hours=1) and quiet(name, t):
            org.incident(name, t, "sev3")["title"] = f"Intermittent timeouts from a provider in {name}"
            break
    for name in ("cart", "checkout", "web", "api-gateway"):
        latest = max(finishes[name], default=org.start)
        if latest > org.stop - dt.timedelta(days=7) and latest + dt.timedelta(hours=2) < org.stop:
            org.incident(name, latest + org.minutes(10, 60), "sev2")
            break


def _frames(org: _Org) -> dict[str, pd.DataFrame]:
    deployments = sorted(org.deployments, key=lambda d: (d["started_at"], d["service"], d["deployment_id"]))
    ids = {d["deployment_id"]: str(100001 + i) for i, d in enumerate(deployments)}  # ids grow with time
    for d in deployments:
        d["deployment_id"] = ids[d["deployment_id"]]
    incidents = sorted(org.incidents, key=lambda i: (i["created_at"], i["service"]))
    for i, incident in enumerate(incidents):
        incident["incident_id"] = f"INC-{i + 1:04d}"
        if incident["deployment_id"] is not None:
            incident["deployment_id"] = ids[incident["deployment_id"]]
    # the deploy pipeline runs alongside the CI ones: one run per deployment attempt
    runs = org.runs + [
        {"service": d["service"], "pipeline": "deploy", "branch": "main", "commit_sha": d["commit_sha"],
         "started_at": d["started_at"], "finished_at": d["finished_at"], "status": d["status"]}
        for d in deployments
    ]  # fmt: skip
    runs.sort(key=lambda r: (r["started_at"], r["service"], r["pipeline"], r["commit_sha"]))
    for i, run in enumerate(runs):
        run["run_id"] = str(9000001 + i)
    prs, pr_commits = [], []
    for repo, pr in sorted(org.prs, key=lambda p: (p[0], p[1].number)):
        prs.append(
            {"repo": repo, "number": pr.number, "title": pr.title, "author": pr.author,
             "created_at": pr.created_at, "first_commit_at": pr.first_commit_at,
             "first_review_at": pr.first_review_at, "merged_at": pr.merged_at,
             "merge_commit_sha": pr.merge_commit_sha, "head_branch": pr.head_branch, "base_branch": "main",
             "labels": pr.labels}
        )  # fmt: skip
        for sha in [b[0] for b in pr.branch] + pr.landed:  # a rebase merge lists the shas that landed too
            pr_commits.append({"repo": repo, "number": pr.number, "sha": sha})
    services = [{"service": s.name, "repo": f"acme/{s.repo}", "team": _team(s)} for s in SERVICES]
    tables = {
        "services": services,
        "commits": sorted(org.commits, key=lambda c: (c["repo"], c["committed_at"], c["sha"])),
        "pull_requests": prs,
        "pull_request_commits": pr_commits,
        "deployments": deployments,
        "pipeline_runs": runs,
        "incidents": incidents,
    }
    return {name: _frame(name, rows) for name, rows in tables.items()}


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in TABLE_BY_NAME[name].columns])
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    if "number" in frame:
        frame["number"] = frame["number"].astype("int64")
    return frame


def _team(service: Service) -> str:
    return next(r.team for r in REPOS if r.name == service.repo)


def generate(seed: int = 7, end: dt.date | None = None) -> dict[str, pd.DataFrame]:
    """The demo org's core tables for the 183 days ending on `end` (default: today, UTC).

    The same seed and end always give the same frames.
    """
    if end is None:
        end = dt.datetime.now(dt.UTC).date()
    elif isinstance(end, dt.datetime):
        end = end.date()
    org = _Org(seed, end)
    for repo in REPOS:
        _RepoSim(org, repo, [s for s in SERVICES if s.repo == repo.name]).run()
    _unattributed(org)
    return _frames(org)


def build(con: Any, seed: int = 7, end: dt.date | None = None) -> dict[str, int]:
    """Generate the demo org and load it into the warehouse behind `con`. Returns rows per table."""
    from warehouse.load import load_frames  # collectors stay free of DuckDB until asked to load

    return load_frames(con, generate(seed, end), "demo", f"seed={seed}")
