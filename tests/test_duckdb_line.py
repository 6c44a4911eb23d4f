"""The DuckDB lines the project runs on: 2.x (the embedded default, .venv) and 1.4 LTS (1.4.4, the line of the
DuckLake extension packages: `doralytics[lake]`, .venv-lake). `make test` runs this file under both.

A warehouse file is written in DuckDB 1.4's storage format, so one file works under either install: each
line reads what the other wrote, with the same metrics. A file in 2.x's own format (made by DuckDB 2.x before
this setting) is refused under 1.4 with the way out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
from packaging.requirements import Requirement

from tests.support.cli import EXAMPLES, ROOT, dora

# The virtualenvs `make test` builds, by DuckDB line.
VENVS = {"2": ROOT / ".venv", "1.4": ROOT / ".venv-lake"}
SMALL = EXAMPLES / "small"


def line(version: str) -> str:
    return "1.4" if version.startswith("1.4.") else version.split(".")[0]


def other_python() -> str:
    """The interpreter of the other supported line (built by `make test`)."""
    venv = VENVS["1.4" if line(duckdb.__version__) == "2" else "2"]
    python = venv / "bin" / "python"
    assert python.exists(), f"{python} is missing: `make test` (or `make install install-lake`) builds it"
    return str(python)


def run(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "doralytics", *args], capture_output=True, text=True, cwd=ROOT)


def metrics(python: str, warehouse: Path) -> dict:
    start, end = (SMALL / "period.txt").read_text().split()
    done = run(
        python, "--warehouse", str(warehouse), "metrics", "--from", start, "--to", end, "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def storage_version(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tags = con.execute(
            "select tags from duckdb_databases() where database_name = current_database()"
        ).fetchall()[0][0]
    finally:
        con.close()
    return str(tags["storage_version"])


def test_the_running_duckdb_is_a_supported_tested_line():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (required,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "duckdb"]
    assert required.specifier.contains(duckdb.__version__)
    (lake,) = [
        Requirement(r) for r in project["optional-dependencies"]["lake"] if Requirement(r).name == "duckdb"
    ]
    assert lake.specifier.contains("1.4.4") and not lake.specifier.contains("2.0.1")
    # the README's table of supported versions names the versions the suite runs on
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^#+ Supported DuckDB versions$(.*?)(?=^#+ )", readme, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no 'Supported DuckDB versions' section"
    assert re.search(rf"\b{re.escape(duckdb.__version__)}\b", section.group(1))


def test_a_warehouse_file_is_written_in_the_format_both_lines_read(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    dora("--warehouse", str(warehouse), "import", str(SMALL))
    assert storage_version(warehouse) == "v1.4.0+"
    here = metrics(sys.executable, warehouse)
    assert here["groups"], "the worked example gives metrics"
    # the other line reads the file this one wrote, and gives the same numbers
    assert metrics(other_python(), warehouse) == here
    # ... and writes it (an import of the same bundle again: same rows), keeping the format
    done = run(other_python(), "--warehouse", str(warehouse), "import", str(SMALL))
    assert done.returncode == 0, done.stderr
    assert storage_version(warehouse) == "v1.4.0+"
    assert metrics(sys.executable, warehouse) == here


def test_a_file_in_the_2x_format_is_refused_under_1_4_with_the_way_out(tmp_path):
    python = {line(duckdb.__version__): sys.executable, line_of_other(): other_python()}
    source = tmp_path / "source.duckdb"
    done = run(python["2"], "--warehouse", str(source), "import", str(SMALL))
    assert done.returncode == 0, done.stderr
    # the same warehouse in DuckDB 2.x's own format, as 2.x wrote every file before they were written in 1.4's
    made = tmp_path / "made.duckdb"
    script = (
        "import sys, duckdb; c = duckdb.connect(sys.argv[1]); "
        "c.execute(f\"attach '{sys.argv[2]}' as source (read_only)\"); "
        "c.execute('copy from database source to made'); c.close()"
    )
    done = subprocess.run([python["2"], "-c", script, str(made), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert storage_version_by(python["2"], made) == "v2.0.0+"
    want = metrics(python["2"], made)  # 2.x reads it as before

    start, end = (SMALL / "period.txt").read_text().split()
    refused = run(python["1.4"], "--warehouse", str(made), "metrics", "--from", start, "--to", end)
    assert refused.returncode == 2
    assert "newer DuckDB format" in refused.stderr and "dora warehouse copy" in refused.stderr
    assert "Traceback" not in refused.stderr
    refused = run(python["1.4"], "--warehouse", str(made), "import", str(SMALL))
    assert refused.returncode != 0 and "newer DuckDB format" in refused.stderr
    assert "Traceback" not in refused.stderr

    # the way out: a copy made under 2.x is in the format both read
    both = tmp_path / "both.duckdb"
    done = run(python["2"], "warehouse", "copy", str(made), str(both))
    assert done.returncode == 0, done.stderr
    assert metrics(python["1.4"], both) == want


def line_of_other() -> str:
    return "1.4" if line(duckdb.__version__) == "2" else "2"


def storage_version_by(python: str, path: Path) -> str:
    """The storage format of a file, as the DuckDB of `python` names it (1.4 cannot open a 2.x file)."""
    script = (
        "import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.execute('select tags from duckdb_databases() where database_name = current_database()')"
        ".fetchall()[0][0]['storage_version'])"
    )
    done = subprocess.run([python, "-c", script, str(path)], capture_output=True, text=True, check=True)
    return done.stdout.strip()
