"""Releases as deployments (`releases = true`): the tag selection (deploy_tags / exclude_tags), a release
on a maintenance branch with its history, and the warehouse holding exactly the current selection after
the selection narrows, a release is deleted, or the mode is switched off (issue 10 items 3 and 4).

The project: main is c0 <- c1 <- c2; 1.0-stable forks at c1 with m1 <- m2. Releases: v1.0.0 (c1, 03-02
12:00), v1.1.0-rc1 (c2, 03-03 09:00), v1.1.0 (c2, 03-03 12:00), v1.0.1 (m2, 03-04 14:00), v1.2.0 upcoming
(03-20), and archive/old (c0, 03-01 12:00).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.builder import sha
from tests.support.collect import rows
from tests.support.collect import run_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, FakeProject, commit, release

PATH = "acme/platform/checkout"
C0, C1, C2, M1, M2 = (sha(n) for n in ("c0", "c1", "c2", "m1", "m2"))


def utc(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


def released_project() -> FakeProject:
    project = FakeProject(42, PATH)
    for ident, parents, when in [
        (C0, [], utc(1, 9)), (C1, [C0], utc(2, 10)), (C2, [C1], utc(3, 8)),
        (M1, [C1], utc(4, 9)), (M2, [M1], utc(4, 12)),
    ]:  # fmt: skip
        project.add_commit(commit(ident, parents, when, f"commit {ident[:6]}"), move_head=False)
    project.head = C2
    project.releases = [
        release("archive/old", C0, utc(1, 12)),
        release("v1.0.0", C1, utc(2, 12)),
        release("v1.1.0-rc1", C2, utc(3, 9)),
        release("v1.1.0", C2, utc(3, 12)),
        release("v1.0.1", M2, utc(4, 14)),
        release("v1.2.0", C2, utc(20, 12), upcoming=True),
    ]
    return project


@pytest.fixture
def fake():
    with FakeGitLab([released_project()]) as server:
        yield server


def deployed(warehouse: Path) -> list[tuple[str, str, str]]:
    found = rows(warehouse, "select deployment_id, commit_sha, environment from core.deployments order by 1")
    return [(i.rsplit(":", 1)[1], s, e) for i, s, e in found]


def test_selected_releases_are_deployments_with_their_history(fake: FakeGitLab, warehouse: Path) -> None:
    selection = {"releases": True, "deploy_tags": ["v*"], "exclude_tags": ["*-rc*"], "per_page": 100}
    result = run(fake, warehouse, **selection)
    assert result.errors == {}
    # archive/old is not selected, the rc is excluded, v1.2.0 is upcoming
    assert deployed(warehouse) == [
        ("v1.0.0", C1, "production"), ("v1.0.1", M2, "production"), ("v1.1.0", C2, "production")
    ]  # fmt: skip
    assert rows(warehouse, "select finished_at from core.deployments where deployment_id like '%v1.0.1'") == [
        (dt.datetime(2026, 3, 4, 14, 0),)
    ]
    # v1.0.1's commits on the maintenance branch were fetched, in one request from the default branch
    assert {s for (s,) in rows(warehouse, "select sha from core.commits")} == {C0, C1, C2, M1, M2}
    assert len(fake.requests(rf"ref_name={C2}..{M2}")) == 1
    fake.reset_log()
    again = run(fake, warehouse, **selection)
    assert again.errors == {}
    # a run with nothing new: the release list (one page of 100), no history
    assert [r.path.split("?")[0].rsplit("/", 1)[1] for r in fake.requests(r"/releases")] == ["releases"]
    assert not fake.requests(r"/repository/commits\?")


def test_the_warehouse_holds_exactly_the_current_selection(fake: FakeGitLab, warehouse: Path) -> None:
    run(fake, warehouse, releases=True)  # every tag: 5 published releases
    assert [d[0] for d in deployed(warehouse)] == ["archive/old", "v1.0.0", "v1.0.1", "v1.1.0", "v1.1.0-rc1"]

    narrowed = run(fake, warehouse, releases=True, deploy_tags=["v*"], exclude_tags=["*-rc*"])
    assert [d[0] for d in deployed(warehouse)] == ["v1.0.0", "v1.0.1", "v1.1.0"]
    (warning,) = [w for w in narrowed.stats[PATH].warnings if "removed" in w]
    assert warning == (
        f"{PATH}: 2 release deployments removed: their releases are gone or no longer selected "
        "(--deploy-tags 'v*' --exclude-tags '*-rc*')"
    )

    fake.projects[PATH].releases = [r for r in fake.projects[PATH].releases if r["tag_name"] != "v1.0.0"]
    run(fake, warehouse, releases=True, deploy_tags=["v*"], exclude_tags=["*-rc*"])
    assert [d[0] for d in deployed(warehouse)] == ["v1.0.1", "v1.1.0"]  # a deleted release goes

    nothing = run(fake, warehouse, releases=True, deploy_tags=["release-*"])
    assert deployed(warehouse) == []
    assert any(
        "5 releases, none selected by --deploy-tags 'release-*'" in w for w in nothing.stats[PATH].warnings
    )

    run(fake, warehouse, releases=True, deploy_tags=["v1.1.*"], exclude_tags=["*-rc*"])
    assert [d[0] for d in deployed(warehouse)] == ["v1.1.0"]
    off = run(fake, warehouse)  # releases switched off: none of them is a deployment any more
    assert deployed(warehouse) == []
    assert any("1 release deployments removed" in w for w in off.stats[PATH].warnings)


def test_other_deployments_of_the_project_stay(fake: FakeGitLab, warehouse: Path) -> None:
    from tests.support.fake_gitlab import deployment

    fake.projects[PATH].deployments = [deployment(7, C2, (1, "production"), utc(3, 15))]
    run(fake, warehouse, releases=True)
    run(fake, warehouse, releases=True, deploy_tags=["none"])
    assert deployed(warehouse) == [("7", C2, "production")]


def test_dry_run_counts_the_selected_releases(fake: FakeGitLab) -> None:
    from collectors.gitlab.client import make_client
    from collectors.gitlab.collector import dry_run
    from tests.support.collect import TOKEN
    from tests.support.collect import gitlab_settings as settings_for

    settings = settings_for(fake, releases=True, deploy_tags=["v*"], exclude_tags=["*-rc*"])
    (line,) = dry_run(lambda: make_client(TOKEN, settings), settings)
    assert line["would_count"] == 3
    assert "releases: 3 of 5 selected (--deploy-tags 'v*' --exclude-tags '*-rc*')" in line["detail"]
