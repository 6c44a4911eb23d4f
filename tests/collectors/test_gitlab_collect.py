"""The GitLab collector end to end: real python-gitlab against the fake server, rows and metrics checked.

The fixture project (tests/fixtures/gitlab/acme-checkout, all times 2026-03-02/03 UTC) is small and
hand-written; every expected value below was worked out by hand from it (see the comments).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from collectors.gitlab import settings as gitlab_settings
from collectors.gitlab.client import make_client
from collectors.gitlab.collector import dry_run
from doralytics.config import ConfigError
from tests.support.collect import GITLAB_PROJECT as PATH
from tests.support.collect import TOKEN, metrics, rows, snapshot
from tests.support.collect import gitlab_settings as settings_for
from tests.support.collect import run_gitlab as run
from tests.support.fake_gitlab import (
    FakeGitLab,
    FakeProject,
    commit,
    job,
    load_fixture,
    merge_request,
    note,
    synthetic_project,
)

C0, A1, M1, S2, H1, D1 = ("c0" * 20, "a1" * 20, "e1" * 20, "5a" * 20, "4f" * 20, "d1" * 20)


@pytest.fixture
def fake():
    with FakeGitLab([load_fixture("acme-checkout")]) as server:
        yield server


def test_canonical_rows_and_metrics(fake: FakeGitLab, warehouse: Path) -> None:
    result = run(fake, warehouse)
    assert result.errors == {}
    # offset pagination: every list spans pages, followed through Link rel="next" (X-Page headers beside)
    assert any("page=2" in r.path for r in fake.requests(r"/merge_requests\?"))
    assert any("page=3" in r.path for r in fake.requests(r"/deployments\?"))
    assert rows(warehouse, "select service, repo, team from core.services") == [("checkout", PATH, "acme")]

    deployments = rows(
        warehouse,
        "select deployment_id, environment, environment_tier, commit_sha, started_at, finished_at, status"
        " from core.deployments order by deployment_id",
    )  # fmt: skip
    by_id = {d[0].rsplit(":", 1)[1]: d[1:] for d in deployments}
    # 206 was canceled (changed nothing), 207 is still running: neither is a deployment (yet)
    assert sorted(by_id) == ["201", "202", "203", "204", "205", "208", "209"]
    assert by_id["205"][-1] == "failure"  # GitLab "failed"
    assert by_id["203"][:2] == ("staging", "staging")
    assert by_id["208"][:2] == ("live-eu", "production")  # the environment's tier decides, not its name
    # 209 was made through the API: no job, no finished_at; its last update is when it succeeded
    assert by_id["209"][3:] == (dt.datetime(2026, 3, 3, 10, 58), dt.datetime(2026, 3, 3, 11, 0), "success")

    mrs = rows(
        warehouse,
        "select number, created_at, first_commit_at, first_review_at, merged_at,"
        " merge_commit_sha, head_branch, labels from core.pull_requests order by number",
    )
    assert [m[0] for m in mrs] == [1, 2, 3]  # !4 is still open
    assert mrs[0][3] == dt.datetime(2026, 3, 2, 10, 0)  # bob's note; alice's own system note is not a review
    # !2: the push notice (system), the bot and the author's own note are not reviews; carol's approval is
    assert mrs[1][2:4] == (dt.datetime(2026, 3, 2, 12, 0), dt.datetime(2026, 3, 2, 14, 0))
    assert mrs[1][5] == S2 and mrs[1][7] == ["feature", "frontend"]  # squashed: the squash commit landed
    assert mrs[2][5:7] == (H1, "hotfix/fix-checkout")  # fast-forward: the MR's head sha landed
    links = rows(warehouse, "select number, sha from core.pull_request_commits order by 1, 2")
    assert links == [(1, A1), (2, "b1" * 20), (2, "b2" * 20), (3, H1)]

    assert rows(warehouse, "select count(*) from core.commits") == [(6,)]
    assert rows(warehouse, f"select parents, authored_at from core.commits where sha = '{M1}'") == [
        ([C0, A1], dt.datetime(2026, 3, 2, 11, 0))  # "12:00+01:00" stored as UTC
    ]
    assert rows(warehouse, "select run_id, status from core.pipeline_runs order by 1") == [
        (f"gitlab:{PATH}:pipeline:301", "success"),
        (f"gitlab:{PATH}:pipeline:302", "failure"),
        (f"gitlab:{PATH}:pipeline:303", "cancelled"),  # 304 is still running
    ]
    # #12 is an ordinary issue; #11 has no severity of its own, its S2 label gives one
    assert rows(warehouse, "select incident_id, severity, resolved_at from core.incidents order by 1") == [
        (f"gitlab:{PATH}:issue:10", "high", dt.datetime(2026, 3, 2, 19, 0)),
        (f"gitlab:{PATH}:issue:11", "s2", None),
    ]

    got = metrics(warehouse)
    # production deployments 201 (baseline of production), 202, 204, 208 (baseline of live-eu), 209
    assert (got["deployments"], got["baseline_deployments"], got["deployment_days"]) == (5, 2, 2)
    # 202 ships !2 (12:00 first commit -> 16:00: 4 h), 204 ships !3 (17:30 -> 18:30: 1 h), 209 ships d1 (2 h)
    assert (got["changes"], got["lead_time_median_hours"]) == (3, 2.0)
    # stages of !2 and !3: coding 0.5 h and 10 min, pickup 1.5 h and 10 min, review 1 h and 10 min,
    # deploy 1 h and 0.5 h
    assert got["coding_median_hours"] == pytest.approx((0.5 + 1 / 6) / 2)
    assert got["pickup_median_hours"] == pytest.approx((1.5 + 1 / 6) / 2)
    assert got["review_median_hours"] == pytest.approx((1 + 1 / 6) / 2)
    assert got["deploy_median_hours"] == pytest.approx(0.75)
    # 202 failed (incident #10 at 17:00, and the hotfix 204 after it), 209 (open incident #11 an hour after)
    assert (got["failed_deployments"], got["change_failure_rate"]) == (2, pytest.approx(0.4))
    assert (got["recovery_time_median_hours"], got["unrecovered_failures"]) == (3.0, 1)  # 16:00 -> 19:00
    assert (got["unplanned_deployments"], got["rework_rate"]) == (1, pytest.approx(0.2))  # the hotfix 204
    assert got["incident_mttr_median_hours"] == 2.0


def test_second_run_with_nothing_new_changes_nothing(fake: FakeGitLab, warehouse: Path) -> None:
    run(fake, warehouse)
    before = snapshot(warehouse)
    fake.reset_log()
    result = run(fake, warehouse)
    assert result.errors == {} and snapshot(warehouse) == before
    # one page per list (the project, 2 of environments, deployments, the branch head, MRs, incidents,
    # pipelines); no commits (the head did not move) and no MR details (the MR at the mark was seen)
    assert len(fake.requests()) == 8
    assert not fake.requests(r"/repository/commits|/merge_requests/\d")
    assert all("updated_after=" in r.path for r in fake.requests(r"/(deployments|merge_requests|issues)\?"))


def change_fixture(project: FakeProject) -> None:
    """A day later: 207 finished, a new commit on main through MR !5, incident #11 closed."""
    n1 = "0e" * 20
    when = dt.datetime(2026, 3, 4, 8, 0, tzinfo=dt.UTC)
    d207 = next(d for d in project.deployments if d["id"] == 207)
    d207.update(
        status="success", updated_at="2026-03-04T09:00:00.000Z", finished_at="2026-03-04T09:00:00.000Z"
    )
    project.add_commit(commit(n1, [D1], when, "Speed up cart"))
    project.merge_requests.append(merge_request(5, "bob", when - dt.timedelta(hours=1), when, None, n1))
    project.mr_commits[5] = [commit(n1, [D1], when - dt.timedelta(hours=2), "Speed up cart")]
    project.mr_notes[5] = [
        note(531, "carol", when - dt.timedelta(minutes=30), "approved this merge request", True)
    ]
    incident = next(i for i in project.issues if i["iid"] == 11)
    incident.update(
        state="closed", closed_at="2026-03-04T10:00:00.000Z", updated_at="2026-03-04T10:00:00.000Z"
    )


