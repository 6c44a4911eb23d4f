"""A fake GitHub REST API on 127.0.0.1 for tests and benchmarks: the transport is faked, not PyGithub.

It serves repositories held in memory (hand-written fixtures from tests/fixtures/github/, or synthetic
ones for the benchmark) with GitHub's behaviour where the collector depends on it: Link pagination,
ETag / If-None-Match (a 304 does not count against the rate limit), X-RateLimit-* headers and a 403 when
the budget is spent, 401 for a wrong token, 404 for unknown paths. Faults are scripted per path
(`fail(...)`), latency is added per request, and requests are served concurrently.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.fake_http import FakeServer, number_of, reachable, sha_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
PRIMARY_LIMIT = "API rate limit exceeded for user ID 1."


@dataclass
class FakeRepo:
    full_name: str
    default_branch: str = "main"
    head: str | None = None  # sha of the default branch
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> payload
    pulls: list[dict[str, Any]] = field(default_factory=list)
    pull_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    releases: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # tag name -> sha
    meta: dict[str, Any] = field(default_factory=dict)

    def add_commit(self, payload: dict[str, Any], move_head: bool = True) -> None:
        self.commits[payload["sha"]] = payload
        if move_head:
            self.head = payload["sha"]

    def reachable(self, start: str | None) -> set[str]:
        return reachable(self.commits, start, lambda c: [p["sha"] for p in c.get("parents") or []])

    def repo_payload(self, base: str) -> dict[str, Any]:
        owner, name = self.full_name.split("/")
        return {
            "id": number_of(self.full_name) % 10**8,
            "node_id": "R_kgDO" + hashlib.sha1(self.full_name.encode()).hexdigest()[:8],
            "name": name,
            "full_name": self.full_name,
            "private": True,
            "owner": {"login": owner, "id": 1, "type": "Organization"},
            "html_url": f"https://github.com/{self.full_name}",
            "url": f"{base}/repos/{self.full_name}",
            "default_branch": self.default_branch,
            "archived": False,
            **self.meta,
        }


def load_fixture(folder: str | Path) -> FakeRepo:
    """A repo from tests/fixtures/github/<folder>/: one JSON file per endpoint, shaped like GitHub's."""
    path = Path(folder) if Path(folder).is_absolute() else FIXTURES / folder

    def read(name: str, default: Any) -> Any:
        file = path / name
        return json.loads(file.read_text()) if file.exists() else default

    meta = read("repo.json", {})
    repo = FakeRepo(meta["full_name"], meta.get("default_branch", "main"))
    for commit in read("commits.json", []):
        repo.commits[commit["sha"]] = commit
    repo.head = read("branch.json", {}).get("commit", {}).get("sha")
    repo.pulls = read("pulls.json", [])
    repo.pull_commits = {int(k): v for k, v in read("pull_commits.json", {}).items()}
    repo.reviews = {int(k): v for k, v in read("pull_reviews.json", {}).items()}
    repo.deployments = read("deployments.json", [])
    repo.statuses = {int(k): v for k, v in read("deployment_statuses.json", {}).items()}
    repo.issues = read("issues.json", [])
    repo.runs = read("workflow_runs.json", {}).get("workflow_runs", [])
    repo.releases = read("releases.json", [])
    repo.tags = {t["name"]: t["commit"]["sha"] for t in read("tags.json", [])}
    return repo


@dataclass
class Logged:
    path: str
    status: int
    if_none_match: str | None
    at: float


