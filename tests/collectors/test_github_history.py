"""The history of deployed commits off the default branch (issue 10): a maintenance release deployed from
a branch that never lands on the default branch gives the metrics of the same data imported as a bundle,
and a second run costs no request for it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.builder import Bundle, load_bundle, sha
from tests.support.collect import metrics, rows
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, FakeRepo
from tests.support.github_payloads import commit_payload, deployment_payload, status_payload

REPO = "acme/shop"
# main: m0 <- m1 <- m2 <- m3; release-1.x branches off m1: h1 <- h2, never merged back
COMMITS = [
    ("m0", (), "2026-03-01T09:00:00Z"),
    ("m1", ("m0",), "2026-03-02T10:00:00Z"),
    ("h1", ("m1",), "2026-03-03T09:00:00Z"),
    ("m2", ("m1",), "2026-03-04T10:00:00Z"),
    ("h2", ("h1",), "2026-03-05T09:00:00Z"),
    ("m3", ("m2",), "2026-03-06T10:00:00Z"),
]
# (id, commit, finished): D2 and D3 deploy the maintenance branch, D3 first (its tip)
DEPLOYS = [
    (1, "m1", "2026-03-02T12:00:00Z"),
    (2, "h1", "2026-03-03T12:00:00Z"),
    (3, "h2", "2026-03-05T12:00:00Z"),
    (4, "m3", "2026-03-06T12:00:00Z"),
]


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def fake_repo() -> FakeRepo:
    repo = FakeRepo(REPO)
    for name, parents, at in COMMITS:
        payload = commit_payload(REPO, sha(name), [sha(p) for p in parents], at, at, f"change {name}")
        repo.add_commit(payload, move_head=name.startswith("m"))
    for ident, commit, at in DEPLOYS:
        finished = when(at)
        created = finished - dt.timedelta(minutes=5)
        repo.deployments.append(deployment_payload(REPO, ident, sha(commit), "production", created, True))
        repo.statuses[ident] = [status_payload(REPO, ident, 10 * ident, "success", finished)]
    return repo


def bundle() -> Bundle:
    """The same history and deployments, written by hand as a bundle."""
    out = Bundle("shop", REPO, "acme")
    for name, parents, at in COMMITS:
        out.commit(name, parents, when=at, message=f"change {name}")
    for ident, commit, at in DEPLOYS:
        out.deploy(f"D{ident}", commit, at, tier="production")
    return out


@pytest.fixture
def fake():
    with FakeGitHub([fake_repo()]) as server:
        yield server


def test_a_maintenance_release_gets_its_history_and_the_metrics_of_the_bundle(
    fake: FakeGitHub, warehouse: Path, tmp_path: Path
) -> None:
    result = run(fake, warehouse, repos=[REPO])
    assert result.errors == {}
    shas = {s for (s,) in rows(warehouse, "select sha from core.commits")}
    assert shas == {sha(name) for name, _, _ in COMMITS}
    # one page listed from D3's h2 brought h2 and h1 (h1's parent m1 is known); D2's h1 then cost nothing
    listed = [r.path for r in fake.requests("/commits\\?") if "m3" not in r.path and sha("m3") not in r.path]
    assert listed == [f"/repos/{REPO}/commits?per_page=2&sha={sha('h2')}"]
    got = metrics(warehouse, "2026-03-01", "2026-03-08")
    expected = load_bundle(bundle(), tmp_path / "bundle").metrics("2026-03-01", "2026-03-08")["shop"]
    assert got["unknown_sha_deployments"] == 0
    # D2 ships h1 (3 h), D3 ships h2 (3 h), D4 ships m2 (50 h) and m3 (2 h); D1 is the baseline
    assert got["changes"] == 4
    for key, value in expected.items():
        assert got[key] == (pytest.approx(value) if isinstance(value, float) else value), key


def test_a_second_run_costs_no_request_for_the_maintenance_history(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, repos=[REPO])
    fake.reset_log()
    run(fake, warehouse, repos=[REPO])
    assert not fake.requests("/compare/|/commits")
    assert {r.status for r in fake.requests()} == {304}
    assert (
        rows(warehouse, "select cursor from raw.cursors where entity = 'deployments'")[0][0].count(
            '"tips": []'
        )
        == 1
    )


def test_only_new_unknown_deployed_commits_are_fetched(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, repos=[REPO])
    repo = fake.repos[REPO]
    # a hotfix on the maintenance branch, deployed: only its own commit is fetched
    h3 = sha("h3")
    repo.add_commit(
        commit_payload(REPO, h3, [sha("h2")], "2026-03-07T09:00:00Z", "2026-03-07T09:00:00Z", "h3"), False
    )
    finished = when("2026-03-07T12:00:00Z")
    repo.deployments.append(deployment_payload(REPO, 5, h3, "production", finished, True))
    repo.statuses[5] = [status_payload(REPO, 5, 50, "success", finished)]
    fake.reset_log()
    run(fake, warehouse, repos=[REPO])
    # one page from h3: h3 and the known h2, where the walk stops
    assert [r.path for r in fake.requests("/compare/|/commits")] == [
        f"/repos/{REPO}/commits?per_page=2&sha={h3}"
    ]
    assert rows(warehouse, f"select count(*) from core.commits where sha = '{h3}'") == [(1,)]


def test_a_deployed_commit_github_does_not_know_is_a_warning_once(fake: FakeGitHub, warehouse: Path) -> None:
    repo = fake.repos[REPO]
    ghost = "9f" * 20
    finished = when("2026-03-07T12:00:00Z")
    repo.deployments.append(deployment_payload(REPO, 6, ghost, "production", finished, True))
    repo.statuses[6] = [status_payload(REPO, 6, 60, "success", finished)]
    result = run(fake, warehouse, repos=[REPO])
    assert result.errors == {}
    (warning,) = [w for w in result.stats[REPO].warnings if ghost in w]
    assert "not in the repository" in warning
    fake.reset_log()
    again = run(fake, warehouse, repos=[REPO])
    assert not [w for w in again.stats[REPO].warnings if ghost in w]
    assert not fake.requests(ghost)


def test_with_since_the_history_goes_no_further_back_than_the_default_branchs(
    fake: FakeGitHub, warehouse: Path
) -> None:
    run(fake, warehouse, repos=[REPO], since=dt.date(2026, 3, 4))
    (listed,) = [r.path for r in fake.requests(f"sha={sha('h2')}")]
    # the baseline D2 was created on the 3rd at 11:55; commits are read from a day before it
    assert "since=2026-03-02T11%3A55%3A00Z" in listed
    shas = {s for (s,) in rows(warehouse, "select sha from core.commits")}
    assert {sha("h1"), sha("h2")} <= shas and sha("m0") not in shas
