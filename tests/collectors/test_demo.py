"""The demo org: deterministic, loadable, plausible in every timestamp, and rich in the cases metrics meet."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from collectors import demo
from warehouse import db, metrics, transform
from warehouse.metric_settings import MetricsSettings
from warehouse.schema import TABLES

END = dt.date(2026, 3, 31)
START = dt.datetime(2025, 9, 30)  # 183 days ending on END
STOP = dt.datetime(2026, 4, 1)
KEYS = {t.name: list(t.key) for t in TABLES}
REVERT = re.compile(r"This reverts commit ([0-9a-f]{7,64})")


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return demo.generate(seed=7, end=END)


def production(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    d = frames["deployments"]
    prod = d[(d.status == "success") & (d.environment != "staging")]
    assert (
        prod.environment.str.match(r"^(prod|production)([-_].*)?$") | (prod.environment_tier == "production")
    ).all()
    return prod


def test_same_seed_same_frames_other_seed_differs(frames: dict[str, pd.DataFrame]) -> None:
    again = demo.generate(seed=7, end=END)
    assert again.keys() == frames.keys()
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, again[name])
    other = demo.generate(seed=8, end=END)
    assert not other["commits"].sha.isin(frames["commits"].sha).any()
    assert len(other["deployments"]) != len(frames["deployments"])


def test_columns_are_the_core_tables(frames: dict[str, pd.DataFrame]) -> None:
    assert set(frames) == {t.name for t in TABLES}
    for table in TABLES:
        assert list(frames[table.name].columns) == [c.name for c in table.columns], table.name
    shas = pd.concat(
        [frames["commits"].sha, frames["pull_request_commits"].sha, frames["deployments"].commit_sha]
        + [frames["commits"].parents.explode().dropna()]
    )
    assert shas.str.fullmatch(r"[0-9a-f]{40}").all()
    assert all(isinstance(p, list) for p in frames["commits"].parents)
    assert all(isinstance(labels, list) for labels in frames["pull_requests"].labels)


def test_keys_unique(frames: dict[str, pd.DataFrame]) -> None:
    for name, key in KEYS.items():
        assert not frames[name].duplicated(key).any(), name
        assert frames[name][key].notna().all().all(), name


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A fresh warehouse holding the demo org (built once: the load and the metrics tests share it)."""
    path = tmp_path_factory.mktemp("demo") / "w.duckdb"
    with db.write(path) as con:
        counts = demo.build(con, seed=7, end=END)
    return path, counts


def test_loads_into_a_fresh_warehouse(
    frames: dict[str, pd.DataFrame], warehouse: tuple[Path, dict[str, int]]
) -> None:
    path, counts = warehouse
    assert counts == {name: len(frame) for name, frame in frames.items()}
    with db.write(path) as con:
        for name, frame in frames.items():
            assert con.execute(f"select count(*) from core.{name}").fetchall() == [(len(frame),)]
        assert con.execute("select count(*) from core.commits where len(parents) = 2").fetchall()[0][0] > 100


def test_default_end_is_today_utc() -> None:
    today = dt.datetime.now(dt.UTC).date()
    commits = demo.generate(seed=3)["commits"]
    assert commits.committed_at.max() < pd.Timestamp(today + dt.timedelta(days=1))
    assert commits.authored_at.min() >= pd.Timestamp(today - dt.timedelta(days=182))


def test_sizes_and_org_shape(frames: dict[str, pd.DataFrame]) -> None:
    services = frames["services"]
    assert 3 <= services.team.nunique() <= 4
    assert 10 <= len(services) <= 14
    assert services.repo.duplicated().any()  # a monorepo
    assert (services.repo == "acme/" + services.service).sum() >= 10
    assert 2000 <= len(frames["commits"]) <= 10000
    assert 1500 <= len(frames["deployments"]) <= 4000


