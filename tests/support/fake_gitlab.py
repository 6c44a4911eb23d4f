"""A fake GitLab REST API (v4) for tests and the benchmark: the transport is faked, not python-gitlab.

It serves projects held in memory (hand-written fixtures from tests/fixtures/gitlab/, or synthetic ones
for the benchmark) with GitLab's behaviour where the collector depends on it: offset pagination (Link,
X-Page, X-Next-Page, X-Total ... headers), keyset pagination (a Link with a cursor, no X-Page headers),
`updated_after` / `updated_before` filters, revision ranges `a..b` for commits, PRIVATE-TOKEN auth (401).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from tests.support.fake_http import FakeServer, Query, Reply, number_of, one, reachable, sha_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitlab"
UNAUTHORIZED = {"message": "401 Unauthorized"}
NOT_FOUND = {"message": "404 Project Not Found"}


def ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


@dataclass
class FakeProject:
    id: int
    path: str
    default_branch: str = "main"
    head: str | None = None
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> payload
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    mr_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    mr_notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    environments: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> its diff's entries
    releases: list[dict[str, Any]] = field(default_factory=list)
    archived: bool = False

    def add_commit(self, payload: dict[str, Any], move_head: bool = True) -> None:
        self.commits[payload["id"]] = payload
        if move_head:
            self.head = payload["id"]

    def reachable(self, start: str | None) -> set[str]:
        return reachable(self.commits, start, lambda c: c.get("parent_ids") or [])

    def payload(self, base: str) -> dict[str, Any]:
        namespace, name = self.path.rsplit("/", 1)
        return {
            "id": self.id,
            "name": name,
            "path": name,
            "path_with_namespace": self.path,
            "name_with_namespace": self.path.replace("/", " / "),
            "default_branch": self.default_branch,
            "archived": self.archived,
            "visibility": "private",
            "web_url": f"https://gitlab.example.com/{self.path}",
            "namespace": {"id": number_of(namespace) % 10**5, "full_path": namespace, "kind": "group"},
            "created_at": "2025-01-06T09:00:00.000Z",
            "last_activity_at": "2026-03-03T12:00:00.000Z",
        }


def load_fixture(folder: str | Path) -> FakeProject:
    """A project from tests/fixtures/gitlab/<folder>/: one JSON file per endpoint, shaped like GitLab's."""
    path = Path(folder) if Path(folder).is_absolute() else FIXTURES / folder

    def read(name: str, default: Any) -> Any:
        file = path / name
        return json.loads(file.read_text()) if file.exists() else default

    meta = read("project.json", {})
    project = FakeProject(meta["id"], meta["path_with_namespace"], meta.get("default_branch", "main"))
    for commit in read("commits.json", []):
        project.commits[commit["id"]] = commit
    project.head = read("branch.json", {}).get("commit", {}).get("id")
    project.merge_requests = read("merge_requests.json", [])
    project.mr_commits = {int(k): v for k, v in read("merge_request_commits.json", {}).items()}
    project.mr_notes = {int(k): v for k, v in read("merge_request_notes.json", {}).items()}
    project.deployments = read("deployments.json", [])
    project.environments = read("environments.json", [])
    project.pipelines = read("pipelines.json", [])
    project.issues = read("issues.json", [])
    project.jobs = read("jobs.json", [])
    return project


