"""The scale benchmark: `python -m benchmarks.run [--scale S | --quick] [--import-runs N] [--out DIR]`

In a temporary folder it generates an organisation (benchmarks/generate.py; scale 1.0 = 200 services,
2M commits, 400k PRs, 300k deployments, 20k incidents over a year), then times the real `dora` command
line, each command in its own process, the way a user runs it:

- `dora transform` on the whole history;
- `dora metrics --group-by service|team|org --format json` for the last 90 days, 3 runs each (median);
- one more day of data upserted, then `dora transform` again (the incremental case);
- `dora export bundle`, then `dora import` of that bundle into a fresh warehouse, against DuckDB's own
  load of the same CSV files (`create table t as select * from read_csv(f, auto_detect = true)`).

Peak memory is read from GNU time (`/usr/bin/time -v`, "Maximum resident set size"). It is not part of a
minimal Debian: `apt-get install -y time`. Without it the timings still run and memory shows as "-".

Figures are printed against the targets (they are set for scale 1.0) and written to OUT/bench.json.
`DORA_PROFILE=1` is set for the transforms and the import, so their per-step seconds (logged on stderr by
warehouse/transform.py) are kept too: that is where to look when a transform is slow.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from benchmarks.generate import add_holdout, generate

GNU_TIME = "/usr/bin/time"
QUICK_SCALE = 0.02
METRICS_RUNS = 3
PERIOD_DAYS = 90
# (step, limit in seconds) for scale 1.0; the import limit is a ratio to DuckDB's own CSV load.
TIME_TARGETS = {"transform": 60.0, "metrics": 2.0, "retransform": 10.0}
MEMORY_TARGET_MB = 4096.0
IMPORT_RATIO_TARGET = 5.0
# DORA_PROFILE output of warehouse/transform.py: lines starting with "transform" naming steps and seconds,
# one per line ("transform changes  1.20 s") or several ("transform (full): changes 1.20 s, deployments ...")
TRANSFORM_MODE = re.compile(r"^transform \(([^)]+)\)")
PROFILE_STEP = re.compile(r"([a-z_]+):?\s+([0-9.]+) s\b")
TIME_REPORT = re.compile(r"^\s*Command (?:being timed|exited)", re.MULTILINE)
RSS_LINE = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
CPU_LINE = re.compile(r"(?:User|System) time \(seconds\): ([0-9.]+)")

# DuckDB's own load of the bundle, the baseline the import is compared with: one process, one
# `create table as read_csv(auto_detect)` per file, nothing validated.
DUCKDB_LOAD = """
import sys, pathlib, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("set enable_progress_bar = false")
for f in sorted(pathlib.Path(sys.argv[2]).glob("*.csv")):
    con.execute(f"create table {f.stem} as select * from read_csv('{f}', auto_detect = true)")
con.close()
"""


# sh -c FRESH_SCRIPT FILE CMD...: remove FILE (and its WAL), then run CMD in the same process
FRESH = ["sh", "-c", 'rm -f "$0" "$0.wal" && exec "$@"']


class StepFailed(Exception):
    pass


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float | None
    profile: dict[str, float] = field(default_factory=dict)
    others: float | None = None
    modes: list[str] = field(default_factory=list)
    cpu_seconds: float | None = None


def busy_cpu_seconds() -> float | None:
    """Cpu seconds the whole machine has spent busy since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def compile_bytecode() -> None:
    """Compile this checkout's modules, as installing a package does: where PYTHONDONTWRITEBYTECODE is set
    (these machines), an editable checkout would otherwise compile its changed modules in every command
    the benchmark times (50-150 ms each)."""
    root = Path(__file__).resolve().parent.parent
    folders = [str(root / name) for name in ("doralytics", "warehouse", "collectors", "reports", "dashboard")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], check=True, capture_output=True)


def dora_bin() -> str:
    # the venv's own `dora`, next to this interpreter, so the benchmark runs the code of this checkout
    beside = Path(sys.executable).with_name("dora")
    return str(beside) if beside.exists() else (shutil.which("dora") or "dora")