def test_incremental_run_fetches_only_what_changed(fake: FakeGitLab, warehouse: Path, tmp_path: Path) -> None:
    run(fake, warehouse)
    change_fixture(fake.projects[PATH])
    fake.reset_log()
    run(fake, warehouse)
    # the new commits only, as the range from the last head; details of the new MR only
    assert [r.path.split("ref_name=")[1][:82] for r in fake.requests(r"/repository/commits")] == [
        f"{D1}..{'0e' * 20}"
    ]
    assert {r.path.split("/")[6] for r in fake.requests(r"/merge_requests/\d")} == {"5"}
    assert rows(
        warehouse, "select status, finished_at from core.deployments where deployment_id like '%:207'"
    ) == [("success", dt.datetime(2026, 3, 4, 9, 0))]
    assert rows(warehouse, "select resolved_at from core.incidents where incident_id like '%:11'") == [
        (dt.datetime(2026, 3, 4, 10, 0),)
    ]
    # the same warehouse as one run over the changed project
    fresh = tmp_path / "fresh.duckdb"
    run(fake, fresh)
    assert snapshot(warehouse) == snapshot(fresh)


def test_since_fetches_the_baseline_before_it(fake: FakeGitLab, warehouse: Path) -> None:
    result = run(fake, warehouse, since=dt.date(2026, 3, 3))
    assert result.errors == {}
    # from 03-03: 208 and 209 (207 runs); the last success to production before it, 204, is the baseline;
    # live-eu had none before
    ids = rows(warehouse, "select deployment_id from core.deployments order by 1")
    assert [i.rsplit(":", 1)[1] for (i,) in ids] == ["204", "208", "209"]
    assert fake.requests(r"/deployments\?.*environment=live-eu.*updated_before=2026-03-03")
    # commits back to a day before the baseline (03-02 18:30): all but the initial commit
    assert rows(warehouse, "select count(*) from core.commits") == [(5,)]
    # MRs from the same day: one merged before --since may ship after it
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]


