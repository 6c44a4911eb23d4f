"""Monorepos (issue 11): `paths` in a repository's services, and the files of its commits from the
per-commit API (only for repositories with a path-filtered service; each commit asked once)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collectors.github import settings as github_settings
from tests.support.builder import Bundle, load_bundle, sha
from tests.support.collect import rows
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, FakeRepo
from tests.support.github_payloads import commit_payload, deployment_payload, file_entries, status_payload
from warehouse import db
from warehouse.metric_settings import MetricsSettings
from warehouse.metrics import Scope, compute
from warehouse.transform import run as transform

REPO = "acme/mono"
API, WEB = "services/api/*", "web/*"
# name, parent, time, files (a rename is "new<old")
COMMITS = [
    ("c0", None, "2026-03-02T09:00:00Z", ["README.md", "services/api/main.py", "web/index.html"]),
    ("c1", "c0", "2026-03-03T09:00:00Z", ["services/api/main.py"]),
    ("c2", "c1", "2026-03-03T10:00:00Z", ["web/app.js"]),
    ("c3", "c2", "2026-03-03T11:00:00Z", ["docs/guide.md"]),
    ("c4", "c3", "2026-03-04T09:00:00Z", ["services/api/x.py", "web/y.js"]),
    ("c5", "c4", "2026-03-04T10:00:00Z", ["services/api/moved.js<web/old.js"]),
]
DEPLOYS = [  # id, service, commit, finished
    (1, "api", "c0", "2026-03-02T12:00:00Z"),
    (2, "web", "c0", "2026-03-02T12:00:00Z"),
    (3, "api", "c2", "2026-03-03T12:00:00Z"),
    (4, "web", "c3", "2026-03-03T13:00:00Z"),
    (5, "api", "c5", "2026-03-05T12:00:00Z"),
    (6, "web", "c5", "2026-03-05T12:30:00Z"),
]


def paths_of(files: list[str]) -> list[str]:
    return [p for f in files for p in f.split("<")]


def fake_repo(files_per_page: int = 2) -> FakeRepo:
    repo = FakeRepo(REPO, files_per_page=files_per_page)
    for name, parent, at, files in COMMITS:
        repo.add_commit(commit_payload(REPO, sha(name), [sha(parent)] if parent else [], at, at, name))
        renames = {f.split("<")[0]: f.split("<")[1] for f in files if "<" in f}
        repo.files[sha(name)] = file_entries(*(f.split("<")[0] for f in files), renamed_from=renames)
    for ident, service, commit, at in DEPLOYS:
        finished = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        repo.deployments.append(
            deployment_payload(REPO, ident, sha(commit), f"production-{service}", finished, True)
        )
        repo.statuses[ident] = [status_payload(REPO, ident, 10 * ident, "success", finished)]
    return repo


def settings_for(fake: FakeGitHub, **values: object) -> github_settings.GithubSettings:
    section = {
        "api_url": fake.url,
        "per_page": 2,
        "retries": 2,
        "backoff": 0.01,
        "repo": {
            REPO: {
                "services": [
                    {"name": "api", "environment": "-api$", "paths": [API]},
                    {"name": "web", "environment": "-web$", "paths": [WEB]},
                ]
            }
        },
        **values,
    }
    return github_settings.parse(section)


def bundle() -> Bundle:
    out = Bundle("api", REPO, "acme")
    out.add_service("web", REPO, "acme")
    out.rows["services"][0]["paths"] = API
    out.rows["services"][1]["paths"] = WEB
    for name, parent, at, files in COMMITS:
        out.commit(name, (parent,) if parent else (), when=at, message=name)
        for path in paths_of(files):
            out.rows["commit_files"].append({"repo": REPO, "sha": sha(name), "path": path})
    for ident, service, commit, at in DEPLOYS:
        out.deploy(f"D{ident}", commit, at, env=f"production-{service}", tier="production", service=service)
    return out


def by_service(warehouse: Path) -> dict[str, dict]:
    with db.write(warehouse) as con:
        transform(con, MetricsSettings())
        scope = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 8), "service")
        return {g["group"]: g for g in compute(con, scope)}


@pytest.fixture
def fake():
    with FakeGitHub([fake_repo()]) as server:
        yield server


def test_services_carry_paths_and_commits_their_files(
    fake: FakeGitHub, warehouse: Path, tmp_path: Path
) -> None:
    result = run(fake, warehouse, settings_for(fake))
    assert result.errors == {}
    assert rows(warehouse, "select service, paths from core.services order by 1") == [
        ("api", [API]),
        ("web", [WEB]),
    ]
    found = set(rows(warehouse, "select sha, path from core.commit_files"))
    assert found == {(sha(name), path) for name, _, _, files in COMMITS for path in paths_of(files)}
    # one request per commit, and one more for c0's second page of files (2 a page in the fake)
    asked = [r.path for r in fake.requests(r"/commits/[0-9a-f]{40}")]
    assert len(asked) == len(COMMITS) + 1 and sum("page=2" in p for p in asked) == 1

    got = by_service(warehouse)
    expected = load_bundle(bundle(), tmp_path / "bundle").metrics("2026-03-01", "2026-03-08")
    assert sorted(got) == sorted(expected) == ["api", "web"]
    for service in got:
        for key, value in expected[service].items():
            assert got[service][key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_files_are_asked_once(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, settings_for(fake))
    repo = fake.repos[REPO]
    repo.add_commit(
        commit_payload(REPO, sha("c6"), [sha("c5")], "2026-03-06T09:00:00Z", "2026-03-06T09:00:00Z", "c6")
    )
    repo.files[sha("c6")] = file_entries("web/z.js")
    fake.reset_log()
    run(fake, warehouse, settings_for(fake))
    assert [r.path for r in fake.requests(r"/commits/[0-9a-f]{40}")] == [f"/repos/{REPO}/commits/{sha('c6')}"]
    fake.reset_log()
    run(fake, warehouse, settings_for(fake))
    assert not fake.requests(r"/commits/[0-9a-f]{40}")


def test_a_repository_without_path_filtered_services_asks_no_files(fake: FakeGitHub, warehouse: Path) -> None:
    plain = github_settings.parse({"api_url": fake.url, "repos": [REPO], "per_page": 2, "retries": 2})
    run(fake, warehouse, plain)
    assert not fake.requests(r"/commits/[0-9a-f]{40}")
    assert rows(warehouse, "select count(*) from core.commit_files") == [(0,)]


def test_a_commit_of_more_files_than_github_lists_is_a_warning(warehouse: Path) -> None:
    repo = fake_repo(files_per_page=300)
    repo.files[sha("c1")] = file_entries(*(f"services/api/f{n}.py" for n in range(3100)))
    with FakeGitHub([repo]) as fake:
        result = run(fake, warehouse, settings_for(fake))
        assert len(fake.requests(f"/commits/{sha('c1')}")) == 10  # 300 a page, 3000 at most
    (warning,) = [w for w in result.stats[REPO].warnings if sha("c1") in w]
    assert "3000 files" in warning and "clone = true" in warning
    assert rows(warehouse, f"select count(*) from core.commit_files where sha = '{sha('c1')}'") == [(3000,)]


def test_with_a_clone_the_files_and_the_maintenance_history_come_from_git(
    warehouse: Path, tmp_path: Path
) -> None:
    from tests.support.git_repo import Repo, day

    source = Repo(tmp_path / "src")
    root = source.commit("services/api/main.py", "api start", day(2, 9))
    web = source.commit("web/index.html", "web page", day(3, 9))
    source.git("checkout", "-q", "-b", "release-1.x", root)
    fix = source.commit("services/api/fix.py", "api hotfix", day(4, 9))  # never merged back
    source.git("checkout", "-q", "main")
    bare = tmp_path / "remote" / "acme" / "mono.git"
    bare.parent.mkdir(parents=True)
    source.git("clone", "-q", "--bare", str(source.path), str(bare))
    repo = FakeRepo(REPO)  # the API serves the deployments; the commits come from the clone
    for ident, service, commit, at in [
        (1, "api", root, day(2, 12)),
        (2, "api", fix, day(4, 12)),
        (3, "web", web, day(3, 12)),
    ]:
        finished = dt.datetime.fromisoformat(at)
        repo.deployments.append(
            deployment_payload(REPO, ident, commit, f"production-{service}", finished, True)
        )
        repo.statuses[ident] = [status_payload(REPO, ident, 10 * ident, "success", finished)]
    with FakeGitHub([repo]) as fake:
        settings = settings_for(
            fake,
            clone=True,
            clone_url=f"file://{tmp_path}/remote/{{repo}}.git",
            clone_dir=str(tmp_path / "c"),
        )
        result = run(fake, warehouse, settings)
        assert result.errors == {}
        assert not fake.requests("/commits")  # neither commits nor files from the API
    assert set(rows(warehouse, "select sha, path from core.commit_files")) == {
        (root, "services/api/main.py"),
        (web, "web/index.html"),
        (fix, "services/api/fix.py"),
    }
    assert rows(warehouse, "select count(*) from core.commits") == [(3,)]
    got = by_service(warehouse)
    assert (got["api"]["unknown_sha_deployments"], got["api"]["changes"]) == (0, 1)  # the hotfix
