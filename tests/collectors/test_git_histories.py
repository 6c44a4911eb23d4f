"""`dora collect git` on real-shaped histories built with git itself: tags on a maintenance branch never
merged back, a tag of a tag, tags at a tree and a blob, an octopus merge; commits with malformed timezones,
absurd times, non-UTF-8, CRLF and control characters in their messages, commits sharing one second. Each
gives metrics worked out by hand (`dora metrics --format json`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import dora
from tests.support.collect import rows
from tests.support.git_repo import Repo, day, epoch

PERIOD = ("--from", "2026-03-01", "--to", "2026-03-31")


def collect(warehouse: Path, path: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    return dora("-w", str(warehouse), "collect", "git", str(path), "--format", "json", *options, check=check)


def summary(done: subprocess.CompletedProcess) -> dict:
    (line,) = json.loads(done.stdout)
    return line


def metrics(warehouse: Path) -> dict:
    (group,) = json.loads(dora("-w", str(warehouse), "metrics", *PERIOD, "--format", "json").stdout)["groups"]
    return group


@pytest.fixture
def releases(tmp_path: Path) -> Repo:
    """main: A, B, an octopus merge O of B with X1 and Y1, then C; a maintenance branch from A with M1,
    tagged and never merged back. Tags: v1.0 (A), v1.0.1 (M1, annotated), v1.1 (O, annotated), v1.1-final
    (an annotated tag of the tag v1.1), v1.2 (C, lightweight), and v-tree, v-blob, v-blob-note at a tree
    and at blobs."""
    r = Repo(tmp_path / "lib")
    r.a = r.commit("README", "Initial commit", day(1, 9))
    r.git("tag", "-a", "v1.0", "-m", "1.0", when=day(1, 10))
    r.b = r.commit("core.py", "Add core", day(2, 9))
    r.git("checkout", "-q", "-b", "maint-1.0", r.a)
    r.m1 = r.commit("fix.py", "Fix a crash (maintenance only)", day(3, 9))
    r.git("tag", "-a", "v1.0.1", "-m", "1.0.1", when=day(3, 15))
    r.git("checkout", "-q", "-b", "x", r.b)
    r.x1 = r.commit("x.py", "Add x", day(4, 8))
    r.git("checkout", "-q", "-b", "y", r.b)
    r.y1 = r.commit("y.py", "Add y", day(4, 9))
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "--no-edit", "x", "y", when=day(4, 12))
    r.octopus = r.git("rev-parse", "HEAD")
    r.git("tag", "-a", "v1.1", "-m", "1.1", when=day(5, 10))
    r.git("tag", "-a", "v1.1-final", "-m", "1.1 final", "v1.1", when=day(6, 10))  # a tag of a tag
    r.c = r.commit("core.py", "Speed up core", day(7, 9))
    r.git("tag", "v1.2")  # lightweight: the commit's committer date
    r.git("tag", "v-tree", "HEAD^{tree}")
    r.git("tag", "v-blob", "HEAD:README")
    r.git("tag", "-a", "v-blob-note", "-m", "a blob", "HEAD:core.py", when=day(7, 10))
    r.git("branch", "-D", "x", "y")
    return r


def test_every_deployed_commit_and_tag_is_read(releases: Repo, warehouse: Path) -> None:
    done = collect(warehouse, releases.path, "--deploy-tags", "v*")
    line = summary(done)
    assert line["commits"] == 7  # A, B, M1 off main, X1, Y1, O, C
    assert (line["deployments"], line["skipped_tags"]) == (5, 3)
    for tag, kind in (("v-tree", "tree"), ("v-blob", "blob"), ("v-blob-note", "blob")):
        assert f"tag '{tag}' points at a {kind}" in done.stderr
    assert rows(
        warehouse, "select deployment_id, commit_sha, finished_at::varchar from core.deployments order by 3"
    ) == [
        ("git:lib:v1.0", releases.a, "2026-03-01 10:00:00"),  # tagger date
        ("git:lib:v1.0.1", releases.m1, "2026-03-03 15:00:00"),  # on the maintenance branch
        ("git:lib:v1.1", releases.octopus, "2026-03-05 10:00:00"),
        ("git:lib:v1.1-final", releases.octopus, "2026-03-06 10:00:00"),  # peeled through both tags
        ("git:lib:v1.2", releases.c, "2026-03-07 09:00:00"),  # lightweight: the commit's date
    ]
    (octopus,) = rows(warehouse, f"select parents from core.commits where sha = '{releases.octopus}'")
    assert octopus == ([releases.b, releases.x1, releases.y1],)
    got = metrics(warehouse)
    # v1.0 is the baseline; v1.0.1 ships M1 (6 h); v1.1 ships B (73 h), X1 (26 h), Y1 (25 h) and the
    # octopus merge (no PR: not a change); v1.1-final redeploys O (nothing, not a rollback); v1.2 ships
    # C (0 h)
    assert (got["deployments"], got["baseline_deployments"], got["unknown_sha_deployments"]) == (5, 1, 0)
    assert (got["changes"], got["lead_time_excluded"], got["failed_deployments"]) == (5, 0, 0)
    assert got["lead_time_median_hours"] == pytest.approx(25.0)
    assert got["lead_time_p90_hours"] == pytest.approx(26 + 0.6 * (73 - 26))
    assert got["deployment_days"] == 5


def test_narrowing_the_selection_removes_exactly_those_deployments(releases: Repo, warehouse: Path) -> None:
    assert summary(collect(warehouse, releases.path, "--deploy-tags", "*"))["deployments"] == 5
    done = collect(
        warehouse,
        releases.path,
        "--deploy-tags",
        "v*",
        "--exclude-tags",
        "*.*.*",
        "--exclude-tags",
        "*-final",
    )
    assert summary(done)["deployments"] == 3
    assert summary(done)["removed"] == 2
    assert "removed 2 deployments of tags no longer selected" in done.stderr
    assert rows(warehouse, "select deployment_id from core.deployments order by 1") == [
        ("git:lib:v1.0",),
        ("git:lib:v1.1",),
        ("git:lib:v1.2",),
    ]
    got = metrics(warehouse)
    # v1.0 baseline; v1.1 ships B, X1, Y1 (73, 26, 25 h: M1 is not reachable from O); v1.2 ships C (0 h)
    assert (got["deployments"], got["changes"], got["failed_deployments"]) == (3, 4, 0)
    assert got["lead_time_median_hours"] == pytest.approx(25.5)
    # the same selection again removes nothing
    assert (
        summary(
            collect(
                warehouse,
                releases.path,
                "--deploy-tags",
                "v*",
                "--exclude-tags",
                "*.*.*",
                "--exclude-tags",
                "*-final",
            )
        )["removed"]
        == 0
    )


def test_tag_selection_from_dora_toml(releases: Repo, warehouse: Path, tmp_path: Path) -> None:
    toml = tmp_path / "dora.toml"
    toml.write_text(
        f'[git]\npath = "{releases.path}"\ndeploy_tags = ["v1.0*", "v1.2"]\nexclude_tags = "*.1"\n'
    )
    done = dora("-w", str(warehouse), "--config", str(toml), "collect", "git", "--format", "json")
    assert summary(done)["deployments"] == 2
    assert rows(warehouse, "select deployment_id from core.deployments order by 1") == [
        ("git:lib:v1.0",),
        ("git:lib:v1.2",),
    ]


@pytest.fixture
def odd(tmp_path: Path) -> Repo:
    """Commits written as objects: malformed timezones, an absurd time, non-UTF-8, CRLF and control
    characters in messages, two commits in one second; tags t0..t3, t1 with a malformed tagger timezone."""
    r = Repo(tmp_path / "odd")
    r.p0 = r.raw_commit([], b"Initial commit\n", f"{epoch(1, 9)} +0000")
    r.git("tag", "-a", "t0", "-m", "t0", r.p0, when=day(1, 10))
    r.p1 = r.raw_commit([r.p0], b"Bad zone\n", f"{epoch(2, 9)} +051800")  # git fsck: bad timezone
    r.p2 = r.raw_commit([r.p1], b"Worse zone\n", f"{epoch(2, 10)} +9999")
    r.raw_tag("t1", r.p2, "commit", f"{epoch(2, 12)} -2500")
    r.p3 = r.raw_commit([r.p2], b"From the far future\n", "99999999999999 +0000")  # quarantined
    r.merge = r.raw_commit([r.p2, r.p3], b"Merge far future\n", f"{epoch(3, 9)} +0000")
    r.p4 = r.raw_commit(
        [r.merge], b"Caf\xe9 au lait\n", f"{epoch(3, 10)} +0100", headers=b"encoding ISO-8859-1\n"
    )
    r.p4b = r.raw_commit([r.p4], b"Bytes \xff\xfe that are no text\n", f"{epoch(3, 11)} +0000")
    revert = f'Revert "Bad zone"\r\n\r\nThis reverts commit {r.p1}.\r\n'.encode()
    r.p5 = r.raw_commit([r.p4b], revert, f"{epoch(3, 12)} +0000")  # CRLF line ends
    r.git("tag", "-a", "t2", "-m", "t2", r.p5, when=day(3, 18))
    forged = (
        "Innocent\x1e\n"
        f"{'f' * 40}\x1f\x1f2001-01-01T00:00:00+00:00\x1f2001-01-01T00:00:00+00:00\x1fMallory\x1fforged\x1e"
        "\x1f\x07\x1b[31m tail"
    )
    r.p6 = r.raw_commit([r.p5], forged.encode() + b"\n", f"{epoch(3, 13)} +0000")
    r.p7 = r.raw_commit([r.p6], b"Same second, first\n", f"{epoch(4, 9)} +0000")
    r.p8 = r.raw_commit([r.p7], b"Same second, second\n", f"{epoch(4, 9)} +0000")
    r.git("update-ref", "refs/heads/main", r.p8)
    r.git("tag", "-a", "t3", "-m", "t3", r.p8, when=day(4, 12))
    r.forged = forged
    return r


def test_odd_commits_never_stop_a_sync(odd: Repo, warehouse: Path) -> None:
    done = collect(warehouse, odd.path, "--deploy-tags", "t*")
    line = summary(done)
    # every commit but the one from the far future; P1, P2 and the tag t1 have malformed timezones
    assert (line["commits"], line["quarantined"], line["repaired"]) == (10, 1, 3)
    assert f"commits {odd.p3}" in done.stderr and "outside 1970-01-01..2100-01-01" in done.stderr
    assert "3 commits or tags have a malformed timezone" in done.stderr
    times = dict(rows(warehouse, "select sha, authored_at::varchar from core.commits"))
    assert times[odd.p1] == "2026-03-02 09:00:00"  # the exact instant, whatever the zone says
    assert times[odd.p2] == "2026-03-02 10:00:00"
    assert times[odd.p7] == times[odd.p8] == "2026-03-04 09:00:00"
    messages = dict(rows(warehouse, "select sha, message from core.commits"))
    assert messages[odd.p4] == "Café au lait"
    assert messages[odd.p4b] == "Bytes \ufffd\ufffd that are no text"
    assert messages[odd.p5].endswith(f"This reverts commit {odd.p1}.")
    assert messages[odd.p6] == odd.forged  # the separators are text, not fields
    assert rows(
        warehouse, "select count(*) from core.commits where author <> 'Alice' or sha like 'fff%'"
    ) == [(0,)]
    assert rows(warehouse, "select deployment_id, finished_at::varchar from core.deployments order by 2") == [
        ("git:odd:t0", "2026-03-01 10:00:00"),
        ("git:odd:t1", "2026-03-02 12:00:00"),
        ("git:odd:t2", "2026-03-03 18:00:00"),
        ("git:odd:t3", "2026-03-04 12:00:00"),
    ]
    got = metrics(warehouse)
    # t0 baseline; t1 ships P1 (3 h), P2 (2 h); t2 ships the merge (no change; its far-future parent is
    # quarantined), P4 (8 h), P4b (7 h) and P5 (6 h), which reverts P1: t1 failed, t2 unplanned, recovered
    # after 30 h; t3 ships P6 (23 h), P7 and P8 (3 h each, one second apart from nothing)
    assert (got["deployments"], got["baseline_deployments"], got["changes"]) == (4, 1, 8)
    assert got["lead_time_median_hours"] == pytest.approx(4.5)
    assert got["lead_time_p90_hours"] == pytest.approx(8 + 0.3 * 15)
    assert (got["failed_deployments"], got["unplanned_deployments"]) == (1, 1)
    assert got["recovery_time_median_hours"] == pytest.approx(30.0)
    # a second run reads nothing again and repeats nothing
    again = summary(collect(warehouse, odd.path, "--deploy-tags", "t*"))
    assert (again["commits"], again["quarantined"], again["deployments"]) == (0, 0, 4)


def test_a_tag_whose_time_is_absurd_is_quarantined(odd: Repo, warehouse: Path) -> None:
    odd.raw_tag("t9", odd.p8, "commit", "99999999999999 +0000")
    done = collect(warehouse, odd.path, "--deploy-tags", "t9")
    assert summary(done)["deployments"] == 0
    assert summary(done)["quarantined"] == 2  # the tag and the far-future commit
    assert "tags t9 of odd: tagger time 99999999999999" in done.stderr


def test_what_is_not_a_repository_root_is_refused(releases: Repo, warehouse: Path, tmp_path: Path) -> None:
    (releases.path / "docs").mkdir()
    done = collect(warehouse, releases.path / "docs", check=False)
    assert done.returncode == 2
    assert f"is a folder inside the repository {releases.path}: `collect git` reads a whole" in done.stderr
    assert f"give {releases.path} to collect it" in done.stderr
    done = collect(warehouse, releases.path / ".git" / "refs", check=False)
    assert done.returncode == 2
    assert f"is inside the .git folder of {releases.path}: give {releases.path}" in done.stderr
    bare = tmp_path / "lib.git"
    releases.git("clone", "-q", "--bare", str(releases.path), str(bare))
    done = collect(warehouse, bare / "refs", check=False)
    assert done.returncode == 2
    assert f"is a folder inside the bare repository {bare}: give {bare} to collect it" in done.stderr
    # a bare root is fine: main (6 commits), M1 being no deployment of v1.0
    assert summary(collect(warehouse, bare, "--deploy-tags", "v1.0"))["commits"] == 6
    (tmp_path / "plain").mkdir()
    done = collect(warehouse, tmp_path / "plain", check=False)
    assert done.returncode == 2
    assert "plain: not a git repository" in done.stderr


def test_silent_zeros_are_said(releases: Repo, warehouse: Path) -> None:
    done = collect(warehouse, releases.path, "--deploy-tags", "release-*")
    assert summary(done)["deployments"] == 0
    assert "--deploy-tags 'release-*' matches none of the repository's 8 tags" in done.stderr
    done = collect(warehouse, releases.path, "--deploy-tags", "v1.*", "--environment", "staging")
    assert summary(done)["deployments"] == 5
    assert "the 5 deployments went to 'staging', which [metrics] production_environments" in done.stderr
    assert "pass --environment production" in done.stderr