def group_fixture() -> list[FakeProject]:
    small = dict(mrs=2, deployments=1)
    archived = synthetic_project("acme/old/legacy", 13, **small)
    archived.archived = True
    return [
        synthetic_project("acme/web", 11, seed=2, **small),
        synthetic_project("acme/platform/search", 12, seed=3, **small),
        archived,
        synthetic_project("acme/platform/api", 14, seed=4, **small),
        synthetic_project("other/thing", 15, seed=5, **small),
    ]


def test_group_lists_projects_by_keyset_pages(warehouse: Path) -> None:
    with FakeGitLab(group_fixture()) as fake:
        result = run(fake, warehouse, settings=settings_for(fake, projects=[], group="acme", per_page=1))
        listed = fake.requests(r"/groups/acme/projects")
    assert result.errors == {}
    # keyset: each next page named by the last id seen, through Link only
    assert "pagination=keyset" in listed[0].path and len(listed) == 3
    assert ["id_after=11" in listed[1].path, "id_after=12" in listed[2].path] == [True, True]
    assert rows(warehouse, "select service, repo, team from core.services order by 1") == [
        ("api", "acme/platform/api", "acme"),
        ("search", "acme/platform/search", "acme"),
        ("web", "acme/web", "acme"),
    ]  # the archived project and the other group's are not collected


def test_deploy_jobs_are_deployments(warehouse: Path) -> None:
    project = synthetic_project("acme/app", 21, mrs=3, deployments=0)
    head = project.head or ""
    at = dt.datetime(2026, 3, 5, 10, 0, tzinfo=dt.UTC)
    project.jobs = [
        job(901, "deploy-prod", head, at),
        job(902, "unit-tests", head, at),
        job(903, "deploy-prod", head, at + dt.timedelta(hours=1), status="failed"),
        job(904, "deploy-prod", head, at + dt.timedelta(hours=2), ref="feature-x"),
        job(905, "deploy-prod", head, at + dt.timedelta(hours=3)),
        job(906, "deploy-prod", head, at + dt.timedelta(hours=4), status="running"),
    ]
    with FakeGitLab([project]) as fake:
        settings = settings_for(
            fake, projects=["acme/app"], deploy_job="^deploy-prod$", jobs_lookback_hours=0.5
        )
        assert run(fake, warehouse, settings=settings).errors == {}
        listed = fake.requests(r"/jobs\?")
        assert all("pagination=keyset" in r.path for r in listed) and any("cursor=" in r.path for r in listed)
        fake.reset_log()
        run(fake, warehouse, settings=settings)  # nothing new: the first page goes past the lookback
        assert len(fake.requests(r"/jobs\?")) == 1
    assert rows(warehouse, "select deployment_id, environment, status from core.deployments order by 1") == [
        ("gitlab:acme/app:job:901", "production", "success"),
        ("gitlab:acme/app:job:903", "production", "failure"),
        ("gitlab:acme/app:job:905", "production", "success"),
    ]  # unit tests, another branch and a running job are not deployments


