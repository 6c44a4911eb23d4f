"""The local git collector on a real repository built with `git` in a temp dir."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.base import CollectorError
from collectors.git import collector as git_local
from collectors.git.settings import GitSettings, ServiceSpec
from collectors.settings import TagSelection
from tests.support.collect import rows
from tests.support.git_repo import Repo, day
from warehouse import db
from warehouse.metric_settings import MetricsSettings
from warehouse.metrics import Scope, compute
from warehouse.sync import WarehouseSink
from warehouse.transform import run as transform


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """main: root, a --no-ff merge of a 2-commit branch, a squash merge, a revert; tags v1..v4."""
    r = Repo(tmp_path / "shop")
    r.root = r.commit("README", "Initial commit", day(2, 9))
    r.git("tag", "-a", "v1", "-m", "release 1", when=day(2, 10))  # annotated: its own (tagger) time
    r.git("checkout", "-q", "-b", "basket")
    r.b1 = r.commit("basket.py", "Add basket", day(2, 11))
    r.b2 = r.commit("basket_test.py", "Test basket", day(2, 12))
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "basket", "-m", "Merge branch 'basket'", when=day(2, 14))
    r.merge = r.git("rev-parse", "HEAD")
    r.git("tag", "-a", "v2", "-m", "release 2", when=day(2, 15))
    r.git("checkout", "-q", "-b", "cart")
    r.commit("cart.py", "WIP cart", day(3, 9))
    r.commit("cart.py", "WIP cart 2", day(3, 10))
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--squash", "cart", when=day(3, 12))
    r.git("commit", "-q", "-m", "Add cart", when=day(3, 12))
    r.squash = r.git("rev-parse", "HEAD")
    r.git("tag", "v3")  # lightweight: the commit's time
    r.git("revert", "--no-edit", r.squash, when=day(4, 9))
    r.revert = r.git("rev-parse", "HEAD")
    r.git("tag", "-a", "v4", "-m", "release 4", when=day(4, 10))
    r.git("tag", "-a", "nightly-1", "-m", "not a deploy", when=day(4, 11))
    return r


def collect(path: Path, warehouse: Path, deploy_tags: str | None = None, **options) -> dict[str, int]:
    """Commits and deployments written by one run of the collector."""
    tags = TagSelection.of(deploy_tags)
    service = ServiceSpec(name="shop", team="web", tags=tags)
    settings = GitSettings(path=path, repo="shop", services=(service,), **options)
    with WarehouseSink(warehouse, "git") as sink:
        result = git_local.collect(settings, sink)
    return {"commits": result.commits, "deployments": result.deployments}


def test_commits_and_tag_deployments(repo: Repo, warehouse: Path) -> None:
    counts = collect(repo.path, warehouse, deploy_tags="v*")
    assert counts == {"commits": 6, "deployments": 4}  # the squashed branch's own commits are not on main
    merge = rows(
        warehouse,
        f"select parents, authored_at, author, message from core.commits where sha = '{repo.merge}'",
    )
    assert merge == [([repo.root, repo.b2], dt.datetime(2026, 3, 2, 14), "Alice", "Merge branch 'basket'")]
    (message,) = rows(warehouse, f"select message from core.commits where sha = '{repo.revert}'")[0]
    assert f"This reverts commit {repo.squash}." in message
    deployments = rows(
        warehouse,
        "select deployment_id, commit_sha, finished_at, environment, status"
        " from core.deployments order by finished_at",
    )
    assert deployments == [
        ("git:shop:v1", repo.root, dt.datetime(2026, 3, 2, 10), "production", "success"),  # tagger date
        ("git:shop:v2", repo.merge, dt.datetime(2026, 3, 2, 15), "production", "success"),
        ("git:shop:v3", repo.squash, dt.datetime(2026, 3, 3, 12), "production", "success"),  # commit date
        ("git:shop:v4", repo.revert, dt.datetime(2026, 3, 4, 10), "production", "success"),
    ]
    assert rows(warehouse, "select service, repo, team from core.services") == [("shop", "shop", "web")]

    with db.write(warehouse) as con:
        transform(con, MetricsSettings())
        (got,) = compute(con, Scope(dt.date(2026, 3, 2), dt.date(2026, 3, 8), "service"))
    # v1 is the baseline; v2 ships b1, b2 (the merge commit belongs to no PR: not a change); v3 the
    # squash; v4 the revert, which makes v3 failed and v4 unplanned
    assert (got["deployments"], got["baseline_deployments"], got["changes"]) == (4, 1, 4)
    assert (got["failed_deployments"], got["unplanned_deployments"]) == (1, 1)
    assert got["recovery_time_median_hours"] == pytest.approx(22.0)  # v3 12:00 -> v4 next day 10:00


def test_second_run_reads_only_new_commits(repo: Repo, warehouse: Path) -> None:
    collect(repo.path, warehouse)
    assert collect(repo.path, warehouse) == {"commits": 0, "deployments": 0}
    new = repo.commit("totals.py", "Speed up totals", day(5, 9))
    assert collect(repo.path, warehouse) == {"commits": 1, "deployments": 0}
    assert rows(warehouse, f"select count(*) from core.commits where sha = '{new}'") == [(1,)]
    assert rows(warehouse, "select count(*) from core.commits") == [(7,)]


def test_rewritten_history_is_read_again(repo: Repo, warehouse: Path) -> None:
    collect(repo.path, warehouse)
    repo.git("reset", "-q", "--hard", repo.merge)
    amended = repo.commit("other.py", "Another line of work", day(6, 9))
    # the old head is no ancestor, but every commit it reaches was read: only the new one is read
    assert collect(repo.path, warehouse)["commits"] == 1
    assert rows(warehouse, f"select count(*) from core.commits where sha = '{amended}'") == [(1,)]
    repo.git("commit", "-q", "--amend", "-m", "Another line of work, amended", when=day(6, 10))
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")  # the previous head is gone from the repository
    assert collect(repo.path, warehouse)["commits"] == 5  # so all of main is read again


def test_deploy_log(repo: Repo, warehouse: Path, tmp_path: Path) -> None:
    log = tmp_path / "deploys.csv"
    log.write_text(
        "deployment_id,service,environment,commit_sha,started_at,finished_at,status\n"
        f"d1,,Production,{repo.merge.upper()},2026-03-02T15:00:00Z,2026-03-02T15:10:00+00:00,success\n"
        f"d2,shop,production,{repo.squash},,2026-03-03T13:00:00Z,failure\n"
    )
    assert collect(repo.path, warehouse, deploy_log=log)["deployments"] == 2
    assert rows(
        warehouse,
        "select deployment_id, service, environment, commit_sha, status from core.deployments order by 1",
    ) == [
        ("d1", "shop", "production", repo.merge, "success"),  # shas and environments lowercased
        ("d2", "shop", "production", repo.squash, "failure"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "d1,shop,prod,abc1234,,2026-03-02T15:10:00,success",
            "deploys.csv:3:finished_at: not an ISO 8601 time",
        ),
        ("d1,shop,prod,xyz,,2026-03-02T15:10:00Z,success", "deploys.csv:3:commit_sha: not a sha"),
        (
            "d1,shop,prod,abc1234,,2026-03-02T15:10:00Z,ok",
            "deploys.csv:3:status: expected success or failure",
        ),
        ("d0,shop,prod,abc1234,,2026-03-02T15:10:00Z,success", "deploys.csv:3:deployment_id: duplicate key"),
        ("d1,shop,,abc1234,,2026-03-02T15:10:00Z,success", "deploys.csv:3:environment: empty required cell"),
    ],
)
def test_deploy_log_errors_name_line_and_column(
    repo: Repo, warehouse: Path, tmp_path: Path, line: str, message: str
) -> None:
    log = tmp_path / "deploys.csv"
    log.write_text(
        "deployment_id,service,environment,commit_sha,started_at,finished_at,status\n"
        "d0,shop,prod,abc1234,,2026-03-02T15:00:00Z,success\n" + line + "\n"
    )
    with pytest.raises(CollectorError, match=message):
        collect(repo.path, warehouse, deploy_log=log)


def test_command_line(repo: Repo, warehouse: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "doralytics",
            "--warehouse",
            str(warehouse),
            "collect",
            "git",
            str(repo.path),
            "--service",
            "shop-web",
            "--team",
            "web",
            "--deploy-tags",
            "v*",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "repo": "shop",
            "service": "shop-web",
            "commits": 6,
            "files": 0,  # no service has paths: no file lists
            "deployments": 4,
            "removed": 0,
            "skipped_tags": 0,
            "quarantined": 0,
            "repaired": 0,
        }
    ]
    assert rows(warehouse, "select count(*) from marts.deployments") != [(0,)]  # transformed after collect


def test_not_a_repository(tmp_path: Path, warehouse: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CollectorError, match="empty: not a git repository"):
        collect(tmp_path / "empty", warehouse)


class FailingSink(WarehouseSink):
    """A sink whose run dies (as a kill would) after `writes` batches."""

    def __init__(self, path: Path, writes: int) -> None:
        super().__init__(path, "git")
        self.left = writes

    def write(self, batch) -> None:
        if self.left == 0:
            raise KeyboardInterrupt("killed")
        self.left -= 1
        super().write(batch)


def test_a_run_stopped_halfway_is_finished_by_the_next(
    repo: Repo, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collectors.git.repo.BATCH_COMMITS", 2)
    service = ServiceSpec(name="shop", team="web", tags=TagSelection(("v*",)))
    settings = GitSettings(path=repo.path, repo="shop", services=(service,))
    with FailingSink(warehouse, writes=2) as sink, pytest.raises(KeyboardInterrupt):
        git_local.collect(settings, sink)  # the services, then 2 of the 6 commits
    assert rows(warehouse, "select count(*) from core.commits") == [(2,)]
    assert collect(repo.path, warehouse, deploy_tags="v*") == {"commits": 6, "deployments": 4}
    assert rows(warehouse, "select count(*) from core.commits") == [(6,)]
    assert collect(repo.path, warehouse, deploy_tags="v*") == {"commits": 0, "deployments": 4}


def test_tag_selection_includes_and_excludes() -> None:
    selection = TagSelection.of(["v*", "release/[0-9]*"], ["*rc*", "*-dev?"])
    chosen = [
        name
        for name in ("v1.0", "v1.1rc1", "v2-dev1", "v2-dev10", "release/2026.1", "release/next", "V3", "x")
        if selection.matches(name)
    ]
    assert chosen == ["v1.0", "v2-dev10", "release/2026.1"]  # case-sensitive; `?` is one character
    assert not TagSelection.of(None) and TagSelection.of("v*").includes == ("v*",)
    assert not TagSelection((), ("*",)).matches("v1")  # no include: nothing