def timed(cmd: list[str], log: Path, profile: bool = False) -> tuple[Measure, str]:
    """Run `cmd` in its own process under GNU time; returns its wall time, peak RSS and stdout."""
    env = dict(os.environ)
    if profile:
        env["DORA_PROFILE"] = "1"
    have_time = os.access(GNU_TIME, os.X_OK)
    full = [GNU_TIME, "-v", *cmd] if have_time else cmd
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    busy_after = busy_cpu_seconds()
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n--- stdout ({len(proc.stdout)} chars)\n{proc.stdout[-4000:]}\n")
        out.write(f"--- stderr\n{proc.stderr}\n--- exit {proc.returncode}, {seconds:.2f} s\n\n")
    # GNU time appends its report to the command's own stderr
    report = TIME_REPORT.search(proc.stderr) if have_time else None
    own_stderr = proc.stderr[: report.start()] if report else proc.stderr
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in own_stderr.strip().splitlines()[-3:])
        raise StepFailed(f"exit {proc.returncode}: {tail}")
    rss = RSS_LINE.search(proc.stderr)
    steps: dict[str, float] = {}
    modes = []
    for line in own_stderr.splitlines():
        if line.startswith("transform"):
            mode = TRANSFORM_MODE.match(line)
            if mode:
                modes.append(mode.group(1))
            for name, secs in PROFILE_STEP.findall(line):
                # a command may transform more than once; the steps add up
                steps[name] = steps.get(name, 0.0) + float(secs)
    own = [float(x) for x in CPU_LINE.findall(proc.stderr)]
    others = None
    if busy_before is not None and busy_after is not None and len(own) == 2:
        spare = seconds * (os.cpu_count() or 1)
        others = min(max((busy_after - busy_before - sum(own)) / spare, 0.0), 1.0)
    cpu = sum(own) if len(own) == 2 else None
    return Measure(seconds, int(rss.group(1)) / 1024 if rss else None, steps, others, modes, cpu), proc.stdout


@dataclass
class Row:
    step: str
    seconds: float | None = None
    peak_rss_mb: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""
    profile: dict[str, float] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)
    # user + system cpu seconds of the command (median run): steadier than wall time on a busy machine
    cpu_seconds: float | None = None
    # share of the machine's cpu time that other processes used during the step (0.5 = one of two cores
    # busy elsewhere): the machine may be shared, and that slows every figure
    others: float | None = None


class Bench:
    def __init__(self, log: Path) -> None:
        self.log = log
        self.rows: list[Row] = []
        self.dora = dora_bin()

    def run(
        self, step: str, cmd: list[str], target: float | None = None, runs: int = 1, profile: bool = False
    ) -> tuple[Row, str]:
        row = Row(step, target=f"<= {target:g} s" if target is not None else "")
        self.rows.append(row)
        print(f"  {step} ...", end="", flush=True)
        stdout = ""
        try:
            measures = []
            for _ in range(runs):
                measure, stdout = timed(cmd, self.log, profile)
                measures.append(measure)
        except StepFailed as exc:
            row.note = f"FAILED {exc}"
            row.ok = False
            print(" failed (see the log)")
            return row, ""
        row.runs = [m.seconds for m in measures]
        row.seconds = statistics.median(row.runs)
        rss = [m.peak_rss_mb for m in measures if m.peak_rss_mb is not None]
        row.peak_rss_mb = max(rss) if rss else None
        row.profile = measures[-1].profile
        if measures[-1].modes:
            # which path the transform took (full or incremental), as it reports it
            row.note = "transform: " + ", ".join(measures[-1].modes)
        shares = [m.others for m in measures if m.others is not None]
        row.others = max(shares) if shares else None
        cpus = [m.cpu_seconds for m in measures if m.cpu_seconds is not None]
        row.cpu_seconds = statistics.median(cpus) if cpus else None
        if target is not None:
            row.ok = row.seconds <= target
        print(f" {row.seconds:.2f} s")
        return row, stdout


def last_day(warehouse: Path) -> dt.date:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        newest = con.execute("select max(finished_at) from core.deployments").fetchall()[0][0]
    finally:
        con.close()
    return newest.date()


