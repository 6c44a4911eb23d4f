"""The shape of the code: layers point down, no import cycles, no private names across modules, every
module importable first, every module under 500 lines.

Layers, top to bottom: the command line and the composition of dora.toml (doralytics/); the dashboard and
the reports; the collectors; the warehouse. Imports inside functions count as imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("doralytics", "dashboard", "reports", "collectors", "warehouse")
# What each package may not import. The dashboard's pages are scripts Streamlit runs (st.navigation), not
# modules to import; `python -m doralytics` is the command itself.
FORBIDDEN = {
    "collectors": {"doralytics", "dashboard", "reports"},
    "warehouse": {"doralytics", "collectors", "dashboard", "reports"},
    "dashboard": {"doralytics", "collectors", "reports"},
    "reports": {"doralytics", "collectors", "dashboard"},
}
SCRIPTS = {"doralytics.__main__", "dashboard.app"}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of the file, lazy ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import module` imports the module; `from module import name` the module
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}", [], node.lineno
                else:
                    yield base, [alias.name], node.lineno


def project_imports(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    for target, names, line in imports(name, path):
        if target.split(".")[0] in PACKAGES:
            yield target, names, line


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _, _ in project_imports(name, path):
            if target in MODULES and target != name:
                edges[name].add(target)
    return edges


def test_layers_point_down() -> None:
    wrong = []
    for name, path in MODULES.items():
        forbidden = FORBIDDEN.get(name.split(".")[0], set())
        for target, _, line in project_imports(name, path):
            if target.split(".")[0] in forbidden:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_no_import_cycles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_private_names_across_modules() -> None:
    wrong = []
    for name, path in MODULES.items():
        aliases: dict[str, str] = {}
        for target, names, line in project_imports(name, path):
            wrong += [f"{path.relative_to(ROOT)}:{line} imports {target}.{n}" for n in names if _private(n)]
            if not names:
                aliases[target.rpartition(".")[2]] = target
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                wrong.append(
                    f"{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}"
                )
    assert wrong == []


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_modules_are_small() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in MODULES.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _import_alone(name: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return name, done.stderr.strip().splitlines()[-1] if done.returncode else ""


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_first(package: str) -> None:
    names = [
        n
        for n in MODULES
        if n.split(".")[0] == package and n not in SCRIPTS and not n.startswith("dashboard.views")
    ]
    with ThreadPoolExecutor(4) as pool:
        failed = {name: error for name, error in pool.map(_import_alone, names) if error}
    assert failed == {}


def test_the_checks_see_what_they_check(tmp_path: Path) -> None:
    """The walker finds lazy imports, `from package import module` and relative imports."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from warehouse import db\n"
        "def f():\n"
        "    from collectors.base import _hidden\n"
        "    import dashboard.ui\n"
    )
    found = {(t, tuple(n)) for t, n, _ in imports("collectors.probe", source)}
    assert ("warehouse.db", ()) in found
    assert ("collectors.base", ("_hidden",)) in found
    assert ("dashboard.ui", ()) in found