class FakeGitHub(FakeServer):
    """Start with `with FakeGitHub(repos) as gh:`; `gh.url` is the base_url to give PyGithub."""

    name = "fake-github"

    def __init__(
        self,
        repos: list[FakeRepo] | None = None,
        token: str | None = "test-token",
        latency: float = 0.0,
        rate_limit: int = 5000,
        reset_seconds: float = 3600.0,
        orgs: dict[str, list[str]] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        super().__init__(tls=tls, latency=latency)
        self.repos = {r.full_name.lower(): r for r in repos or []}
        self.token = token
        self.rate_limit, self.remaining, self.reset_seconds = rate_limit, rate_limit, reset_seconds
        self.reset_at = time.time() + reset_seconds
        self.orgs = orgs or {}

    # --- the server -----------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.startswith("/_fake/"):
            self._control(request, urlsplit(request.path).path)
            return
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._handle(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        split = urlsplit(request.path)
        if self.latency:
            time.sleep(self.latency)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        base = f"{'https' if self.tls else 'http'}://{request.headers.get('Host')}"
        path = split.path
        if path.startswith("/api/v3/"):  # GitHub Enterprise Server serves the API under /api/v3
            path, base = path[len("/api/v3") :], base + "/api/v3"
        etag_in = request.headers.get("If-None-Match")
        status, headers, body = self.respond(request, path, query, base, etag_in)
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        if body is not None:
            request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if data:
            request.wfile.write(data)
        with self.lock:
            self.log.append(Logged(request.path, status, etag_in, time.time()))
            count = len(self.log)
        if self.on_request:
            self.on_request(count)

    def _control(self, request: BaseHTTPRequestHandler, path: str) -> None:
        """/_fake/log and /_fake/reset: for a benchmark driving a fake in another process."""
        with self.lock:
            body = {
                "log": [[e.path, e.status] for e in self.log],
                "max_in_flight": self.max_in_flight,
            }
            if path == "/_fake/reset":
                self.log.clear()
                self.max_in_flight = 0
        data = json.dumps(body).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _rate_headers(self, spend: bool) -> dict[str, str]:
        with self.lock:
            now = time.time()
            if now >= self.reset_at:
                self.remaining, self.reset_at = self.rate_limit, now + self.reset_seconds
            if spend:
                self.remaining = max(0, self.remaining - 1)
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(int(self.reset_at)),
                "X-RateLimit-Used": str(self.rate_limit - self.remaining),
                "X-RateLimit-Resource": "core",
            }

    def respond(
        self,
        request: BaseHTTPRequestHandler,
        path: str,
        query: dict[str, str],
        base: str,
        etag_in: str | None,
    ) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            fault = next((f for f in self.faults if f.times > 0 and f.pattern.search(path)), None)
            if fault:
                fault.times -= 1
        if fault:
            return fault.status, {**self._rate_headers(False), **fault.headers}, fault.body
        auth = request.headers.get("Authorization") or ""
        if self.token and auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
            )
        with self.lock:
            exhausted = self.remaining <= 0 and time.time() < self.reset_at
        if exhausted:
            return (
                403,
                self._rate_headers(False),
                {
                    "message": PRIMARY_LIMIT,
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                },
            )
        found = self.route(path, query, base)
        if found is None:
            return (
                404,
                self._rate_headers(True),
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            )
        payload, items_key = found
        headers: dict[str, str] = {}
        if isinstance(payload, list) or items_key:
            payload, link = self.paginate(payload, items_key, path, query, base)
            if link:
                headers["Link"] = link
        etag = '"' + hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest() + '"'
        if etag_in and etag_in == etag:
            return 304, {**self._rate_headers(False), "ETag": etag}, None
        return 200, {**self._rate_headers(True), "ETag": etag, **headers}, payload

    def paginate(
        self, payload: Any, items_key: str | None, path: str, query: dict[str, str], base: str
    ) -> tuple[Any, str | None]:
        items = payload[items_key] if items_key else payload
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        if page < last:
            links.append(f'<{base}{path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            links.append(f'<{base}{path}?{urlencode({**query, "page": last})}>; rel="last"')
        if page > 1:
            links.append(f'<{base}{path}?{urlencode({**query, "page": 1})}>; rel="first"')
        out = {**payload, items_key: chunk} if items_key else chunk
        return out, ", ".join(links) or None

    def route(self, path: str, query: dict[str, str], base: str) -> tuple[Any, str | None] | None:
        org = re.fullmatch(r"/orgs/([^/]+)/repos", path)
        if org:
            names = self.orgs.get(org.group(1), [])
            return [self.repos[n.lower()].repo_payload(base) for n in names if n.lower() in self.repos], None
        found = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not found:
            return None
        repo = self.repos.get(found.group(1).lower())
        if repo is None:
            return None
        rest = found.group(2) or ""
        with self.lock:
            return self._repo_route(repo, rest, query, base)

    def _repo_route(self, repo: FakeRepo, rest: str, query: dict[str, str], base: str) -> Any:
        if rest == "":
            return repo.repo_payload(base), None
        if rest == f"/branches/{repo.default_branch}":
            return {"name": repo.default_branch, "commit": {"sha": repo.head}, "protected": True}, None
        if rest == "/commits":
            shas = repo.reachable(query.get("sha") or repo.head)
            listed = sorted((repo.commits[s] for s in shas), key=_commit_order, reverse=True)
            if "since" in query:
                listed = [c for c in listed if c["commit"]["committer"]["date"] >= query["since"]]
            return listed, None
        commit = re.fullmatch(r"/commits/([^/]+)", rest)
        if commit:
            ref = repo.tags.get(commit.group(1), commit.group(1))
            return (repo.commits[ref], None) if ref in repo.commits else None
        compare = re.fullmatch(r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", rest)
        if compare:
            old, new = compare.groups()
            if old not in repo.commits or new not in repo.commits:
                return None
            ahead = repo.reachable(new) - repo.reachable(old)
            listed = sorted((repo.commits[s] for s in ahead), key=_commit_order)
            body = {
                "status": "ahead" if ahead else "identical",
                "ahead_by": len(listed),
                "behind_by": 0,
                "total_commits": len(listed),
                "commits": listed,
                "files": [],
            }
            return body, "commits"
        if rest == "/pulls":
            pulls = [p for p in repo.pulls if query.get("state", "open") in ("all", p["state"])]
            return sorted(pulls, key=lambda p: (p["updated_at"], p["id"]), reverse=True), None
        parts = re.fullmatch(r"/pulls/(\d+)/(commits|reviews)", rest)
        if parts:
            number = int(parts.group(1))
            source = repo.pull_commits if parts.group(2) == "commits" else repo.reviews
            return (source[number], None) if number in source else None
        if rest == "/deployments":
            return sorted(repo.deployments, key=lambda d: d["id"], reverse=True), None
        statuses = re.fullmatch(r"/deployments/(\d+)/statuses", rest)
        if statuses:
            ident = int(statuses.group(1))
            if not any(d["id"] == ident for d in repo.deployments):
                return None
            return sorted(repo.statuses.get(ident, []), key=lambda s: s["id"], reverse=True), None
        if rest == "/issues":
            wanted = {x.lower() for x in query.get("labels", "").split(",") if x}
            issues = [
                i
                for i in repo.issues
                if wanted <= {label["name"].lower() for label in i.get("labels", [])}
                and query.get("state", "open") in ("all", i["state"])
                and i["updated_at"] >= query.get("since", "")
            ]
            return sorted(issues, key=lambda i: (i["updated_at"], i["id"]), reverse=True), None
        if rest == "/actions/runs":
            runs = sorted(repo.runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)
            return {"total_count": len(runs), "workflow_runs": runs}, "workflow_runs"
        run = re.fullmatch(r"/actions/runs/(\d+)", rest)
        if run:
            found = [r for r in repo.runs if r["id"] == int(run.group(1))]
            return (found[0], None) if found else None
        if rest == "/releases":
            return sorted(repo.releases, key=lambda r: r["id"], reverse=True), None
        return None


def _commit_order(commit: dict[str, Any]) -> tuple[str, str]:
    return commit["commit"]["committer"]["date"], commit["sha"]


# --- payload builders (the shapes of ../shared/reference/github), used by tests and the benchmark ----


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": number_of(login) % 10**7,
        "type": kind,
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
    }


def commit_payload(
    repo: str,
    sha: str,
    parents: list[str],
    authored: str,
    committed: str,
    message: str,
    login: str | None = "alice",
) -> dict[str, Any]:
    return {
        "sha": sha,
        "node_id": "C_" + sha[:12],
        "url": f"https://api.github.com/repos/{repo}/commits/{sha}",
        "html_url": f"https://github.com/{repo}/commit/{sha}",
        "commit": {
            "author": {
                "name": (login or "someone").title(),
                "email": f"{login}@example.com",
                "date": authored,
            },
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": committed},
            "message": message,
            "tree": {"sha": hashlib.sha1(("tree" + sha).encode()).hexdigest()},
            "comment_count": 0,
        },
        "author": user(login) if login else None,
        "committer": user("web-flow"),
        "parents": [{"sha": p, "url": f"https://api.github.com/repos/{repo}/commits/{p}"} for p in parents],
    }


def synthetic_repo(
    full_name: str, prs: int = 500, deployments: int = 300, seed: int = 1, start: dt.datetime | None = None
) -> FakeRepo:
    """A busy repository: `prs` merged PRs (merge commits, 2 commits each, one review) and `deployments`
    deployments of the default branch with a success status each; for the benchmark."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    repo = FakeRepo(full_name)
    root = sha_of(full_name, "root")
    repo.add_commit(commit_payload(full_name, root, [], iso(start), iso(start), "initial commit"))
    head, clock = root, start
    for n in range(1, prs + 1):
        clock += dt.timedelta(minutes=rng.randint(30, 240))
        branch = []
        parent = head
        for k in range(2):
            sha = sha_of(full_name, n, k)
            when = iso(clock - dt.timedelta(hours=3 - k))
            repo.add_commit(
                commit_payload(full_name, sha, [parent], when, when, f"work {n}.{k}", "bob"), move_head=False
            )
            branch.append(repo.commits[sha])
            parent = sha
        merge = sha_of(full_name, n, "merge")
        repo.add_commit(
            commit_payload(
                full_name,
                merge,
                [head, parent],
                iso(clock),
                iso(clock),
                f"Merge pull request #{n} from acme/feature-{n}",
                "bob",
            )
        )
        head = merge
        repo.pulls.append(pull_payload(full_name, n, "bob", clock - dt.timedelta(hours=2), clock, merge))
        repo.pull_commits[n] = branch
        repo.reviews[n] = [review_payload(full_name, n, n, "carol", clock - dt.timedelta(hours=1))]
    shas = [sha_of(full_name, n, "merge") for n in range(1, prs + 1)]
    for i in range(deployments):
        sha = shas[min(len(shas) - 1, (i + 1) * len(shas) // deployments - 1)]
        when = parse(repo.commits[sha]["commit"]["committer"]["date"]) + dt.timedelta(minutes=20)
        ident = seed * 10**6 + 1000 + i  # deployment ids are unique across a GitHub instance
        repo.deployments.append(deployment_payload(full_name, ident, sha, "production", when, True))
        repo.statuses[ident] = [
            status_payload(full_name, ident, 10 * ident, "success", when + dt.timedelta(minutes=5))
        ]
    return repo


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def pull_payload(
    repo: str,
    number: int,
    login: str,
    created: dt.datetime,
    merged: dt.datetime | None,
    merge_sha: str | None,
    head: str | None = None,
    labels: list[str] | None = None,
    updated: dt.datetime | None = None,
    base: str = "main",
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "id": 10**6 + number,
        "number": number,
        "state": "closed",
        "title": f"Change {number}",
        "user": user(login),
        "body": "",
        "labels": [
            {"id": number_of(x) % 10**6, "name": x, "color": "ededed", "default": False} for x in labels or []
        ],
        "created_at": iso(created),
        "updated_at": iso(updated or merged or created),
        "closed_at": iso(merged) if merged else iso(updated or created),
        "merged_at": iso(merged) if merged else None,
        "merge_commit_sha": merge_sha,
        "head": {
            "label": f"acme:{head or f'feature-{number}'}",
            "ref": head or f"feature-{number}",
            "sha": merge_sha,
        },
        "base": {"label": f"acme:{base}", "ref": base, "sha": merge_sha},
        "draft": False,
        "author_association": "MEMBER",
    }


def review_payload(
    repo: str, number: int, ident: int, login: str, when: dt.datetime, state: str = "APPROVED"
) -> dict[str, Any]:
    return {
        "id": 8 * 10**5 + ident,
        "user": user(login, "Bot" if login.endswith("[bot]") else "User"),
        "body": "",
        "state": state,
        "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{ident}",
        "pull_request_url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "submitted_at": iso(when),
        "author_association": "MEMBER",
    }


def deployment_payload(
    repo: str, ident: int, sha: str, environment: str, created: dt.datetime, production: bool | None = None
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/deployments/{ident}",
        "id": ident,
        "sha": sha,
        "ref": "main",
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": None,
        "creator": user("deploy-bot[bot]", "Bot"),
        "created_at": iso(created),
        "updated_at": iso(created),
        "statuses_url": f"https://api.github.com/repos/{repo}/deployments/{ident}/statuses",
        "repository_url": f"https://api.github.com/repos/{repo}",
        "transient_environment": False,
        "production_environment": production,
    }


def status_payload(repo: str, deployment: int, ident: int, state: str, when: dt.datetime) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/deployments/{deployment}/statuses/{ident}",
        "id": ident,
        "state": state,
        "creator": user("deploy-bot[bot]", "Bot"),
        "description": "",
        "environment": "production",
        "created_at": iso(when),
        "updated_at": iso(when),
        "deployment_url": f"https://api.github.com/repos/{repo}/deployments/{deployment}",
    }
