"""The notebooks run top to bottom on the demo warehouse (nbclient, a real kernel), so they cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.support.reports import demo_warehouse

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def kernel(warehouse, tmp_path_factory):
    """One kernel for all the notebooks (starting one and importing pandas costs seconds each time);
    its namespace is reset before each notebook, so none can lean on another's variables."""
    manager = KernelManager(kernel_name="python3")
    env = {"DORA_WAREHOUSE": str(warehouse), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    manager.start_kernel(env={**os.environ, **env}, cwd=str(tmp_path_factory.mktemp("notebooks")))
    yield manager
    manager.shutdown_kernel(now=True)


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"lead_time_stages", "failures_and_incidents", "sql_walkthrough"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo_warehouse(path, warehouse, kernel):
    before = warehouse.stat().st_mtime_ns
    book = nbformat.read(path, as_version=4)
    book.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    NotebookClient(book, km=kernel, timeout=120).execute()
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) or "text/html" in o.get("data", {}) for o in outputs)
    assert warehouse.stat().st_mtime_ns == before  # read-only: the file was not touched