def test_every_timestamp_in_the_window_and_ordered(frames: dict[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        for column in [c for c in frame.columns if c.endswith("_at")]:
            values = frame[column].dropna()
            assert ((values >= START) & (values < STOP)).all(), (name, column)
    c = frames["commits"]
    assert (c.authored_at <= c.committed_at).all()
    pr = frames["pull_requests"]
    assert (pr.first_commit_at <= pr.created_at).all()
    reviewed = pr.dropna(subset=["first_review_at", "merged_at"])
    assert (reviewed.created_at <= reviewed.first_review_at).all()
    assert (reviewed.first_review_at <= reviewed.merged_at).all()
    for frame in (frames["deployments"], frames["pipeline_runs"]):
        assert (frame.started_at < frame.finished_at).all()
    inc = frames["incidents"].dropna(subset=["resolved_at"])
    assert (inc.resolved_at > inc.created_at).all()


def test_commit_graph_is_consistent(frames: dict[str, pd.DataFrame]) -> None:
    c = frames["commits"].set_index(["repo", "sha"])
    by_sha = dict(
        zip(zip(frames["commits"].repo, frames["commits"].sha, strict=True), c.committed_at, strict=True)
    )
    for (repo, _), parents, committed in zip(c.index, c.parents, c.committed_at, strict=True):
        for parent in parents:
            assert by_sha[(repo, parent)] <= committed  # every parent is known and older
    assert (c.parents.map(len) == 0).sum() == frames["services"].repo.nunique()  # one root per repo
    # a commit is authored before the PR that brings it merges
    prc = frames["pull_request_commits"].merge(frames["pull_requests"], on=["repo", "number"])
    prc = prc.merge(frames["commits"], on=["repo", "sha"]).dropna(subset=["merged_at"])
    assert len(prc) > 1000
    assert (prc.authored_at <= prc.merged_at).all()


def test_pull_request_kinds(frames: dict[str, pd.DataFrame]) -> None:
    pr, c = frames["pull_requests"], frames["commits"]
    prc = frames["pull_request_commits"]
    known = set(zip(c.repo, c.sha, strict=True))
    parents = dict(zip(zip(c.repo, c.sha, strict=True), c.parents, strict=True))
    merged = pr.dropna(subset=["merged_at"])
    assert merged.apply(lambda p: (p.repo, p.merge_commit_sha) in known, axis=1).all()
    kinds = {"merge": 0, "squash": 0, "rebase": 0}
    listed = prc.groupby(["repo", "number"]).sha.apply(list).to_dict()
    for p in merged.itertuples():
        shas = listed[(p.repo, p.number)]
        in_commits = [(p.repo, s) in known for s in shas]
        if len(parents[(p.repo, p.merge_commit_sha)]) == 2:
            kinds["merge"] += all(in_commits)
        elif p.merge_commit_sha in shas:
            kinds["rebase"] += 1
        else:
            kinds["squash"] += not any(in_commits)  # like GitHub: the branch commits never reach main
    assert all(n >= 50 for n in kinds.values()), kinds
    assert len(merged) > len(pr) * 0.9 and pr.merged_at.isna().sum() >= 20  # abandoned and open PRs
    assert merged.first_review_at.isna().any() and (pr.author == "dependabot[bot]").any()
    hotfix = pr[pr.labels.map(lambda labels: "hotfix" in labels) | pr.head_branch.str.match(r"^hotfix[-/]")]
    assert len(hotfix) >= 10
    assert c.message.str.match(r"(?i)^hotfix\b").any()  # a hotfix pushed straight to main


def test_reverts_name_shipped_commits(frames: dict[str, pd.DataFrame]) -> None:
    c = frames["commits"]
    reverted = c.message.str.extract(REVERT)[0].dropna()
    assert len(reverted) >= 10
    assert (reverted.str.len() < 40).any()  # short shas too
    for repo, prefix in zip(c.repo[reverted.index], reverted, strict=True):
        assert c[(c.repo == repo) & c.sha.str.startswith(prefix)].shape[0] == 1


def test_deployment_cases(frames: dict[str, pd.DataFrame]) -> None:
    d = frames["deployments"]
    assert (d.status == "failure").sum() >= 20
    prod = production(frames)
    assert prod.groupby("service").environment.nunique().max() >= 2  # prod-eu and prod-us
    assert ((prod.environment == "live") & (prod.environment_tier == "production")).any()
    rollbacks = redeploys = 0
    for _, group in prod.sort_values(["finished_at", "deployment_id"]).groupby(["service", "environment"]):
        seen: set[str] = set()
        previous = None
        for sha in group.commit_sha:
            rollbacks += sha != previous and sha in seen
            redeploys += sha == previous
            seen.add(sha)
            previous = sha
    assert rollbacks >= 5 and redeploys >= 5
    # a deployment ships only what was committed before it started
    committed = frames["commits"].merge(frames["services"], on="repo")[["service", "sha", "committed_at"]]
    shipped = d.merge(committed, left_on=["service", "commit_sha"], right_on=["service", "sha"], how="left")
    assert shipped.committed_at.notna().all()
    assert (shipped.committed_at < shipped.started_at).all()


def test_incident_cases(frames: dict[str, pd.DataFrame]) -> None:
    inc = frames["incidents"]
    assert set(inc.severity) == {"sev1", "sev2", "sev3"}
    assert inc.resolved_at.isna().sum() >= 2
    assert inc.deployment_id.notna().any() and inc.commit_sha.notna().any()
    assert inc.deployment_id.dropna().isin(frames["deployments"].deployment_id).all()
    prod = production(frames)
    window = pd.Timedelta(hours=72)

    def explained(i: pd.Series) -> bool:
        mine = prod[prod.service == i.service]
        return bool(((mine.finished_at <= i.created_at) & (mine.finished_at >= i.created_at - window)).any())

    by_time = inc.apply(explained, axis=1)
    assert (~by_time).sum() >= 3  # unattributed
    assert by_time.sum() >= 20  # most follow a bad deployment
    assert (~by_time & inc.resolved_at.isna()).any()


def test_pipeline_runs_for_every_service(frames: dict[str, pd.DataFrame]) -> None:
    runs = frames["pipeline_runs"]
    assert set(runs.service) == set(frames["services"].service)
    assert set(runs.status) == {"success", "failure", "cancelled"}
    assert {"ci", "deploy"} <= set(runs.pipeline)
    assert (runs.branch != "main").any()


def test_the_story_in_the_raw_rows(frames: dict[str, pd.DataFrame]) -> None:
    prod = production(frames)
    counts = prod.service.value_counts()
    assert counts.index[0] == "checkout"
    assert counts["billing"] <= 15
    ledger = prod[prod.service == "ledger"].finished_at
    first, last = (
        (ledger < START + pd.Timedelta(days=61)).sum(),
        (ledger >= STOP - pd.Timedelta(days=61)).sum(),
    )
    assert last > 1.5 * first


def test_the_story_in_the_metrics(warehouse: tuple[Path, dict[str, int]]) -> None:
    first_days = (START.date(), START.date() + dt.timedelta(days=60))
    last_days = (END - dt.timedelta(days=60), END)
    with db.write(warehouse[0]) as con:
        transform.run(con, MetricsSettings())
        whole, first, last = (
            {g["group"]: g for g in metrics.compute(con, metrics.Scope(start, end))}
            for start, end in ((START.date(), END), first_days, last_days)
        )
    elite = whole["checkout"]
    assert elite["deployments"] == max(g["deployments"] for g in whole.values())
    assert elite["tiers"]["deployment_frequency"] == "elite" and elite["tiers"]["lead_time"] == "elite"
    assert whole["billing"]["tiers"]["deployment_frequency"] in ("low", "medium")
    assert whole["billing"]["lead_time_median_hours"] > 10 * elite["lead_time_median_hours"]
    assert last["ledger"]["deployments"] > 1.5 * first["ledger"]["deployments"]
    assert last["ledger"]["lead_time_median_hours"] < first["ledger"]["lead_time_median_hours"]
    assert last["ledger"]["change_failure_rate"] < first["ledger"]["change_failure_rate"]
    # the data-quality figures the dashboard shows beside the numbers are exercised too
    assert sum(g["unattributed_incidents"] for g in whole.values()) >= 3
    assert sum(g["unrecovered_failures"] for g in whole.values()) >= 1
    assert all(g["unknown_sha_deployments"] == 0 and g["lead_time_excluded"] == 0 for g in whole.values())
    assert sum(g["failed_deployments"] > 0 for g in whole.values()) >= 9
