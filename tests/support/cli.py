"""The real `dora` command line run in a subprocess, and the comparison of its metrics JSON with an
expected one."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = FIXTURES / "examples"


def dora(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `dora` command line in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "doralytics", *args], capture_output=True, text=True, cwd=cwd
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dora {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def differences(want: dict, got: dict) -> list[str]:
    """Fields of the expected metrics JSON that the output does not match (numbers within 1e-6)."""
    bad = []
    by_group = {g["group"]: g for g in got["groups"]}
    for expected in want["groups"]:
        actual = by_group.get(expected["group"])
        if actual is None:
            bad.append(f"{expected['group']}: missing")
            continue
        for key, value in expected.items():
            pairs = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, v in pairs:
                o = actual.get(key)
                o = o.get(sub) if sub and isinstance(o, dict) else o
                same = (
                    (v is None and o is None)
                    or (
                        isinstance(v, int | float)
                        and isinstance(o, int | float)
                        and not isinstance(o, bool)
                        and math.isclose(v, o, rel_tol=1e-6, abs_tol=1e-6)
                    )
                    or v == o
                )
                if not same:
                    bad.append(f"{expected['group']}/{key}{'.' + sub if sub else ''}: want {v!r} got {o!r}")
    return bad


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
