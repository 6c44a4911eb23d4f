"""services.paths and commit_files.csv in a bundle (BUNDLE.md "Monorepos"): loaded, validated like every
file (file:line:column, exit code 2, nothing loaded), exported by `dora export bundle`, round-tripping."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import dora
from warehouse import db

A = "1197955e4244c18bdb9b375076bcb6ca05414672"
B = "2f22765d04931a078909145ca628d2264c852d7d"
C = "6b1f53303a732ccc8c6aae6640399827c15250e3"
SERVICES = (
    "service,repo,team,paths\nweb,acme/shop,web,web/*\napi,acme/shop,core,api/*;libs/*\nall,acme/shop,core,\n"
)
COMMITS = (
    "repo,sha,parents,authored_at,committed_at,author,message\n"
    f"acme/shop,{A},,2026-03-01T09:00:00Z,2026-03-01T09:00:00Z,ana,init\n"
    f"acme/shop,{B},{A},2026-03-02T09:00:00Z,2026-03-02T09:00:00Z,ben,web\n"
    f"acme/shop,{C},{B},2026-03-03T09:00:00Z,2026-03-03T09:00:00Z,cy,api\n"
)
FILES = (
    "repo,sha,path\n"
    f"acme/shop,{A},README.md\n"
    f"acme/shop,{A},web/app.js\n"
    f"acme/shop,{B},web/app.js\n"
    f"acme/shop,{C},api/server.py\n"
    f"acme/shop,{C},libs/util.py\n"
)


def write_bundle(folder: Path, files: str = FILES, services: str = SERVICES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "services.csv").write_text(services)
    (folder / "commits.csv").write_text(COMMITS)
    (folder / "commit_files.csv").write_text(files)
    return folder


def core(path: Path) -> dict[str, list]:
    with db.read(path) as con:
        return {
            t: con.execute(f"select * exclude (_load_id) from core.{t} order by all").fetchall()
            for t in ("services", "commits", "commit_files")
        }


def test_paths_and_commit_files_load_export_and_round_trip(tmp_path, warehouse):
    dora("--warehouse", str(warehouse), "import", str(write_bundle(tmp_path / "b")))
    loaded = core(warehouse)
    assert loaded["services"] == [
        ("all", "acme/shop", "core", []),
        ("api", "acme/shop", "core", ["api/*", "libs/*"]),
        ("web", "acme/shop", "web", ["web/*"]),
    ]
    assert (("acme/shop", C, "libs/util.py")) in loaded["commit_files"] and len(loaded["commit_files"]) == 5
    out = tmp_path / "out"
    dora("--warehouse", str(warehouse), "export", "bundle", str(out))
    header, *rows = (out / "commit_files.csv").read_text().splitlines()
    assert header == "repo,sha,path" and f"acme/shop,{C},api/server.py" in rows
    assert "api,acme/shop,core,api/*;libs/*" in (out / "services.csv").read_text()
    copy = tmp_path / "copy.duckdb"
    dora("--warehouse", str(copy), "import", str(out))
    assert core(copy) == loaded
    # importing it again changes nothing
    dora("--warehouse", str(copy), "import", str(out))
    assert core(copy) == loaded


def test_a_services_file_without_paths_means_every_commit(tmp_path, warehouse):
    bundle = write_bundle(tmp_path / "b", services="service,repo,team\nall,acme/shop,core\n")
    dora("--warehouse", str(warehouse), "import", str(bundle))
    assert core(warehouse)["services"] == [("all", "acme/shop", "core", [])]


def test_files_of_a_commit_absent_from_commits_are_kept_as_data_quality(tmp_path, warehouse):
    """BUNDLE.md: references to absent rows are data quality, not errors; the rows wait for their commit."""
    unknown = "abcdef1234567"
    bundle = write_bundle(tmp_path / "b", files=FILES + f"acme/shop,{unknown},web/late.js\n")
    dora("--warehouse", str(warehouse), "import", str(bundle))
    assert ("acme/shop", unknown, "web/late.js") in core(warehouse)["commit_files"]


ERRORS = [
    # (file content replacing commit_files.csv or services.csv, expected location, words)
    ("commit_files.csv", "repo,sha\n" + f"acme/shop,{A}\n", "commit_files.csv:1:path", "missing column"),
    ("commit_files.csv", FILES + f"acme/shop,{A},\n", "commit_files.csv:7:path", "empty required cell"),
    ("commit_files.csv", FILES + f",{A},x.py\n", "commit_files.csv:7:repo", "empty required cell"),
    ("commit_files.csv", FILES + "acme/shop,,x.py\n", "commit_files.csv:7:sha", "empty required cell"),
    ("commit_files.csv", FILES + "acme/shop,xyz1234,x.py\n", "commit_files.csv:7:sha", "malformed sha"),
    (
        "commit_files.csv",
        FILES + f"acme/shop,{B.upper()},web/app.js\n",
        "commit_files.csv:7:repo",
        "duplicate key (acme/shop, " + B + ", web/app.js) already on line 4",
    ),
    ("commit_files.csv", FILES + f"acme/shop,{A},/web/x.js\n", "commit_files.csv:7:path", "relative"),
    ("commit_files.csv", FILES + f"acme/shop,{A},web/../x.js\n", "commit_files.csv:7:path", "'..'"),
    ("commit_files.csv", FILES + f"acme/shop,{A},./x.js\n", "commit_files.csv:7:path", "'.'"),
    ("commit_files.csv", FILES + f"acme/shop,{A},web//x.js\n", "commit_files.csv:7:path", "empty"),
    ("commit_files.csv", FILES + f"acme/shop,{A},web/\n", "commit_files.csv:7:path", "empty"),
    (
        "services.csv",
        SERVICES + "docs,acme/shop,core,/docs/*\n",
        "services.csv:5:paths",
        "relative to the repository root",
    ),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Path:
    """A warehouse holding the good bundle, imported once: each case works on a copy."""
    tmp = tmp_path_factory.mktemp("loaded")
    path = tmp / "w.duckdb"
    dora("--warehouse", str(path), "import", str(write_bundle(tmp / "good")))
    return path


@pytest.mark.parametrize(("file", "text", "where", "words"), ERRORS, ids=[e[2] + " " + e[3] for e in ERRORS])
def test_a_bad_monorepo_file_is_refused_with_its_location_and_loads_nothing(
    tmp_path, warehouse, loaded, file, text, where, words
):
    shutil.copy(loaded, warehouse)
    before = core(warehouse)
    bundle = write_bundle(tmp_path / "bad", services=SERVICES.replace("web,acme/shop,web", "web,acme/shop,x"))
    (bundle / file).write_text(text)
    result = dora("--warehouse", str(warehouse), "import", str(bundle), check=False)
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert where in message and words in message, message
    assert core(warehouse) == before


def test_paths_git_could_hold_are_accepted(tmp_path, warehouse):
    """A path is refused only in the forms git itself never records; anything else round-trips."""
    odd = ["a b/c.py", " lead.txt", "back\\slash.txt", "C:/dir/x", 'quote"d,comma.txt', "line\nbreak.txt"]
    rows = "".join(f'acme/shop,{A},"{p.replace(chr(34), chr(34) * 2)}"\n' for p in odd)
    dora("--warehouse", str(warehouse), "import", str(write_bundle(tmp_path / "b", files=FILES + rows)))
    paths = {row[2] for row in core(warehouse)["commit_files"]}
    assert set(odd) <= paths
