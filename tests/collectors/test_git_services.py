"""One repository deployed as three services, each with its own release tags and files ([[git.services]]):
`dora collect git` gives the metrics of the same data written as a bundle and imported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from collectors.git.repo import changed_files
from tests.support.cli import differences, dora
from tests.support.collect import rows
from tests.support.git_repo import Repo, day

TOML = """
[git]
path = "{path}"
team = "platform"

[[git.services]]
name = "api"
tags = ["api-v*"]
paths = ["services/api/*", "libs/*"]

[[git.services]]
name = "web"
team = "frontend"
tags = "web-v*"
exclude_tags = ["*-rc*"]
paths = ["services/web/*"]

[[git.services]]
name = "ops"
tags = ["ops-*"]
"""


class Mono:
    """The repository, and everything the test wrote into it (the bundle is made from this, not from git)."""

    def __init__(self, path: Path) -> None:
        self.repo = Repo(path)
        self.commits: list[dict] = []  # sha, parents, when, files
        self.tags: list[tuple[str, str, str]] = []  # name, sha, when

    def commit(self, files: list[str], message: str, when: str) -> str:
        for name in files[1:]:
            file = self.repo.path / name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(message + "\n")
            self.repo.git("add", name)
        parent = self.repo.git("rev-parse", "--verify", "-q", "HEAD") if self.commits else ""
        sha = self.repo.commit(files[0], message, when)
        self.commits.append({"sha": sha, "parents": [parent] if parent else [], "when": when, "files": files})
        return sha

    def tag(self, name: str, sha: str, when: str) -> None:
        self.repo.git("tag", "-a", name, "-m", name, sha, when=when)
        self.tags.append((name, sha, when))


@pytest.fixture
def mono(tmp_path: Path) -> Mono:
    m = Mono(tmp_path / "mono")
    m.commit(["services/api/app.py"], "api: start", day(1, 9))
    m.commit(["services/web/index.html"], "web: start", day(1, 10))
    c3 = m.commit(["docs/README.md"], "docs: readme", day(1, 11))
    for name in ("api-v1", "web-v1", "ops-1"):
        m.tag(name, c3, day(1, 12))
    c4 = m.commit(["libs/core/util.py"], "core: util", day(2, 9))
    m.commit(["services/web/app.js", "services/api/client.py"], "web and api: client", day(2, 10))
    c6 = m.commit(["docs/guide.md"], "docs: guide", day(2, 11))
    m.tag("api-v2", c6, day(2, 18))
    m.tag("web-v2-rc1", c6, day(2, 18))  # excluded from web's tags
    m.repo.git("checkout", "-q", "-b", "page")
    page = m.repo.commit("services/web/page.html", "web: page", day(2, 12))
    m.commits.append({"sha": page, "parents": [c6], "when": day(2, 12), "files": ["services/web/page.html"]})
    m.repo.git("checkout", "-q", "main")
    m.repo.git("merge", "-q", "--no-ff", "--no-edit", "page", when=day(2, 13))
    merge = m.repo.git("rev-parse", "HEAD")
    m.commits.append({"sha": merge, "parents": [c6, page], "when": day(2, 13), "files": []})
    m.tag("web-v2", merge, day(2, 20))
    m.repo.git("revert", "--no-edit", c4, when=day(3, 9))
    revert = m.repo.git("rev-parse", "HEAD")
    m.commits.append({"sha": revert, "parents": [merge], "when": day(3, 9), "files": ["libs/core/util.py"]})
    m.tag("api-v3", revert, day(3, 12))
    m.tag("ops-2", revert, day(3, 12))
    return m


def write_bundle(m: Mono, folder: Path) -> None:
    """The same data as a bundle, written from what the test put in the repository."""
    folder.mkdir()
    messages = {}
    for record in m.repo.git("log", "-z", "--format=%H%n%B").split("\0"):
        sha, _, body = record.partition("\n")
        messages[sha] = body.rstrip("\n")

    def write(name: str, header: list[str], lines: list[list[str]]) -> None:
        with (folder / name).open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(header)
            out.writerows(lines)

    write(
        "services.csv",
        ["service", "repo", "team", "paths"],
        [
            ["api", "mono", "platform", "services/api/*;libs/*"],
            ["web", "mono", "frontend", "services/web/*"],
            ["ops", "mono", "platform", ""],
        ],
    )
    write(
        "commits.csv",
        ["repo", "sha", "parents", "authored_at", "committed_at", "author", "message"],
        [
            ["mono", c["sha"], " ".join(c["parents"]), c["when"], c["when"], "Alice", messages[c["sha"]]]
            for c in m.commits
        ],
    )
    write(
        "commit_files.csv",
        ["repo", "sha", "path"],
        [["mono", c["sha"], f] for c in m.commits for f in c["files"]],
    )
    write(
        "deployments.csv",
        ["deployment_id", "service", "environment", "commit_sha", "started_at", "finished_at", "status"],
        [
            [
                f"git:mono:{name.split('-')[0]}:{name}",
                name.split("-")[0],
                "production",
                sha,
                when,
                when,
                "success",
            ]
            for name, sha, when in m.tags
            if "-rc" not in name
        ],
    )


def metrics(warehouse: Path, group_by: str) -> dict:
    out = dora(
        "-w",
        str(warehouse),
        "metrics",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--group-by",
        group_by,
        "--format",
        "json",
    )
    return json.loads(out.stdout)


def test_three_services_equal_the_same_data_imported(mono: Mono, tmp_path: Path) -> None:
    toml = tmp_path / "dora.toml"
    toml.write_text(TOML.format(path=mono.repo.path))
    collected = tmp_path / "collected.duckdb"
    done = dora("-w", str(collected), "--config", str(toml), "collect", "git", "--format", "json")
    (line,) = json.loads(done.stdout)
    assert (line["service"], line["commits"], line["deployments"]) == ("api,web,ops", 9, 7)
    assert line["files"] == 9  # the merge has no file list
    assert rows(collected, "select service, team, paths from core.services order by 1") == [
        ("api", "platform", ["services/api/*", "libs/*"]),
        ("ops", "platform", []),
        ("web", "frontend", ["services/web/*"]),
    ]
    bundle = tmp_path / "bundle"
    write_bundle(mono, bundle)
    imported = tmp_path / "imported.duckdb"
    dora("-w", str(imported), "import", str(bundle))
    for group_by in ("service", "team", "org"):
        got, want = metrics(collected, group_by), metrics(imported, group_by)
        assert [g["group"] for g in got["groups"]] == [g["group"] for g in want["groups"]]
        assert differences(want, got) == [], group_by
    by_service = {g["group"]: g for g in metrics(collected, "service")["groups"]}
    # api: its baseline, then api-v2 ships the util (core) and the client, api-v3 the revert of the util
    # (the docs and the web page are not its files); web: web-v2 ships the client and the page (the
    # release candidate is not its tag); ops sees every commit
    assert {s: by_service[s]["changes"] for s in by_service} == {"api": 3, "web": 2, "ops": 5}
    assert by_service["api"]["failed_deployments"] == 1  # the revert of a commit api-v2 shipped
    assert by_service["ops"]["failed_deployments"] == 0  # ops-2 ships the util and its revert together


def test_changed_files_from_git_itself(mono: Mono) -> None:
    by_sha = {c["sha"]: c for c in mono.commits}
    files = changed_files(mono.repo.path, list(by_sha))
    merges = [sha for sha, c in by_sha.items() if len(c["parents"]) > 1]
    assert files == {sha: sorted(c["files"]) for sha, c in by_sha.items() if sha not in merges}


def test_file_lists_only_for_path_filtered_services_and_read_back_when_paths_appear(
    mono: Mono, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    toml = tmp_path / "dora.toml"
    toml.write_text(f'[git]\npath = "{mono.repo.path}"\n\n[[git.services]]\nname = "api"\ntags = "api-v*"\n')
    (line,) = json.loads(
        dora("-w", str(warehouse), "--config", str(toml), "collect", "git", "--format", "json").stdout
    )
    assert (line["commits"], line["files"]) == (9, 0)  # no service has paths: no file lists
    toml.write_text(TOML.format(path=mono.repo.path))
    (line,) = json.loads(
        dora("-w", str(warehouse), "--config", str(toml), "collect", "git", "--format", "json").stdout
    )
    assert (line["commits"], line["files"]) == (
        9,
        9,
    )  # paths now: the history is read again, with files
    assert rows(warehouse, "select count(*) from core.commit_files") == [(9,)]
    (line,) = json.loads(
        dora("-w", str(warehouse), "--config", str(toml), "collect", "git", "--format", "json").stdout
    )
    assert (line["commits"], line["files"]) == (0, 0)