def bench(scale: float, out: Path, work: Path, import_runs: int = 1) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    log = out / "bench.log"
    log.write_text("")
    warehouse, holdout = work / "bench.duckdb", work / "holdout.duckdb"
    b = Bench(log)
    d = b.dora
    if not os.access(GNU_TIME, os.X_OK):
        print(f"NOTE: {GNU_TIME} is missing, so peak memory is not measured: apt-get install -y time")

    print(f"generating the organisation at scale {scale:g} into {work} ...", flush=True)
    started = time.perf_counter()
    rows = generate(warehouse, scale=scale, holdout_path=holdout)
    generate_seconds = time.perf_counter() - started
    print(f"  {generate_seconds:.1f} s: " + ", ".join(f"{n:,} {t}" for t, n in rows.items()))

    print("timing the dora command line:")
    w = ["--warehouse", str(warehouse)]
    b.run("transform (full)", [d, *w, "transform"], TIME_TARGETS["transform"], profile=True)

    to = last_day(warehouse)
    since = to - dt.timedelta(days=PERIOD_DAYS - 1)
    for group in ("service", "team", "org"):
        row, stdout = b.run(
            f"metrics --group-by {group}",
            [
                d,
                *w,
                "metrics",
                "--from",
                since.isoformat(),
                "--to",
                to.isoformat(),
                "--group-by",
                group,
                "--format",
                "json",
            ],
            TIME_TARGETS["metrics"],
            runs=METRICS_RUNS,
        )
        if stdout:
            try:
                row.note = f"{len(json.loads(stdout)['groups'])} groups, median of {METRICS_RUNS}"
            except (ValueError, KeyError) as exc:
                row.note, row.ok = f"unreadable json: {exc}", False

    started = time.perf_counter()
    added = add_holdout(warehouse, holdout)
    add_seconds = time.perf_counter() - started
    print(
        f"  one more day upserted in {add_seconds:.1f} s: " + ", ".join(f"{n} {t}" for t, n in added.items()),
        flush=True,
    )
    b.run("transform (after one more day)", [d, *w, "transform"], TIME_TARGETS["retransform"], profile=True)

    bundle = work / "bundle"
    b.run("export bundle", [d, *w, "export", "bundle", str(bundle)])
    # each run into a fresh file: FRESH removes it, then becomes the command (the same process)
    imported_path, baseline_path = str(work / "imported.duckdb"), str(work / "baseline.duckdb")
    imported, _ = b.run(
        "import (fresh warehouse)",
        [*FRESH, imported_path, d, "--warehouse", imported_path, "import", str(bundle)],
        runs=import_runs,
        profile=True,
    )
    baseline, _ = b.run(
        "duckdb read_csv load (baseline)",
        [*FRESH, baseline_path, sys.executable, "-c", DUCKDB_LOAD, baseline_path, str(bundle)],
        runs=import_runs,
    )
    ratio = load_ratio = None
    if imported.seconds and baseline.seconds:
        ratio = imported.seconds / baseline.seconds
        imported.target = f"<= {IMPORT_RATIO_TARGET:g}x baseline"
        imported.ok = ratio <= IMPORT_RATIO_TARGET
        # `dora import` rebuilds the marts after loading: the load alone is the import minus that transform
        transform_part = sum(imported.profile.values())
        load_ratio = (imported.seconds - transform_part) / baseline.seconds if transform_part else None
        imported.note = f"{ratio:.1f}x baseline" + (f" ({imported.note})" if imported.note else "")
        if imported.cpu_seconds and baseline.cpu_seconds:  # steadier on a busy machine
            imported.note += f", {imported.cpu_seconds / baseline.cpu_seconds:.1f}x in cpu seconds"
        if load_ratio is not None:
            imported.note += f"; {transform_part:.1f} s of it is the transform, load alone {load_ratio:.1f}x"

    # the memory target is for Doralytics' own commands, not for the DuckDB baseline
    measured = [r.peak_rss_mb for r in b.rows if r.peak_rss_mb is not None and r is not baseline]
    peak = max(measured) if measured else None
    result = {
        "scale": scale,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "generate_seconds": round(generate_seconds, 2),
        "rows": rows,
        "one_more_day_rows": added,
        "period": {"from": since.isoformat(), "to": to.isoformat()},
        "steps": [asdict(r) for r in b.rows],
        "import_ratio": ratio,
        "import_load_only_ratio": load_ratio,
        "peak_rss_mb": peak,
        "peak_rss_ok": None if peak is None else peak <= MEMORY_TARGET_MB,
        "targets": {
            **{k: f"<= {v:g} s" for k, v in TIME_TARGETS.items()},
            "peak_rss": f"<= {MEMORY_TARGET_MB:g} MB",
            "import": f"<= {IMPORT_RATIO_TARGET:g}x duckdb",
        },
    }
    shares = [r.others for r in b.rows if r.others is not None]
    result["max_others_cpu_share"] = max(shares) if shares else None
    result["cpus"] = os.cpu_count()
    result["missed"] = [r.step for r in b.rows if r.ok is False] + (
        ["peak memory"] if result["peak_rss_ok"] is False else []
    )
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result, b.rows, out)
    return result


