"""The history of deployed commits off the default branch, and the files of commits for path-filtered
services: real python-gitlab against the fake, requests counted, metrics against the same data imported
as a bundle.

The project (worked by hand): main is c0 <- c1 <- c2; the maintenance branch 1.0-stable forks at c1 with
m1 <- m2 and never lands on main. Production deployments: D1 of c1 (03-02 12:00), D2 of c2 (03-03 12:00),
D3 of m2 from 1.0-stable (03-04 14:00). D3 ships m1 (authored 03-04 09:00: 5 h) and m2 (12:00: 2 h).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.support.builder import Bundle, load_bundle, sha
from tests.support.collect import gitlab_settings as settings_for
from tests.support.collect import metrics, rows
from tests.support.collect import run_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, FakeProject, commit, deployment, diff

PATH = "acme/platform/checkout"
C0, C1, C2, M1, M2, M3 = (sha(n) for n in ("c0", "c1", "c2", "m1", "m2", "m3"))
PRODUCTION = (1, "production")


def utc(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


COMMITS: list[tuple[str, list[str], dt.datetime]] = [
    (C0, [], utc(1, 9)),
    (C1, [C0], utc(2, 10)),
    (C2, [C1], utc(3, 10)),
    (M1, [C1], utc(4, 9)),
    (M2, [M1], utc(4, 12)),
]
DEPLOYS: list[tuple[int, str, dt.datetime, str]] = [
    (1, C1, utc(2, 12), "main"),
    (2, C2, utc(3, 12), "main"),
    (3, M2, utc(4, 14), "1.0-stable"),
]


def maintenance_project() -> FakeProject:
    project = FakeProject(42, PATH)
    project.environments = [{"id": 1, "name": "production", "tier": "production", "state": "available"}]
    for ident, parents, when in COMMITS:
        project.add_commit(commit(ident, parents, when, f"commit {ident[:6]}"), move_head=False)
    project.head = C2
    for ident, target, when, ref in DEPLOYS:
        project.deployments.append({**deployment(ident, target, PRODUCTION, when), "ref": ref})
    return project


def the_bundle() -> Bundle:
    bundle = Bundle(service="checkout", repo=PATH, team="acme")
    names = {C0: "c0", C1: "c1", C2: "c2", M1: "m1", M2: "m2"}
    for ident, parents, when in COMMITS:
        iso = when.isoformat().replace("+00:00", "Z")
        bundle.commit(names[ident], tuple(names[p] for p in parents), when=iso, message=f"commit {ident[:6]}")
    for ident, target, when, _ in DEPLOYS:
        iso = when.isoformat().replace("+00:00", "Z")
        bundle.deploy(f"gitlab:{PATH}:deployment:{ident}", names[target], iso, tier="production")
    return bundle


@pytest.fixture
def fake():
    with FakeGitLab([maintenance_project()]) as server:
        yield server


def test_a_maintenance_release_off_the_default_branch_has_its_history(
    fake: FakeGitLab, warehouse: Path, tmp_path: Path
) -> None:
    result = run(fake, warehouse, per_page=100)
    assert result.errors == {}
    assert {s for (s,) in rows(warehouse, "select sha from core.commits")} == {C0, C1, C2, M1, M2}
    # one request for the branch's history, as the range from the default branch's head
    (asked,) = [r.path for r in fake.requests(r"/repository/commits\?") if M2 in r.path]
    assert f"ref_name={C2}..{M2}" in asked
    assert not fake.requests(r"/diff")  # no path-filtered service: no files fetched

    fake.reset_log()
    assert run(fake, warehouse, per_page=100).errors == {}
    assert not fake.requests(r"/repository/commits\?")  # nothing new: no request for its history

    collected = metrics(warehouse, "2026-03-01", "2026-03-08")
    imported = load_bundle(the_bundle(), tmp_path).metrics("2026-03-01", "2026-03-08")["checkout"]
    assert collected == imported
    # D3 ships m1 (5 h) and m2 (2 h); D2 ships c2 (2 h); D1 is the baseline
    assert (collected["deployments"], collected["changes"]) == (3, 3)
    assert collected["lead_time_median_hours"] == 2.0


def test_a_later_release_of_the_branch_asks_only_for_its_new_commits(
    fake: FakeGitLab, warehouse: Path
) -> None:
    run(fake, warehouse, per_page=2)
    project = fake.projects[PATH]
    project.add_commit(commit(M3, [M2], utc(5, 9), "commit m3"), move_head=False)
    project.deployments.append({**deployment(4, M3, PRODUCTION, utc(5, 11)), "ref": "1.0-stable"})
    fake.reset_log()
    assert run(fake, warehouse, per_page=2).errors == {}
    # head..m3 lists m3, m2, m1 newest first: m3's parent m2 is known, so the first page is the last
    asked = [r.path for r in fake.requests(r"/repository/commits\?")]
    assert len(asked) == 1 and f"ref_name={C2}..{M3}" in asked[0]
    assert rows(warehouse, "select count(*) from core.commits") == [(6,)]


def test_a_run_killed_inside_a_history_goes_on_from_there(fake: FakeGitLab, warehouse: Path) -> None:
    # per_page=1: m2's history is two pages; the second one fails for good the first time
    fake.fail(rf"ref_name={C2}..{M2}.*page=2", 503, {"message": "503"}, times=10)
    first = run(fake, warehouse, per_page=1, retries=1)
    assert "keeps failing (503)" in first.errors[PATH]
    assert rows(warehouse, f"select count(*) from core.commits where sha in ('{M1}', '{M2}')") == [(1,)]
    fake.faults.clear()
    fake.reset_log()
    assert run(fake, warehouse, per_page=1).errors == {}
    # resumed at the saved page: m1 only, then nothing more is asked about it
    assert [r.path for r in fake.requests(rf"\.\.{M2}")] == [
        r.path for r in fake.requests(rf"ref_name={C2}..{M2}.*page=2")
    ]
    assert {s for (s,) in rows(warehouse, "select sha from core.commits")} == {C0, C1, C2, M1, M2}


def monorepo_settings(fake: FakeGitLab, **values: Any) -> Any:
    services = [
        {"name": "checkout-api", "environment": "^production$", "paths": ["api/*", "lib/*"]},
        {"name": "checkout-web", "team": "web", "environment": "^web-", "paths": ["web/*"]},
    ]
    return settings_for(fake, project={PATH: {"services": services}}, **values)


def test_path_filtered_services_get_the_files_of_each_commit(fake: FakeGitLab, warehouse: Path) -> None:
    project = fake.projects[PATH]
    merge = sha("merge")
    project.add_commit(commit(merge, [C2, M2], utc(5, 8), "merge 1.0-stable"), move_head=True)
    project.files = {
        C0: [diff("README.md"), diff("api/app.py"), diff("web/index.html")],
        C1: [diff("api/app.py")],
        C2: [diff("lib/new.py", old_path="lib/old.py"), diff("web/gone.css", deleted=True)],
        M1: [diff("api/fix.py")],
        M2: [diff("docs/notes.md")],
        merge: [diff("api/app.py")],
    }
    project.deployments.append({**deployment(5, C2, (2, "web-eu"), utc(3, 13)), "ref": "main"})
    settings = monorepo_settings(fake)
    assert run(fake, warehouse, settings=settings).errors == {}
    assert rows(warehouse, "select service, team, paths from core.services order by 1") == [
        ("checkout-api", "acme", ["api/*", "lib/*"]),
        ("checkout-web", "web", ["web/*"]),
    ]
    files = rows(warehouse, "select sha, path from core.commit_files order by 1, 2")
    assert sorted(files) == sorted(
        [(C0, "README.md"), (C0, "api/app.py"), (C0, "web/index.html"), (C1, "api/app.py"),
         (C2, "lib/new.py"), (C2, "lib/old.py"), (C2, "web/gone.css"), (M1, "api/fix.py"),
         (M2, "docs/notes.md")]
    )  # fmt: skip
    # a merge commit's files are not asked (it is in no path-filtered service); c0's three files: 2 pages
    assert not fake.requests(rf"/commits/{merge}/diff")
    assert len(fake.requests(rf"/commits/{C0}/diff")) == 2
    assert rows(warehouse, "select deployment_id, service from core.deployments order by 1") == [
        (f"gitlab:{PATH}:deployment:1", "checkout-api"),
        (f"gitlab:{PATH}:deployment:2", "checkout-api"),
        (f"gitlab:{PATH}:deployment:3", "checkout-api"),
        (f"gitlab:{PATH}:deployment:5", "checkout-web"),
    ]
    fake.reset_log()
    assert run(fake, warehouse, settings=settings).errors == {}
    assert not fake.requests(r"/diff")  # incremental: no file is asked twice


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([{"name": "a", "paths": ["/abs/*"]}], "is not a path relative to the repository root"),
        ([{"name": "a", "paths": "api/*"}], "paths"),
        ([], "expected at least one service"),
    ],
)
def test_services_settings_errors_name_the_key(services: list[Any], message: str) -> None:
    from collectors.gitlab import settings
    from doralytics.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        settings.parse({"projects": [PATH], "project": {PATH: {"services": services}}})
