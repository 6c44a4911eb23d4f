"""Export and report speed: `python -m benchmarks.export_speed [--rows N]`.

Export: a table shaped like marts.deployments (ids, shas, timestamps, booleans, a list column, doubles) with
N rows (default 300,000, the target being <= 5 s) is exported to CSV and to Parquet through
warehouse.export (DuckDB's COPY, streamed: the rows never pass through Python), and through the real
`dora export` command line in its own process, which is what a user waits for. Peak memory of that process
is read from /proc (VmHWM), to show the table is not loaded whole.

Report: the weekly report of the demo organisation (seed 7) built, charted and rendered, in process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0
RUNS = 3

TABLE_SQL = """
create or replace table marts.bench_deployments as
select
    cast(100000 + i as varchar) as deployment_id,
    'service-' || (i % 200) as service,
    'team-' || (i % 20) as team,
    case when i % 3 = 0 then 'prod-eu' else 'production' end as environment,
    md5(cast(i as varchar)) || substr(md5(cast(i * 7 as varchar)), 1, 8) as commit_sha,
    timestamp '2025-01-01' + to_seconds(i * 97) as started_at,
    timestamp '2025-01-01' + to_seconds(i * 97 + 300 + i % 900) as finished_at,
    i % 50 = 0 as is_failed,
    case when i % 50 = 0 then ['incident', 'rollback'] else []::varchar[] end as failure_signals,
    (i % 37) as shipped_commits,
    case when i % 50 = 0 then (i % 1000) / 37.0 end as recovery_hours,
    'Deploy of ' || md5(cast(i as varchar)) as note
from range(?) as t(i)
"""


def _peak_mb(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a child process (VmHWM, sampled until it exits)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        error = process.stderr.read() if process.stderr else ""
        raise RuntimeError(f"{' '.join(command)} failed: {error}")
    return seconds, peak


def export_figures(rows: int, folder: Path) -> list[tuple[str, float, str]]:
    from warehouse import db
    from warehouse.export import export

    warehouse = folder / "bench.duckdb"
    with db.write(warehouse) as con:
        con.execute(TABLE_SQL, [rows])
    figures = []
    for fmt in ("csv", "parquet"):
        out = folder / f"bench.{fmt}"
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            with db.read(warehouse) as con:
                written = export(con, "bench_deployments", out, fmt)
            times.append(time.perf_counter() - started)
        assert written == rows
        size = out.stat().st_size / 1e6
        figures.append((f"export {fmt}, in process", statistics.median(times), f"{size:.1f} MB"))
        command = [
            sys.executable,
            "-m",
            "doralytics",
            "--warehouse",
            str(warehouse),
            "export",
            fmt,
            "bench_deployments",
            "--out",
            str(out),
        ]
        cli = [_peak_mb(command) for _ in range(RUNS)]
        figures.append(
            (
                f"dora export {fmt} (whole command)",
                statistics.median(s for s, _ in cli),
                f"peak RSS {max(m for _, m in cli):.0f} MB",
            )
        )
    return figures


def report_figures(folder: Path) -> list[tuple[str, float, str]]:
    from collectors import demo
    from reports import render
    from reports.weekly import build, resolve_week
    from warehouse import db
    from warehouse.metric_settings import MetricsSettings
    from warehouse.transform import run

    warehouse = folder / "demo.duckdb"
    with db.write(warehouse) as con:
        demo.build(con, seed=7, end=dt.date(2026, 6, 30))
        run(con, MetricsSettings())
    steps: dict[str, list[float]] = {
        "build (metrics queries)": [],
        "charts (matplotlib)": [],
        "render html": [],
    }
    size = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        with db.read(warehouse) as con:
            report = build(con, resolve_week("2026-W26"))
        t1 = time.perf_counter()
        render.add_charts(report)
        t2 = time.perf_counter()
        page = render.render(report, "html")
        t3 = time.perf_counter()
        size = len(page.encode())
        for name, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            steps[name].append(seconds)
    figures = [(f"weekly report: {name}", statistics.median(v), "") for name, v in steps.items()]
    total = statistics.median(sum(v) for v in zip(*steps.values(), strict=True))
    figures.append(("weekly report: total", total, f"{size / 1e3:.0f} kB self-contained HTML"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--skip-report", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dora-export-bench-") as tmp:
        folder = Path(tmp)
        figures = export_figures(args.rows, folder)
        if not args.skip_report:
            figures += report_figures(folder)
    print(f"{args.rows:,} rows; median of {RUNS} runs; target for an export: <= {TARGET_SECONDS:.0f} s")
    width = max(len(name) for name, _, _ in figures)
    for name, seconds, note in figures:
        verdict = ""
        if name.startswith(("export", "dora export")):
            verdict = "ok" if seconds <= TARGET_SECONDS else "SLOW"
        print(f"  {name:<{width}}  {seconds:7.2f} s  {verdict:<4}  {note}")


if __name__ == "__main__":
    main()
