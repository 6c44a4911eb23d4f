"""The GitHub collector end to end: real PyGithub against the fake server, rows and metrics checked.

The fixture repo (tests/fixtures/github/acme-checkout) is small and hand-written; every expected value
below was worked out by hand from it (see the comments).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from collectors.github import settings as github_settings
from collectors.github.client import make_client
from tests.support.collect import TOKEN, metrics, rows, snapshot
from tests.support.collect import github_settings as settings_for
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, load_fixture
from tests.support.github_payloads import commit_payload, deployment_payload, pull_payload, status_payload
from warehouse import db

C1, E1, S1, A1, A2, D1, F1 = ("c1" * 20, "e1" * 20, "5a" * 20, "a1" * 20, "a2" * 20, "d1" * 20, "f1" * 20)


@pytest.fixture
def fake():
    with FakeGitHub([load_fixture("acme-checkout")]) as server:
        yield server


def test_canonical_rows_and_metrics(fake: FakeGitHub, warehouse: Path) -> None:
    result = run(fake, warehouse)
    assert result.errors == {}
    # every list spans pages (per_page 2), followed through Link headers
    assert any("page=2" in r.path for r in fake.requests("/pulls\\?"))
    assert rows(warehouse, "select service, repo, team from core.services") == [
        ("checkout", "acme/checkout", "acme")
    ]

    deployments = rows(
        warehouse,
        "select deployment_id, environment, environment_tier, commit_sha, finished_at, status"
        " from core.deployments order by deployment_id",
    )
    assert [d[0].rsplit(":", 1)[1] for d in deployments] == [
        "101",
        "102",
        "103",
        "104",
        "105",
        "106",
        "107",
        "108",
        "109",
        "111",  # 110 is still pending
    ]
    by_id = {d[0].rsplit(":", 1)[1]: d for d in deployments}
    # first terminal status: queued then success -> success at the success; inactive after success stays
    assert by_id["104"][4:] == (dt.datetime(2026, 3, 3, 16, 10), "success")
    assert by_id["102"][4:] == (dt.datetime(2026, 3, 2, 17, 10), "success")
    assert by_id["108"][5] == "failure"  # "error" is a failure
    assert by_id["106"][1:3] == ("staging", None)  # the name decides: not production
    assert by_id["111"][1:3] == ("live", "production")  # GitHub's production_environment flag decides

    prs = rows(
        warehouse,
        "select number, created_at, first_commit_at, first_review_at, merged_at, labels"
        " from core.pull_requests order by number",
    )
    assert [p[0] for p in prs] == [1, 2, 3]  # #4 was closed without merging
    # PR 2: dependabot[bot] and the author's own comment are not the first review; alice at 12:00 is
    assert prs[1][3] == dt.datetime(2026, 3, 3, 12, 0)
    assert prs[2][5] == ["bug"]
    links = rows(warehouse, "select sha from core.pull_request_commits where number = 3 order by sha")
    # a rebase merge: the PR's own commits and the rebased shas that landed on main
    assert [s for (s,) in links] == ["0a01" * 10, "0a02" * 10, A1, A2]

    merge = rows(warehouse, f"select parents from core.commits where sha = '{E1}'")
    assert merge == [([C1, "b2" * 20],)]
    assert rows(warehouse, "select count(*) from core.commits") == [(9,)]
    incidents = rows(warehouse, "select incident_id, severity, resolved_at from core.incidents order by 1")
    # #21 has no incident label, #22 is a pull request: neither is an incident
    assert incidents == [
        ("github:issue:acme/checkout#20", "sev2", dt.datetime(2026, 3, 5, 9, 30)),
        ("github:issue:acme/checkout#23", "low", None),
    ]
    runs = rows(warehouse, "select run_id, status from core.pipeline_runs order by 1")
    assert len(runs) == 7 and ("github:run:506:1", "cancelled") in runs  # 508 is still running

    got = metrics(warehouse)
    # 7 successful production deployments (101 and 111 are the baselines of production and live)
    assert (got["deployments"], got["baseline_deployments"], got["deployment_days"]) == (7, 2, 4)
    # lead times: PR1 7h10, PR2 7h10, PR3 4h05, hotfix commit 1h05, revert commit 2h10
    assert got["changes"] == 5
    assert got["lead_time_median_hours"] == pytest.approx(4 + 5 / 60)
    assert (got["coding_median_hours"], got["pickup_median_hours"], got["review_median_hours"]) == (
        1.5,
        2.0,
        1.0,
    )
    # 105 failed (incident #20, the hotfix after it, the revert of its a1), 111 (open incident #23)
    assert (got["failed_deployments"], got["unrecovered_failures"]) == (2, 1)
    assert got["recovery_time_median_hours"] == pytest.approx(20 + 25 / 60)  # 13:05 -> next day 09:30
    assert got["unplanned_deployments"] == 2  # the hotfix (107) and the revert (109)


def test_second_run_with_nothing_new_changes_nothing(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse)
    run(fake, warehouse)  # the first re-check of the running workflow run has no ETag yet
    before = snapshot(warehouse)
    raw_before = rows(warehouse, "select count(*), max(_loaded_at) from raw.github__pulls")
    fake.reset_log()
    result = run(fake, warehouse)
    assert snapshot(warehouse) == before
    assert rows(warehouse, "select count(*), max(_loaded_at) from raw.github__pulls") == raw_before
    # one conditional request per entity (repo, pending deployment, deployments, branch, pulls, issues,
    # pending run, runs), all answered 304, which costs no rate limit
    log = fake.requests()
    assert {r.status for r in log} == {304}
    assert len(log) == 8
    assert result.stats["acme/checkout"].not_modified == 8


def test_incremental_run_fetches_only_what_changed(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse)
    repo = fake.repos["acme/checkout"]
    new = "9e" * 20
    when = dt.datetime(2026, 3, 6, 9, 0, tzinfo=dt.UTC)
    repo.add_commit(
        commit_payload(
            "acme/checkout",
            new,
            [F1],
            "2026-03-06T08:00:00Z",
            "2026-03-06T09:00:00Z",
            "Speed up totals (#5)",
            "carol",
        )
    )
    repo.pulls.append(pull_payload("acme/checkout", 5, "carol", when - dt.timedelta(hours=3), when, new))
    repo.pull_commits[5] = [repo.commits[new]]
    repo.reviews[5] = []
    repo.deployments.append(deployment_payload("acme/checkout", 112, new, "production", when, True))
    repo.statuses[112] = [
        status_payload("acme/checkout", 112, 1120, "success", when + dt.timedelta(minutes=4))
    ]
    repo.statuses[110].insert(
        0,
        status_payload("acme/checkout", 110, 1101, "success", dt.datetime(2026, 3, 5, 13, 20, tzinfo=dt.UTC)),
    )
    fake.reset_log()
    run(fake, warehouse)

    paths = [r.path for r in fake.requests()]
    assert not [p for p in paths if "/pulls/1/" in p or "/pulls/2/" in p or "/deployments/105/" in p]
    assert any("/compare/" in p for p in paths)  # only the new commits, not the history again
    assert not [p for p in paths if "/checkout/commits?" in p]
    found = rows(
        warehouse,
        "select deployment_id, status from core.deployments where deployment_id in"
        " ('github:deployment:110', 'github:deployment:112') order by 1",
    )
    assert found == [("github:deployment:110", "success"), ("github:deployment:112", "success")]
    assert rows(warehouse, f"select count(*) from core.commits where sha = '{new}'") == [(1,)]
    assert rows(warehouse, "select count(*) from core.pull_requests where number = 5") == [(1,)]


def test_workflow_runs_mode(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, deployments="workflow-runs", workflow=r"^deploy\.ya?ml$")
    found = rows(
        warehouse, "select deployment_id, commit_sha, finished_at, status from core.deployments order by 1"
    )
    # Deploy runs on main only: 505 ran on a branch, 506 was cancelled (not a deployment)
    assert found == [
        ("github:run:502:1", E1, dt.datetime(2026, 3, 2, 16, 40), "success"),
        ("github:run:503:1", S1, dt.datetime(2026, 3, 3, 14, 40), "failure"),
        ("github:run:504:1", S1, dt.datetime(2026, 3, 3, 15, 12), "success"),
        ("github:run:507:1", A2, dt.datetime(2026, 3, 4, 12, 55), "success"),
    ]
    assert rows(warehouse, "select distinct environment from core.deployments") == [("production",)]
    assert rows(warehouse, "select count(*) from core.pipeline_runs") == [(7,)]
    assert not fake.requests("/deployments")


def test_releases_mode(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, deployments="releases", environment="prod")
    found = rows(
        warehouse,
        "select deployment_id, commit_sha, finished_at, environment from core.deployments order by 1",
    )
    # the draft and the prerelease do not count; the tag's commit is the deployed sha
    assert found == [
        ("github:release:701", E1, dt.datetime(2026, 3, 2, 18, 0), "prod"),
        ("github:release:703", S1, dt.datetime(2026, 3, 3, 17, 0), "prod"),
        ("github:release:705", A2, dt.datetime(2026, 3, 4, 14, 30), "prod"),
    ]


def test_merged_prs_mode(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, deployments="merged-prs")
    found = rows(warehouse, "select deployment_id, commit_sha, finished_at from core.deployments order by 1")
    assert found == [
        ("github:pr:acme/checkout#1", E1, dt.datetime(2026, 3, 2, 16, 0)),
        ("github:pr:acme/checkout#2", S1, dt.datetime(2026, 3, 3, 14, 0)),
        ("github:pr:acme/checkout#3", A2, dt.datetime(2026, 3, 4, 12, 0)),
    ]
    got = metrics(warehouse)
    # PR1 is the baseline; PR2 and PR3 ship themselves, deploy stage 0 h, lead = merge - first commit
    assert (got["deployments"], got["changes"], got["deploy_median_hours"]) == (3, 2, 0.0)


def test_monorepo_services_by_environment(fake: FakeGitHub, warehouse: Path) -> None:
    section = {
        "api_url": fake.url,
        "per_page": 50,
        "retries": 2,
        "backoff": 0.01,
        "repo": {
            "acme/checkout": {
                "services": [
                    {"name": "checkout-web", "team": "web", "environment": "^(production|staging)$"},
                    {"name": "checkout-live", "environment": "^live$"},
                ]
            }
        },
    }
    settings = github_settings.parse(section)
    run(fake, warehouse, settings)
    assert rows(warehouse, "select service, repo, team from core.services order by 1") == [
        ("checkout-live", "acme/checkout", "acme"),
        ("checkout-web", "acme/checkout", "web"),
    ]
    assert rows(warehouse, "select service, count(*) from core.deployments group by 1 order by 1") == [
        ("checkout-live", 1),
        ("checkout-web", 9),
    ]


def test_since_fetches_the_baseline_before_it(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse, since=dt.date(2026, 3, 4))
    ids = [d for (d,) in rows(warehouse, "select deployment_id from core.deployments order by 1")]
    # 104 (the last production success before the 4th) is fetched as the baseline, nothing older
    assert ids[0] == "github:deployment:104" and "github:deployment:103" not in ids
    assert not fake.requests("/deployments/10[123]/")
    shas = {s for (s,) in rows(warehouse, "select sha from core.commits")}
    assert {S1, E1} <= shas and C1 not in shas
    got = metrics(warehouse, "2026-03-04", "2026-03-08")
    assert got["baseline_deployments"] == 1  # live's 111; production's baseline 104 is before the period
    assert got["changes"] == 3  # PR3, the hotfix commit, the revert: 105 is not a baseline


def test_quarantines_a_payload_missing_a_field(fake: FakeGitHub, warehouse: Path) -> None:
    repo = fake.repos["acme/checkout"]
    broken = deployment_payload(
        "acme/checkout", 113, F1, "production", dt.datetime(2026, 3, 6, 9, 0, tzinfo=dt.UTC), True
    )
    del broken["sha"]
    repo.deployments.append(broken)
    repo.statuses[113] = [
        status_payload("acme/checkout", 113, 1130, "success", dt.datetime(2026, 3, 6, 9, 5, tzinfo=dt.UTC))
    ]
    result = run(fake, warehouse)
    assert result.errors == {} and result.stats["acme/checkout"].quarantined == 1
    assert rows(warehouse, "select entity, key, problem from raw.github__quarantine") == [
        ("deployments", "113", "deployment 113 of acme/checkout: missing required field 'sha'")
    ]
    assert rows(warehouse, "select count(*) from core.deployments") == [(10,)]  # the others are in


def test_payloads_are_kept_verbatim(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse)
    (payload,) = rows(
        warehouse, "select payload from raw.github__deployments where key = 'acme/checkout:111'"
    )[0]
    original = next(d for d in fake.repos["acme/checkout"].deployments if d["id"] == 111)
    assert json.loads(payload) == original


def test_org_lists_repositories_concurrently(warehouse: Path) -> None:
    from tests.support.github_payloads import synthetic_repo

    repos = [synthetic_repo(f"acme/svc{i}", prs=4, deployments=3, seed=i) for i in range(4)]
    with FakeGitHub(repos, latency=0.02, orgs={"acme": [r.full_name for r in repos]}) as fake:
        settings = github_settings.parse({"api_url": fake.url, "org": "acme", "workers": 4, "retries": 2})
        result = run(fake, warehouse, settings)
        # "(setup)" holds the requests that listed the organization
        assert sorted(result.stats) == ["(setup)", "acme/svc0", "acme/svc1", "acme/svc2", "acme/svc3"]
        assert fake.max_in_flight >= 2  # repos really are fetched at the same time
    assert rows(warehouse, "select count(distinct service), count(*) from core.deployments") == [(4, 12)]
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(16,)]


def test_duplicate_service_names_are_an_error_naming_both() -> None:
    with pytest.raises(Exception, match="acme/api.*acme-labs/api|acme-labs/api.*acme/api"):
        github_settings.parse({"repos": ["acme/api", "acme-labs/api"]})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"workers": "4"}, "github.workers: expected an integer"),
        ({"deployments": "tags"}, "github.deployments: expected one of"),
        ({"repos": ["checkout"]}, r"github.repos\[0\]: 'checkout' is not OWNER/NAME"),
        ({"bot_pattern": "("}, "github.bot_pattern: invalid regular expression"),
        ({"colour": 1}, "github.colour: unknown key"),
        ({"repo": {"acme/x": {"workflow": 3}}}, 'github.repo."acme/x".workflow: expected a string'),
        ({"repo": {"acme/x": {"services": [{"team": "t"}]}}}, r'github.repo."acme/x".services\[0\].name'),
        ({"per_page": 500}, "github.per_page: GitHub serves at most 100"),
    ],
)
def test_settings_errors_name_the_key(section: dict, message: str) -> None:
    from doralytics.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        github_settings.parse(section)


def test_warehouse_keys_are_unique_after_repeated_runs(fake: FakeGitHub, warehouse: Path) -> None:
    run(fake, warehouse)
    run(fake, warehouse, full=True)
    with db.read(warehouse) as con:
        for table, key in [
            ("deployments", "deployment_id"),
            ("pull_requests", "repo, number"),
            ("commits", "repo, sha"),
            ("pipeline_runs", "run_id"),
            ("incidents", "incident_id"),
        ]:
            dup = con.execute(
                f"select {key}, count(*) from core.{table} group by all having count(*) > 1"
            ).fetchall()
            assert dup == [], table
        dup = con.execute("select key from raw.github__pulls group by 1 having count(*) > 1").fetchall()
        assert dup == []


def test_clone_mode_reads_the_commit_graph_with_git(
    fake: FakeGitHub, warehouse: Path, tmp_path: Path
) -> None:
    from tests.support.git_repo import Repo, day

    source = Repo(tmp_path / "src")
    first = source.commit("a", "first", day(2, 9))
    second = source.commit("b", "second", day(2, 10))
    bare = tmp_path / "remote" / "acme" / "checkout.git"
    bare.parent.mkdir(parents=True)
    source.git("clone", "-q", "--bare", str(source.path), str(bare))
    # the fake's deployments are of other commits, whose history the API would serve (test_github_history)
    fake.repos["acme/checkout"].deployments = []
    settings = settings_for(
        fake,
        clone=True,
        clone_url=f"file://{tmp_path}/remote/{{repo}}.git",
        clone_dir=str(tmp_path / "clones"),
    )
    run(fake, warehouse, settings)
    assert not fake.requests("/checkout/commits|/branches/")  # no commits API paging at all
    assert rows(warehouse, "select sha, parents from core.commits order by authored_at") == [
        (first, []),
        (second, [first]),
    ]
    third = source.commit("c", "third", day(2, 11))
    source.git("push", "-q", str(bare), "main")
    run(fake, warehouse, settings)
    assert rows(warehouse, "select count(*) from core.commits") == [(3,)]
    ((cursor,),) = rows(warehouse, "select cursor from raw.cursors where entity = 'git_commits'")
    assert third in cursor  # the clone's cursor (collectors/git) resumes after the third commit


@pytest.mark.parametrize(
    ("mode", "count", "detail"),
    [
        (
            "deployments",
            10,
            "10 deployments to production (live, production) would count once their status is "
            "success; other environments: staging: 1",
        ),
        ("workflow-runs", 3, "4 runs of deploy.yml (3 successful, 1 failed) on branch main"),
        ("releases", 3, "3 published releases would count (latest v1.2.0)"),
        ("merged-prs", 3, "3 pull requests merged into main would count"),
    ],
)
def test_dry_run_says_what_would_count(
    fake: FakeGitHub, warehouse: Path, mode: str, count: int, detail: str
) -> None:
    from collectors.github.collector import dry_run

    settings = settings_for(fake, deployments=mode, per_page=50)
    (line,) = dry_run(lambda: make_client(TOKEN, settings), settings)
    assert (line["would_count"], line["mode"]) == (count, mode)
    assert detail in line["detail"]
    assert not warehouse.exists()


def test_github_enterprise_server_api_root(fake: FakeGitHub, warehouse: Path) -> None:
    result = run(fake, warehouse, api_url=fake.url + "/api/v3")
    assert result.errors == {}
    assert all(r.path.startswith("/api/v3/") for r in fake.requests())
    assert any("page=2" in r.path for r in fake.requests())  # Link headers followed under the prefix
    assert rows(warehouse, "select count(*) from core.deployments") == [(10,)]


def test_github_enterprise_behind_a_private_ca_needs_its_ca_bundle(tmp_path: Path, warehouse: Path) -> None:
    from tests.support.fake_http import self_signed_cert

    cert, key = self_signed_cert(tmp_path)
    with FakeGitHub([load_fixture("acme-checkout")], tls=(cert, key)) as server:
        assert server.url.startswith("https://")
        refused = run(server, warehouse, retries=1)
        assert "acme/checkout" in refused.errors
        assert "certificate" in str(refused.errors["acme/checkout"]).lower()
        result = run(server, warehouse, ca_bundle=str(cert))
        assert result.errors == {}
    assert rows(warehouse, "select count(*) from core.deployments") == [(10,)]
