"""Deployments derived from releases (the warehouse holds exactly the current selection) and from workflow
runs (the repository's own runs, from events that deploy, every attempt, statuses in any case)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.collect import rows
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, load_fixture
from tests.support.github_payloads import run_payload

REPO = "acme/checkout"
E1, S1, A2, F1 = ("e1" * 20, "5a" * 20, "a2" * 20, "f1" * 20)


@pytest.fixture
def fake():
    with FakeGitHub([load_fixture("acme-checkout")]) as server:
        yield server


def deployments(warehouse: Path) -> list[str]:
    return [d for (d,) in rows(warehouse, "select deployment_id from core.deployments order by 1")]


def test_narrowing_the_release_selection_removes_exactly_those_deployments(
    fake: FakeGitHub, warehouse: Path
) -> None:
    run(fake, warehouse, deployments="releases")
    assert deployments(warehouse) == ["github:release:701", "github:release:703", "github:release:705"]
    narrowed = run(fake, warehouse, deployments="releases", exclude_tags=["v1.0.*"])
    assert deployments(warehouse) == ["github:release:703", "github:release:705"]
    assert any("1 release deployments removed" in w for w in narrowed.stats[REPO].warnings)
    # the tag commits are known from the first run: nothing asked again
    assert len(fake.requests("/commits/v")) == 3
    only = run(fake, warehouse, deployments="releases", deploy_tags=["v1.2*"])
    assert deployments(warehouse) == ["github:release:705"]
    assert any("1 release deployments removed" in w for w in only.stats[REPO].warnings)
    widened = run(fake, warehouse, deployments="releases", deploy_tags=["v*"], prereleases=True)
    assert deployments(warehouse) == [f"github:release:{n}" for n in (701, 702, 703, 705)]
    assert not [w for w in widened.stats[REPO].warnings if "removed" in w]


def test_a_deleted_release_is_removed_and_an_unchanged_list_costs_only_304s(
    fake: FakeGitHub, warehouse: Path
) -> None:
    run(fake, warehouse, deployments="releases")
    fake.reset_log()
    run(fake, warehouse, deployments="releases")
    assert {r.status for r in fake.requests("/releases")} == {304}
    assert not fake.requests("/commits/")
    fake.repos[REPO].releases = [r for r in fake.repos[REPO].releases if r["id"] != 703]
    result = run(fake, warehouse, deployments="releases")
    assert deployments(warehouse) == ["github:release:701", "github:release:705"]
    assert any("1 release deployments removed" in w for w in result.stats[REPO].warnings)


def test_releases_of_other_repositories_are_left_alone(warehouse: Path) -> None:
    second = load_fixture("acme-checkout")
    second.full_name = "acme/payments"
    for release in second.releases:
        release["id"] += 1000
    with FakeGitHub([load_fixture("acme-checkout"), second]) as fake:
        run(fake, warehouse, deployments="releases", repos=[REPO, "acme/payments"])
        assert len(deployments(warehouse)) == 6
        run(fake, warehouse, deployments="releases", repos=[REPO], exclude_tags=["*"])
    assert deployments(warehouse) == [f"github:release:{n}" for n in (1701, 1703, 1705)]


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def runs_fake():
    repo = load_fixture("acme-checkout")
    repo.runs += [
        # a pull request from a fork whose branch is also called main: CI, never a deployment
        run_payload(REPO, 509, "99" * 20, at(5, 11), event="pull_request", head_repo="mallory/checkout"),
        # the same workflow on a pull request of the repository itself: not an event that deploys
        run_payload(REPO, 510, F1, at(5, 12), event="pull_request"),
        # statuses in capitals are still a completed success
        run_payload(REPO, 511, F1, at(5, 13), "SUCCESS", status="Completed"),
        # re-run twice: the list shows attempt 3; attempts 1 and 2 failed
        run_payload(REPO, 512, F1, at(5, 14), attempt=3),
        # a manual deploy of a maintenance branch deploys that branch
        run_payload(REPO, 513, A2, at(5, 15), event="workflow_dispatch", branch="release-1.x"),
    ]
    repo.attempts[512] = {
        n: run_payload(REPO, 512, F1, at(5, 14) - dt.timedelta(minutes=30 * (3 - n)), "failure", attempt=n)
        for n in (1, 2)
    }
    with FakeGitHub([repo]) as server:
        yield server


def test_workflow_runs_deploy_only_the_repositorys_own_runs_of_deploying_events_every_attempt(
    runs_fake: FakeGitHub, warehouse: Path
) -> None:
    result = run(runs_fake, warehouse, deployments="workflow-runs", workflow=r"^deploy\.ya?ml$")
    assert result.errors == {}
    found = rows(warehouse, "select deployment_id, commit_sha, status from core.deployments order by 1")
    assert found == [
        ("github:run:502:1", E1, "success"),
        ("github:run:503:1", S1, "failure"),
        ("github:run:504:1", S1, "success"),
        ("github:run:507:1", A2, "success"),
        ("github:run:511:1", F1, "success"),
        ("github:run:512:1", F1, "failure"),
        ("github:run:512:2", F1, "failure"),
        ("github:run:512:3", F1, "success"),
        ("github:run:513:1", A2, "success"),
    ]
    # the fork's and the pull request's runs are CI runs all the same
    ci = {r for (r,) in rows(warehouse, "select run_id from core.pipeline_runs")}
    assert {"github:run:509:1", "github:run:510:1", "github:run:512:1", "github:run:512:2"} <= ci
    assert len(runs_fake.requests("/attempts/")) == 2
    runs_fake.reset_log()
    run(runs_fake, warehouse, deployments="workflow-runs", workflow=r"^deploy\.ya?ml$")
    assert not runs_fake.requests("/attempts/")  # each attempt is asked once


def test_the_events_that_deploy_are_configurable(runs_fake: FakeGitHub, warehouse: Path) -> None:
    run(
        runs_fake, warehouse, deployments="workflow-runs", workflow=r"^deploy\.ya?ml$", deploy_events=["PUSH"]
    )
    ids = set(deployments(warehouse))
    assert "github:run:511:1" in ids and "github:run:513:1" not in ids
