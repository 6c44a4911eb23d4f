"""The lake against the file: `python -m benchmarks.lake [--scale S] [--runs N]`, under the DuckDB 1.4
virtualenv with the lake extras (`make bench` runs it with .venv-lake).

In a temporary folder it generates the scale organisation (benchmarks/generate.py; scale 1.0 = 200 services,
2M commits over a year; the default here is a modest 0.02), writes it out as a CSV bundle (`dora export
bundle`), starts a PostgreSQL server of its own (tests/support/postgres.py: unix socket only, stopped at the
end) and then times, with the real `dora` command line, each command in its own process:

- `dora import BUNDLE` (the load and the full transform it runs) into a new file and into a new lake;
- `dora metrics --group-by service|team|org --format json` for the last 90 days on each, `--runs` times
  (median), as a whole command, and the query alone in one process (warehouse.metrics.compute on an open
  connection, median of `--runs`), which leaves out Python's start and the lake's attach.

Prints the figures side by side with the ratio lake/file (target: the lake within 2x of the file for the
metrics queries), and checks that both warehouses give the same metrics JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate import DEFAULT_END, generate
from tests.support.postgres import running_server
from warehouse import db, lake
from warehouse.address import DATA_PATH_ENV, parse
from warehouse.metrics import Scope, compute

DEFAULT_SCALE = 0.02
DEFAULT_RUNS = 5
PERIOD_DAYS = 90
METRICS_TARGET_RATIO = 2.0
GROUPINGS = ("service", "team", "org")


def dora(*args: str, env: dict[str, str]) -> tuple[float, str]:
    """Run the real `dora` in its own process; returns its wall time and stdout."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "doralytics", *args], capture_output=True, text=True, env=env, check=False
    )
    took = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(f"dora {' '.join(args[:3])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took, done.stdout


def period() -> tuple[str, str]:
    last = DEFAULT_END.date() - dt.timedelta(days=1)
    return str(last - dt.timedelta(days=PERIOD_DAYS - 1)), str(last)


def metrics_args(group_by: str) -> list[str]:
    start, end = period()
    return ["metrics", "--from", start, "--to", end, "--group-by", group_by, "--format", "json"]


def query_seconds(address: str, group_by: str, runs: int, env: dict[str, str]) -> float:
    """The median time of the metrics query alone, on a connection already open."""
    start, end = period()
    scope = Scope(dt.date.fromisoformat(start), dt.date.fromisoformat(end), group_by)
    times = []
    with db.read(parse(address, env.get(DATA_PATH_ENV))) as con:
        compute(con, scope)  # warm: the first query loads what it reads
        for _ in range(runs):
            began = time.perf_counter()
            compute(con, scope)
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(address: str, bundle: Path, runs: int, env: dict[str, str]) -> dict[str, float | str]:
    """Import (with its transform), then the metrics commands and queries, on one warehouse."""
    found: dict[str, float | str] = {}
    found["import"], _ = dora("--warehouse", address, "import", str(bundle), env=env)
    for group_by in GROUPINGS:
        times, answers = [], set()
        for _ in range(runs):
            took, out = dora("--warehouse", address, *metrics_args(group_by), env=env)
            times.append(took)
            answers.add(out)
        if len(answers) != 1:
            raise SystemExit(
                f"{address}: `dora metrics --group-by {group_by}` answered differently across runs"
            )
        found[f"metrics {group_by}"] = statistics.median(times)
        found[f"answer {group_by}"] = answers.pop()
        found[f"query {group_by}"] = query_seconds(address, group_by, runs, env)
    return found


def bench(scale: float, runs: int, work: Path) -> int:
    try:
        lake.extension_directory()
    except db.WarehouseError as exc:
        print(f"the lake benchmark needs the lake extras: {exc}", file=sys.stderr)
        return 2
    generated, bundle = work / "generated.duckdb", work / "bundle"
    began = time.perf_counter()
    counts = generate(generated, scale=scale)
    print(f"scale {scale}: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()), flush=True)
    print(
        f"generated in {time.perf_counter() - began:.1f} s; metrics period {' to '.join(period())}",
        flush=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DORA_WAREHOUSE", "DORA_PROFILE")}
    dora("--warehouse", str(generated), "export", "bundle", str(bundle), env=env)

    results: dict[str, dict[str, float | str]] = {}
    results["file"] = measure(str(work / "file.duckdb"), bundle, runs, env)
    with running_server() as server:
        spot = server.lake(work / "lake-data")
        results["lake"] = measure(spot.address, bundle, runs, spot.env(**env))
        lake.forget_readers()

    file, lake_ = results["file"], results["lake"]
    rows = [("dora import (load + full transform)", "import")]
    rows += [
        (f"dora metrics --group-by {g}, whole command (median of {runs})", f"metrics {g}") for g in GROUPINGS
    ]
    rows += [(f"metrics query alone, --group-by {g} (median of {runs})", f"query {g}") for g in GROUPINGS]
    print(f"\n{'step':<60} {'file':>9} {'lake':>9} {'lake/file':>9}")
    worst = 0.0
    for label, key in rows:
        f, k = float(file[key]), float(lake_[key])
        ratio = k / f if f else float("inf")
        if key.startswith("metrics"):
            worst = max(worst, ratio)
        print(f"{label:<60} {f:>8.2f}s {k:>8.2f}s {ratio:>8.2f}x")
    same = all(
        json.loads(str(file[f"answer {g}"]))["groups"] == json.loads(str(lake_[f"answer {g}"]))["groups"]
        for g in GROUPINGS
    )
    print(f"\nsame metrics JSON on both: {'yes' if same else 'NO'}")
    verdict = "met" if worst <= METRICS_TARGET_RATIO else "NOT met"
    target = f"`dora metrics` on the lake within {METRICS_TARGET_RATIO:.0f}x of the file"
    print(f"target: {target}: {verdict} (worst {worst:.2f}x)")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description="The lake against the file: import and metrics times.")
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE, help=f"default {DEFAULT_SCALE}")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs per metrics timing (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dora-lake-bench-") as work:
        return bench(args.scale, args.runs, Path(work))


if __name__ == "__main__":
    sys.exit(main())