class FakeGitLab(FakeServer):
    """`with FakeGitLab([project]) as gl:`; `gl.url` is the url to give python-gitlab."""

    name = "fake-gitlab"

    def __init__(
        self, projects: list[FakeProject] | None = None, token: str | None = "test-token", **kw: Any
    ):
        super().__init__(**kw)
        self.projects = {p.path.lower(): p for p in projects or []}
        self.token = token

    def project(self, ref: str) -> FakeProject | None:
        ref = unquote(ref)
        if ref.isdigit():
            return next((p for p in self.projects.values() if p.id == int(ref)), None)
        return self.projects.get(ref.lower())

    def authorized(self, headers: Any) -> Reply | None:
        if self.token and headers.get("PRIVATE-TOKEN") != self.token:
            return 401, {}, UNAUTHORIZED
        return None

    def route(self, path: str, query: Query, base: str) -> Reply:
        if not path.startswith("/api/v4/"):
            return 404, {}, {"error": "404 Not Found"}
        parts = path[len("/api/v4/") :].split("/")
        if parts[0] == "groups" and len(parts) == 3 and parts[2] == "projects":
            group = unquote(parts[1]).lower()
            found = [
                p.payload(base)
                for p in sorted(self.projects.values(), key=lambda p: p.id)
                if p.path.lower().startswith(group + "/")
                and (one(query, "archived") != "false" or not p.archived)
            ]
            if one(query, "pagination") == "keyset":
                return self.keyset(found, query, base, path, "id_after")
            return self.offset(found, query, base, path)
        if parts[0] != "projects" or len(parts) < 2:
            return 404, {}, {"error": "404 Not Found"}
        project = self.project(parts[1])
        if project is None:
            return 404, {}, NOT_FOUND
        rest = "/".join(parts[2:])
        return self.project_route(project, rest, query, base, path)

    def project_route(self, p: FakeProject, rest: str, query: Query, base: str, path: str) -> Reply:
        if rest == "":
            return 200, {}, p.payload(base)
        if rest == "environments":
            return self.offset(p.environments, query, base, path)
        if rest == "releases":  # newest release first, as GitLab orders them by default
            listed = sorted(p.releases, key=lambda r: (r["released_at"], r["tag_name"]), reverse=True)
            return self.offset(listed, query, base, path)
        if rest.startswith("repository/branches/"):
            name = unquote(rest.split("/", 2)[2])
            if name != p.default_branch:
                return 404, {}, {"message": "404 Branch Not Found"}
            return (
                200,
                {},
                {"name": name, "default": True, "commit": p.commits.get(p.head or "", {"id": p.head})},
            )
        if rest.startswith("repository/commits/") and rest.endswith("/diff"):
            sha = rest.split("/")[2]
            if sha not in p.commits:
                return 404, {}, {"message": "404 Commit Not Found"}
            return self.offset(p.files.get(sha, []), query, base, path)
        if rest == "repository/commits":
            ref = one(query, "ref_name") or p.default_branch
            old, _, new = ref.rpartition("..")
            new = p.head if new == p.default_branch else new
            if (old and old not in p.commits) or new not in p.commits:
                return 404, {}, {"message": "404 Reference Not Found"}
            shas = p.reachable(new) - p.reachable(old or None)
            listed = sorted(
                (p.commits[s] for s in shas), key=lambda c: (c["committed_date"], c["id"]), reverse=True
            )
            since = ts(one(query, "since"))
            if since:
                listed = [c for c in listed if ts(c["committed_date"]) >= since]
            return self.offset(listed, query, base, path)
        if rest in ("merge_requests", "deployments", "pipelines", "issues"):
            items = {
                "merge_requests": p.merge_requests,
                "deployments": p.deployments,
                "pipelines": p.pipelines,
                "issues": p.issues,
            }[rest]
            return self.offset(self.filtered(items, query), query, base, path)
        if rest.startswith("merge_requests/"):
            _, iid, what = rest.split("/")
            source = p.mr_commits if what == "commits" else p.mr_notes
            if int(iid) not in source:
                return 404, {}, {"message": "404 Not found"}
            return self.offset(source[int(iid)], query, base, path)
        if rest == "jobs":
            scopes = set(query.get("scope[]", []))
            jobs = sorted((j for j in p.jobs if not scopes or j["status"] in scopes), key=lambda j: -j["id"])
            if one(query, "pagination") == "keyset":
                return self.keyset(jobs, query, base, path, "cursor", descending=True)
            return self.offset(jobs, query, base, path)
        return 404, {}, {"error": "404 Not Found"}

    @staticmethod
    def filtered(items: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
        after, before = ts(one(query, "updated_after")), ts(one(query, "updated_before"))
        wanted = {k: one(query, k) for k in ("state", "status", "issue_type", "environment") if one(query, k)}

        def keep(item: dict[str, Any]) -> bool:
            updated = ts(item.get("updated_at"))
            if (after and updated < after) or (before and updated >= before):
                return False
            for key, value in wanted.items():
                got = item.get("type" if key == "issue_type" else key)
                if key == "environment":
                    got = (item.get("environment") or {}).get("name")
                if key == "issue_type":
                    got = (got or "issue").lower()
                if got != value:
                    return False
            return True

        order = one(query, "order_by", "created_at")
        reverse = one(query, "sort", "desc") == "desc"
        listed = [i for i in items if keep(i)]
        if order in ("updated_at", "created_at"):
            listed.sort(key=lambda i: (ts(i.get(order)), i.get("id")), reverse=reverse)
        else:
            listed.sort(key=lambda i: i.get("id"), reverse=reverse)
        return listed

    @staticmethod
    def offset(items: list[Any], query: Query, base: str, path: str) -> Reply:
        per_page = min(int(one(query, "per_page", "20")), 100)
        page = int(one(query, "page", "1"))
        chunk = items[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(items) // per_page))
        flat = {k: v if k.endswith("[]") else v[-1] for k, v in query.items()}

        def link(number: int, rel: str) -> str:
            query = urlencode({**flat, "page": number, "per_page": per_page}, doseq=True)
            return f'<{base}{path}?{query}>; rel="{rel}"'

        links = [link(page - 1, "prev")] if page > 1 else []
        if page < pages:
            links.append(link(page + 1, "next"))
        links += [link(1, "first"), link(pages, "last")]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(links),
        }
        return 200, headers, chunk

    @staticmethod
    def keyset(
        items: list[dict[str, Any]], query: Query, base: str, path: str, param: str, descending: bool = False
    ) -> Reply:
        """Keyset pages: the next page is named by the last id seen, in a Link header only (no X-Page)."""
        per_page = min(int(one(query, "per_page", "20")), 100)
        after = one(query, param)
        if after is not None:
            last = int(after)
            items = [i for i in items if (i["id"] < last if descending else i["id"] > last)]
        chunk = items[:per_page]
        headers: dict[str, str] = {}
        if len(items) > per_page:
            flat = {k: v if k.endswith("[]") else v[-1] for k, v in query.items()}
            nxt = urlencode({**flat, param: chunk[-1]["id"]}, doseq=True)
            headers["Link"] = f'<{base}{path}?{nxt}>; rel="next"'
        return 200, headers, chunk


# Payload builders in the shapes of GitLab's REST API, for the benchmark and small tests.


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def user(username: str) -> dict[str, Any]:
    return {
        "id": number_of(username) % 10**6,
        "username": username,
        "name": username.title(),
        "state": "active",
        "web_url": f"https://gitlab.example.com/{username}",
    }


def commit(
    sha: str, parents: list[str], when: dt.datetime, message: str, author: str = "Alice"
) -> dict[str, Any]:
    return {
        "id": sha,
        "short_id": sha[:8],
        "title": message.split("\n", 1)[0],
        "message": message,
        "author_name": author,
        "author_email": f"{author.lower()}@example.com",
        "authored_date": iso(when),
        "committer_name": author,
        "committer_email": f"{author.lower()}@example.com",
        "committed_date": iso(when),
        "created_at": iso(when),
        "parent_ids": parents,
    }


def merge_request(
    iid: int,
    author: str,
    created: dt.datetime,
    merged: dt.datetime,
    merge_sha: str | None,
    head_sha: str,
    squash_sha: str | None = None,
    source: str | None = None,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": 9000 + iid,
        "iid": iid,
        "project_id": 1,
        "title": f"Change {iid}",
        "state": "merged",
        "created_at": iso(created),
        "updated_at": iso(merged),
        "merged_at": iso(merged),
        "closed_at": None,
        "target_branch": "main",
        "source_branch": source or f"feature-{iid}",
        "author": user(author),
        "merged_by": user(author),
        "labels": labels or [],
        "sha": head_sha,
        "merge_commit_sha": merge_sha,
        "squash_commit_sha": squash_sha,
        "squash": squash_sha is not None,
        "web_url": f"https://gitlab.example.com/acme/app/-/merge_requests/{iid}",
    }  # fmt: skip


def note(ident: int, author: str, when: dt.datetime, body: str, system: bool = False) -> dict[str, Any]:
    return {
        "id": ident,
        "type": None,
        "body": body,
        "author": user(author),
        "created_at": iso(when),
        "updated_at": iso(when),
        "system": system,
        "noteable_type": "MergeRequest",
        "resolvable": False,
    }


def deployment(
    ident: int, sha: str, environment: tuple[int, str], when: dt.datetime, status: str = "success"
) -> dict[str, Any]:
    return {
        "id": ident,
        "iid": ident,
        "ref": "main",
        "sha": sha,
        "status": status,
        "created_at": iso(when - dt.timedelta(minutes=5)),
        "updated_at": iso(when),
        "finished_at": iso(when) if status in ("success", "failed", "canceled") else None,
        "user": user("deployer"),
        "environment": {"id": environment[0], "name": environment[1], "external_url": "https://example.com"},
        "deployable": {
            "id": ident * 10,
            "name": "deploy",
            "stage": "deploy",
            "status": status,
            "started_at": iso(when - dt.timedelta(minutes=4)),
            "finished_at": iso(when) if status in ("success", "failed", "canceled") else None,
            "commit": {"id": sha, "short_id": sha[:8]},
            "pipeline": {"id": ident * 10, "sha": sha, "ref": "main", "status": status},
        },
    }


def diff(new_path: str, old_path: str | None = None, deleted: bool = False) -> dict[str, Any]:
    """An entry of GET /projects/:id/repository/commits/:sha/diff."""
    return {
        "diff": "@@ -1 +1 @@\n-old\n+new\n",
        "new_path": new_path,
        "old_path": old_path or new_path,
        "a_mode": "100644",
        "b_mode": "100644",
        "new_file": False,
        "renamed_file": old_path is not None and old_path != new_path,
        "deleted_file": deleted,
    }


def release(tag: str, sha: str, when: dt.datetime, upcoming: bool = False) -> dict[str, Any]:
    """An item of GET /projects/:id/releases."""
    return {
        "tag_name": tag,
        "name": f"Release {tag}",
        "description": f"Release notes of {tag}",
        "created_at": iso(when - dt.timedelta(minutes=5)),
        "released_at": iso(when),
        "upcoming_release": upcoming,
        "author": user("releaser"),
        "commit": {"id": sha, "short_id": sha[:8], "title": "release", "parent_ids": []},
        "commit_path": f"/acme/app/-/commit/{sha}",
        "tag_path": f"/acme/app/-/tags/{tag}",
        "assets": {"count": 0, "sources": [], "links": []},
    }


def job(
    ident: int, name: str, sha: str, when: dt.datetime, status: str = "success", ref: str = "main"
) -> dict:
    return {
        "id": ident,
        "name": name,
        "stage": "deploy",
        "status": status,
        "ref": ref,
        "tag": False,
        "created_at": iso(when - dt.timedelta(minutes=10)),
        "started_at": iso(when - dt.timedelta(minutes=8)),
        "finished_at": iso(when),
        "duration": 480.0,
        "commit": {"id": sha, "short_id": sha[:8], "title": "deploy"},
        "pipeline": {"id": ident // 10, "sha": sha, "ref": ref, "status": status},
        "user": user("deployer"),
    }


def synthetic_project(
    path: str,
    ident: int,
    mrs: int = 500,
    deployments: int = 300,
    seed: int = 1,
    start: dt.datetime | None = None,
) -> FakeProject:
    """A busy project: `mrs` merged MRs (merge commits, 2 commits and 2 notes each) and `deployments`
    successful production deployments of the default branch; for the benchmark."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    project = FakeProject(ident, path)
    project.environments = [{"id": 1, "name": "production", "tier": "production", "state": "available"}]
    root = sha_of(path, "root")
    project.add_commit(commit(root, [], start, "initial commit"))
    head, clock = root, start
    for n in range(1, mrs + 1):
        clock += dt.timedelta(minutes=rng.randint(30, 240))
        parent, branch = head, []
        for k in range(2):
            sha = sha_of(path, n, k)
            c = commit(sha, [parent], clock - dt.timedelta(hours=3 - k), f"work {n}.{k}", "Bob")
            branch.append(c)
            parent = sha
        merge = sha_of(path, n, "merge")
        project.add_commit(
            commit(merge, [head, parent], clock, f"Merge branch 'feature-{n}' into 'main'", "Bob")
        )
        for c in branch:
            project.commits[c["id"]] = c
        head = merge
        project.merge_requests.append(
            merge_request(n, "bob", clock - dt.timedelta(hours=2), clock, merge, parent)
        )
        project.mr_commits[n] = list(reversed(branch))
        project.mr_notes[n] = [
            note(n * 10, "bob", clock - dt.timedelta(hours=2), "added 2 commits", system=True),
            note(
                n * 10 + 1, "carol", clock - dt.timedelta(hours=1), "approved this merge request", system=True
            ),
        ]
    merges = [sha_of(path, n, "merge") for n in range(1, mrs + 1)]
    for i in range(deployments):
        sha = merges[min(len(merges) - 1, (i + 1) * len(merges) // deployments - 1)]
        when = ts(project.commits[sha]["committed_date"]) + dt.timedelta(minutes=20)
        project.deployments.append(deployment(ident * 10**5 + i, sha, (1, "production"), when))
    return project