def _fmt(value: float | None, spec: str) -> str:
    digits = re.match(r"\d*", spec)  # the width a format spec starts with, if any
    width = int(digits.group() or 0) if digits else 0
    return "-".rjust(width) if value is None else format(value, spec)


def print_table(result: dict, rows: list[Row], out: Path) -> None:
    print()
    print(
        f"scale {result['scale']:g}; period {result['period']['from']} .. {result['period']['to']}"
        f"{'' if result['scale'] == 1 else '; the targets are set for scale 1'}"
    )
    header = (
        f"{'step':34} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} {'others':>6}  {'target':22} {'':4}  note"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        status = {True: "ok", False: "MISS", None: ""}[r.ok]
        others = "-" if r.others is None else f"{r.others:.0%}"
        figures = " ".join(
            (
                _fmt(r.seconds, "8.2f"),
                _fmt(r.cpu_seconds, "7.1f"),
                _fmt(r.peak_rss_mb, "8.0f"),
                f"{others:>6}",
            )
        )
        print(f"{r.step:34} {figures}  {r.target:22} {status:4}  {r.note}")
    peak = result["peak_rss_mb"]
    status = {True: "ok", False: "MISS", None: ""}[result["peak_rss_ok"]]
    print(
        f"{'peak memory of the dora commands':34} {'':8} {'':7} {_fmt(peak, '8.0f')} {'':6}  "
        f"{'<= ' + format(MEMORY_TARGET_MB, 'g') + ' MB':22} {status:4}"
    )
    for r in rows:
        if r.profile:
            steps = ", ".join(f"{k} {v:.1f}" for k, v in r.profile.items())
            print(f"  {r.step} steps (s): {steps}")
    print(f"missed: {', '.join(result['missed']) or 'none'}")
    if (result["max_others_cpu_share"] or 0) > 0.15:
        print(
            f"WARNING: other processes used up to {result['max_others_cpu_share']:.0%} of the machine's"
            f" {result['cpus']} cpus during a step (column 'others'): those times are pessimistic"
        )
    print(f"written: {out / 'bench.json'} (command output in {out / 'bench.log'})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, default=1.0, help="size of the org; 1.0 = the full targets")
    size.add_argument(
        "--quick",
        action="store_const",
        const=QUICK_SCALE,
        dest="scale",
        help=f"a run of seconds (scale {QUICK_SCALE})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "doralytics-bench",
        help="where bench.json and bench.log go",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated warehouses and bundle")
    parser.add_argument(
        "--import-runs", type=int, default=1, help="runs of the import and its baseline (medians)"
    )
    args = parser.parse_args(argv)
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="dora-bench-"))
    try:
        result = bench(args.scale, args.out, work, args.import_runs)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if any(s["note"].startswith("FAILED") for s in result["steps"]) else 0


if __name__ == "__main__":
    sys.exit(main())
