"""What `dora` imports: a command loads what it runs, not every part of the product. Start-up is most of a
small command's time (`dora transform` after one more day: issue 11), and a module-level import added
anywhere on the way (a collector's settings in dora.toml's composition, say) would slow every command
without failing anything else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.builder import Bundle, at, load_bundle, sha
from tests.support.cli import ROOT
from warehouse import load

# Never needed to start the command line: the collectors', reports' and dashboard's code (their dora.toml
# sections are checked only when the file has them), dataframes, the dashboard's stack, progress bars.
NOT_AT_START = (
    "collectors",
    "reports",
    "dashboard",
    "pandas",
    "pyarrow",
    "numpy",
    "streamlit",
    "plotly",
    "duckdb",
    "rich.progress",
    "rich.table",
)
# Not needed by `dora transform` either: it needs DuckDB, and numpy only to place a whole repository
# (a full rebuild, a new repository), never for a day's new commits.
NOT_IN_TRANSFORM = tuple(m for m in NOT_AT_START if m != "duckdb")


def loaded(code: str, cwd: Path) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (whatever way it exits)."""
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(sys.modules))))\n" + code
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("MODULES ")), None)
    assert line is not None, done.stderr
    return set(json.loads(line.removeprefix("MODULES ")))


def among(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_command_line_starts_without_the_parts_it_does_not_run(tmp_path: Path) -> None:
    assert among(loaded("import doralytics.cli", tmp_path), NOT_AT_START) == []


def test_a_transform_loads_only_the_warehouse(tmp_path: Path) -> None:
    code = (
        f"sys.argv = ['dora', '--warehouse', {str(tmp_path / 'w.duckdb')!r}, 'transform']\n"
        "from doralytics.cli import main\n"
        "main()\n"
    )
    modules = loaded(code, tmp_path)
    assert "warehouse.transform" in modules  # it did run
    # what DuckDB's own client loads is not ours to spare (the 1.4 line imports pandas for parameters)
    duckdb_own = loaded("import duckdb\nduckdb.connect().execute('select ?', [1]).fetchall()\n", tmp_path)
    assert among(modules - duckdb_own, NOT_IN_TRANSFORM) == []


def test_a_day_after_transform_places_the_new_commits_without_numpy(tmp_path: Path) -> None:
    first = Bundle()
    first.chain("c0", "c1", when=at(1))
    first.deploy("D1", "c1", at(2))
    result = load_bundle(first, tmp_path)
    warehouse = result.path
    day = Bundle()
    day.chain("c2", "c3", start="c1", when=at(3))
    day.deploy("D2", "c3", at(4))
    load.import_into(warehouse, day.write(tmp_path / "day"))  # loaded, not transformed
    code = (
        f"sys.argv = ['dora', '--warehouse', {str(warehouse)!r}, 'transform']\n"
        "from doralytics.cli import main\n"
        "main()\n"
    )
    modules = loaded(code, tmp_path)
    duckdb_own = loaded("import duckdb\nduckdb.connect().execute('select ?', [1]).fetchall()\n", tmp_path)
    assert among(modules - duckdb_own, ("numpy", "pandas", "pyarrow")) == []
    # and it did walk the new day: D2 shipped the two new commits
    assert result.shipped()["D2"] == {sha("c2"), sha("c3")}


def test_a_section_s_owner_is_loaded_when_the_file_has_it(tmp_path: Path) -> None:
    (tmp_path / "dora.toml").write_text('[metrics]\nhotfix_labels = ["hotfix"]\n[git]\nservice = "x"\n')
    modules = loaded("from doralytics import config\nconfig.load()\n", tmp_path)
    assert "collectors.git.settings" in modules
    assert among(modules, ("collectors.github", "collectors.gitlab", "reports", "dashboard")) == []