def test_quarantines_a_payload_missing_a_field(fake: FakeGitLab, warehouse: Path) -> None:
    del fake.projects[PATH].merge_requests[0]["created_at"]
    result = run(fake, warehouse)
    assert result.errors == {} and result.stats[PATH].quarantined == 1
    assert rows(warehouse, "select entity, key, problem from raw.gitlab__quarantine") == [
        ("merge_requests", "1", f"merge request !1 of {PATH}: missing required field 'created_at'")
    ]
    assert rows(warehouse, "select number from core.pull_requests order by 1") == [(2,), (3,)]


def test_payloads_are_kept_verbatim(fake: FakeGitLab, warehouse: Path) -> None:
    run(fake, warehouse)
    (payload,) = rows(warehouse, f"select payload from raw.gitlab__deployments where key = '{PATH}:209'")[0]
    assert json.loads(payload)["user"]["username"] == "argo"
    keys = rows(warehouse, "select count(*), count(distinct key) from raw.gitlab__merge_requests")
    assert keys == [(3, 3)]


def test_dry_run_counts_production_deployments_and_writes_nothing(fake: FakeGitLab, warehouse: Path) -> None:
    settings = settings_for(fake)
    (line,) = dry_run(lambda: make_client(TOKEN, settings), settings)
    # successful: 201, 202, 204, 209 to production and 208 to live-eu (tier production); 203 to staging
    assert line["would_count"] == 5 and "staging: 1" in line["detail"]
    assert not warehouse.exists()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"projects": ["acme"]}, "gitlab.projects[0]: 'acme' is not GROUP/NAME"),
        ({"projets": []}, "gitlab.projets: unknown key"),
        ({"per_page": 500}, "gitlab.per_page: GitLab serves at most 100"),
        ({"deploy_job": "("}, "gitlab.deploy_job: invalid regular expression"),
        ({"incidents": "no"}, "gitlab.incidents: expected true or false"),
        ({"project": {"a/b": {"servce": "x"}}}, 'gitlab.project."a/b".servce: unknown key'),
        ({"ca_bundle": "/nonexistent.pem"}, "gitlab.ca_bundle: /nonexistent.pem: no such file"),
        ({"url": "gitlab.example.com"}, "gitlab.url: 'gitlab.example.com' is not an http(s) URL"),
        ({"projects": ["a/x", "b/x"]}, "service 'x' would come from both a/x and b/x"),
    ],
)
def test_settings_errors_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        gitlab_settings.parse(section)


def test_project_path_maps_to_service_and_team_unless_configured() -> None:
    settings = gitlab_settings.parse(
        {"projects": ["acme/platform/checkout", "acme/web"], "project": {"acme/web": {"service": "storefront",
                                                                                     "team": "shop"}}}
    )  # fmt: skip
    assert [(p.service, p.team) for p in settings.projects] == [("checkout", "acme"), ("storefront", "shop")]


def test_warehouse_keys_are_unique_after_repeated_runs(fake: FakeGitLab, warehouse: Path) -> None:
    for _ in range(2):
        run(fake, warehouse, full=True)
    for table, key in [
        ("deployments", "deployment_id"),
        ("commits", "repo, sha"),
        ("incidents", "incident_id"),
    ]:
        dup = rows(warehouse, f"select {key}, count(*) from core.{table} group by all having count(*) > 1")
        assert dup == [], table
