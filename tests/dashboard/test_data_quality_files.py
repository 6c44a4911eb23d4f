"""The data-quality page counts the commits without file data in the repositories that have a
path-filtered service (issue 11, dashboard): a commit without files counts as a change of none of them."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import dora
from tests.support.dashboard import app

SHAS = {name: (name * 40)[:40] for name in "abcdef"}
SERVICES = (
    "service,repo,team,paths\n"
    "web,acme/shop,web,web/*\n"
    "api,acme/shop,core,api/*\n"
    "shop,acme/shop,core,\n"
    "solo,acme/solo,core,\n"
)
COMMITS = (
    "repo,sha,parents,authored_at,committed_at,author,message\n"
    f"acme/shop,{SHAS['a']},,2026-03-01T09:00:00Z,2026-03-01T09:00:00Z,ana,init\n"
    f"acme/shop,{SHAS['b']},{SHAS['a']},2026-03-02T09:00:00Z,2026-03-02T09:00:00Z,ben,web change\n"
    f"acme/shop,{SHAS['c']},{SHAS['b']},2026-03-03T09:00:00Z,2026-03-03T09:00:00Z,cy,no file data\n"
    f"acme/shop,{SHAS['d']},{SHAS['b']},2026-03-03T10:00:00Z,2026-03-03T10:00:00Z,cy,also none\n"
    f"acme/shop,{SHAS['e']},{SHAS['c']} {SHAS['d']},2026-03-04T09:00:00Z,2026-03-04T09:00:00Z,cy,merge\n"
    f"acme/solo,{SHAS['f']},,2026-03-04T09:00:00Z,2026-03-04T09:00:00Z,dan,solo has no files at all\n"
)
FILES = f"repo,sha,path\nacme/shop,{SHAS['a']},README.md\nacme/shop,{SHAS['b']},web/app.js\n"
DEPLOYMENTS = (
    "deployment_id,service,environment,commit_sha,started_at,finished_at,status\n"
    f"W1,web,production,{SHAS['e']},,2026-03-05T10:00:00Z,success\n"
    f"A1,api,production,{SHAS['e']},,2026-03-05T10:00:00Z,success\n"
    f"S1,solo,production,{SHAS['f']},,2026-03-05T10:00:00Z,success\n"
)


def warehouse_with_files(tmp: Path) -> Path:
    bundle = tmp / "bundle"
    bundle.mkdir()
    for name, text in (
        ("services", SERVICES),
        ("commits", COMMITS),
        ("commit_files", FILES),
        ("deployments", DEPLOYMENTS),
    ):
        (bundle / f"{name}.csv").write_text(text)
    path = tmp / "w.duckdb"
    dora("--warehouse", str(path), "import", str(bundle))
    return path


def test_commits_without_file_data_are_counted_per_repository(tmp_path, monkeypatch):
    path = warehouse_with_files(tmp_path)
    at = app(path, monkeypatch).run()
    at.switch_page("views/data_quality.py").run()
    assert not at.exception, [e.message for e in at.exception]
    tiles = {m.label: m.value for m in at.metric}
    # acme/shop: 4 commits that are not merges, 2 of them without files; acme/solo has no path-filtered
    # service, so its commit without files is not counted
    assert tiles["Commits without file data"] == "2"
    captions = " | ".join(c.value for c in at.caption)
    assert "of 4 commits committed in the period, merges aside, in 1 repository" in captions
    table = next(d.value for d in at.dataframe if "Without file data" in d.value.columns)
    assert table.to_dict("records") == [
        {
            "Repository": "acme/shop",
            "Path-filtered services": 2,
            "Commits in the period": 4,
            "Without file data": 2,
        }
    ]


def test_no_count_when_the_services_shown_have_no_paths(tmp_path, monkeypatch):
    path = warehouse_with_files(tmp_path)
    at = app(path, monkeypatch, {"service": ["solo", "shop"]}).run()
    at.switch_page("views/data_quality.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Commits without file data" not in {m.label for m in at.metric}
    at = app(path, monkeypatch, {"service": ["api"]}).run()
    at.switch_page("views/data_quality.py").run()
    assert {m.label: m.value for m in at.metric}["Commits without file data"] == "2"
