"""One repo and its services simulated event by event: commits, pull requests, CI runs, deployments,
failures and their remediation (rollbacks, hotfixes, reverts) and the incidents they cause."""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections.abc import Callable
from typing import Any

from collectors.demo.model import CHORES, CI_DELAY, PACKAGES, TEAMS, THINGS, VERBS, Repo, Service, lerp
from collectors.demo.org import PR, Deployer, Org, Release


class RepoSim:
    """One repo and its services, simulated in time order through a queue of events."""

    def __init__(self, org: Org, repo: Repo, services: list[Service]) -> None:
        self.org, self.repo = org, repo
        self.name = f"acme/{repo.name}"
        self.devs = TEAMS[repo.team]
        self.deployers = [Deployer(s) for s in services]
        self.main_times: list[dt.datetime] = []  # first-parent history of main, oldest first
        self.main_shas: list[str] = []
        self.index: dict[str, int] = {}
        self.parents: dict[str, list[str]] = {}
        self.messages: dict[str, str] = {}
        self.pr_of: dict[str, PR] = {}
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
            org.start + dt.timedelta(days=2), lambda f: lerp(self.repo.changes_per_day, f)
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

    def planned_pr(self, merged: dt.datetime) -> PR:
        org, repo = self.org, self.repo
        f = org.frac(merged)
        author = org.pick(self.devs)
        reviewer = org.pick([d for d in self.devs if d != author])
        pickup = org.hours(lerp(repo.pickup_hours, f))
        review = org.hours(lerp(repo.review_hours, f))
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
            coding = org.hours(lerp(repo.coding_hours, f))
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
        return PR(title, author, reviewer, style, branch, labels, first, created, reviewed_at, merged,
                   [t.replace(microsecond=0) for t in commit_times], messages)  # fmt: skip

    def plan(self, pr: PR) -> None:
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

    def open(self, t: dt.datetime, pr: PR) -> None:
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

    def merge(self, t: dt.datetime, pr: PR) -> None:
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
            failure = lerp(self.repo.ci_failure, org.frac(t))
            status = org.weighted(("success", "failure", "cancelled"), (0.97 - failure, failure, 0.03))
            if finished < org.stop:
                org.runs.append(
                    {"service": deployer.service.name, "pipeline": "ci", "branch": branch, "commit_sha": sha,
                     "started_at": started, "finished_at": finished, "status": status}
                )  # fmt: skip

    def plan_deploys(self, deployer: Deployer) -> None:
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
                first + dt.timedelta(hours=12), lambda f: lerp(service.deploys_per_day, f)
            ):
                self.at(t, self.deploy, deployer, False)

    def deploy(self, t: dt.datetime, deployer: Deployer, forced: bool) -> None:
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

    def failure_rate(self, deployer: Deployer, t: dt.datetime) -> float:
        return lerp(deployer.service.failure_rate, self.org.frac(t))

    def release(self, t: dt.datetime, deployer: Deployer, sha: str, *, staging: bool) -> Release | None:
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
        deployer.releases.append(Release(sha, first, rows[-1][2]))
        return deployer.releases[-1]

    def emit(
        self, deployer: Deployer, sha: str, rows: list[tuple[str, dt.datetime, dt.datetime, str]]
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

    def go_bad(self, deployer: Deployer, bad: Release) -> None:
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

    def rollback(self, t: dt.datetime, deployer: Deployer, sha: str, bad: Release) -> None:
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

    def recovered(self, deployer: Deployer, fix: Release) -> None:
        deployer.frozen = False
        for incident in deployer.pending:
            self.org.resolve(incident, fix.finished_at + self.org.minutes(5, 45))
        deployer.pending.clear()

    def hotfix(self, deployer: Deployer, t: dt.datetime) -> None:
        org = self.org
        author = org.pick(self.devs)
        title = f"Hotfix: {org.pick(THINGS)}"
        if org.chance(0.15):  # pushed straight to main; its title says hotfix
            merged = t + org.minutes(10, 40)
            self.at(merged, self.push, title, author)
        else:
            labelled = org.chance(0.8)
            prefix = "hotfix" if not labelled or org.chance(0.6) else "fix"
            pr, merged = self.small_pr(t, title, author, f"{prefix}/{title[8:].replace(' ', '-')}", [title])
            pr.labels = ["hotfix", "bug"] if labelled else ["bug"]
            self.plan(pr)
        self.at(merged + CI_DELAY + org.minutes(1, 15), self.deploy, deployer, True)

    def revert(self, deployer: Deployer, bad: Release, t: dt.datetime) -> None:
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
            pr, merged = self.small_pr(t, f'Revert "{subject}"', author, branch, [message])
            self.plan(pr)
        self.at(merged + CI_DELAY + org.minutes(1, 15), self.deploy, deployer, True)

    def small_pr(
        self, t: dt.datetime, title: str, author: str, branch: str, messages: list[str]
    ) -> tuple[PR, dt.datetime]:
        """An urgent one-commit PR (opened minutes after the commit, reviewed and merged fast) and when it
        merges."""
        org = self.org
        created = t + org.minutes(3, 15)
        reviewed = created + org.minutes(3, 20)
        merged = reviewed + org.minutes(5, 30)
        reviewer = org.pick([d for d in self.devs if d != author])
        style = org.weighted(("merge", "squash", "rebase"), self.repo.styles)
        return PR(
            title, author, reviewer, style, branch, [], t, created, reviewed, merged, [t], messages
        ), merged
