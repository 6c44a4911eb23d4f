"""A fake GitHub REST API on 127.0.0.1 for tests and benchmarks: the transport is faked, not PyGithub.

It serves repositories held in memory (hand-written fixtures from tests/fixtures/github/, or synthetic
ones for the benchmark) with GitHub's behaviour where the collector depends on it: Link pagination,
ETag / If-None-Match (a 304 does not count against the rate limit), X-RateLimit-* headers and a 403 when
the budget is spent, 401 for a wrong token, 404 for unknown paths. Faults are scripted per path
(`fail(...)`), latency is added per request, and requests are served concurrently.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.fake_http import FakeServer, number_of, reachable

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
    # sha -> the `files` of GET /commits/{sha} (GitHub pages them by 300: `files_per_page`)
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files_per_page: int = 300
    attempts: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)  # run id -> attempt -> run

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
        if isinstance(payload, dict) and "_link" in payload:
            payload = dict(payload)
            headers["Link"] = payload.pop("_link")
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
            start = query.get("sha") or repo.head
            if start not in repo.commits:
                return None
            shas = repo.reachable(start)
            listed = sorted((repo.commits[s] for s in shas), key=_commit_order, reverse=True)
            if "since" in query:
                listed = [c for c in listed if c["commit"]["committer"]["date"] >= query["since"]]
            return listed, None
        commit = re.fullmatch(r"/commits/([^/]+)", rest)
        if commit:
            ref = repo.tags.get(commit.group(1), commit.group(1))
            if ref not in repo.commits:
                return None
            return self._commit_with_files(repo, ref, query, base, rest), None
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
        attempt = re.fullmatch(r"/actions/runs/(\d+)/attempts/(\d+)", rest)
        if attempt:
            found = repo.attempts.get(int(attempt.group(1)), {}).get(int(attempt.group(2)))
            return (found, None) if found else None
        run = re.fullmatch(r"/actions/runs/(\d+)", rest)
        if run:
            found = [r for r in repo.runs if r["id"] == int(run.group(1))]
            return (found[0], None) if found else None
        if rest == "/releases":
            return sorted(repo.releases, key=lambda r: r["id"], reverse=True), None
        return None

    def _commit_with_files(
        self, repo: FakeRepo, sha: str, query: dict[str, str], base: str, rest: str
    ) -> dict[str, Any]:
        """GET /commits/{sha}: the commit with a page of its files (and a Link to the next page), as
        GitHub answers a commit of more than 300 files; at most 3000 files are ever listed."""
        files = repo.files.get(sha, [])[:3000]
        size = repo.files_per_page
        page = int(query.get("page", 1))
        last = max(1, -(-len(files) // size))
        payload = {**repo.commits[sha], "files": files[(page - 1) * size : page * size]}
        if page < last:
            link = (
                f'<{base}/repos/{repo.full_name}{rest}?{urlencode({**query, "page": page + 1})}>; rel="next"'
            )
            payload["_link"] = link
        return payload


def _commit_order(commit: dict[str, Any]) -> tuple[str, str]:
    return commit["commit"]["committer"]["date"], commit["sha"]
