"""The monorepo benchmark: `python -m benchmarks.monorepo [--scale S] [--out DIR]`.

The same work laid out two ways, generated straight into two warehouses (set-based SQL,
benchmarks/sql/monorepo/, no CSV): 50 services, 200,000 commits and 20,000 production deployments over a
year (scale 1.0), either as 50 repositories of one service each, or as one repository deployed as the 50
services, each told apart by its paths (services/svc-N/*). The last day is held back. Then, each in its
own process under GNU time, the way a user runs it:

- `dora transform` on the whole history (full): wall time and peak memory (max RSS);
- the held-back day upserted, then `dora transform` again (incremental).

It prints both layouts, the monorepo's ratios to the 50 repositories (the target: within 2x in time and
memory; the incremental transform within 2 s), and the rows of the walk's state (`walk_state.*`: per
repository and per deployed sha, never per service, environment and commit). Figures go to
OUT/monorepo.json too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.run import Measure, StepFailed, compile_bytecode, dora_bin, timed
from warehouse import db
from warehouse.load import upsert

SQL_FOLDER = Path(__file__).parent / "sql" / "monorepo"
END = dt.datetime(2026, 11, 1)
DAYS = 365
SIZES = {"n_services": 50, "n_commits": 200_000, "n_deployments": 20_000}
RATIO_TARGET = 2.0
INCREMENTAL_TARGET_S = 2.0
STATE_TABLES = ("graph", "spine", "deployed", "extra", "done", "missing")
# the core tables filled, and the generated table and time column each is cut at the held-back day by
COLUMNS = {
    "services": ("m_services", "service, repo, team, paths", None),
    "commits": (
        "m_commits",
        "repo, sha, parents, authored_at, committed_at, author, message",
        "authored_at",
    ),
    "commit_files": ("m_files", "f.repo, f.sha, f.path", "authored_at"),
    "deployments": (
        "m_deployments",
        "deployment_id, service, environment, environment_tier, commit_sha, started_at, finished_at, status",
        "finished_at",
    ),
}


@dataclass
class Layout:
    name: str
    full_s: float
    full_peak_mb: float | None
    incremental_s: float
    incremental_peak_mb: float | None
    walk_state_rows: dict[str, int]
    reach_rows: int
    warehouse_mb: float


def _source(table: str, held_back: bool) -> str:
    generated, columns, time_column = COLUMNS[table]
    if time_column is None:
        return f"(select {columns} from {generated})"
    side = ">=" if held_back else "<"
    if table == "commit_files":  # a file row is held back with its commit
        return (
            f"(select {columns} from m_files as f join m_commits as c using (repo, sha) "
            f"where c.authored_at {side} getvariable('cutoff'))"
        )
    return f"(select {columns} from {generated} where {time_column} {side} getvariable('cutoff'))"


def build(path: Path, mono: bool, scale: float) -> None:
    """Generate a layout into a fresh warehouse at `path`; the last day stays in bench_* tables."""
    variables = {
        "mono": int(mono),
        "n_services": SIZES["n_services"],
        "n_commits": max(100, round(SIZES["n_commits"] * scale)),
        "n_deployments": max(100, round(SIZES["n_deployments"] * scale)),
        "start_s": int((END - dt.timedelta(days=DAYS) - dt.datetime(1970, 1, 1)).total_seconds()),
        "span_s": DAYS * 86_400,
    }
    with db.write(path) as con:
        con.execute("set enable_progress_bar = false")
        for name, value in variables.items():
            con.execute(f"set variable {name} = {value}::bigint")
        con.execute("set variable cutoff = ?::timestamp", [END - dt.timedelta(days=1)])
        for sql in sorted(SQL_FOLDER.glob("*.sql")):
            con.execute(sql.read_text())
        con.execute("begin")
        for table in COLUMNS:
            upsert(con, table, _source(table, held_back=False))
        for table in ("commits", "commit_files", "deployments"):
            con.execute(f"create table bench_{table} as select * from {_source(table, held_back=True)}")
        con.execute("commit")


def add_day(path: Path) -> None:
    with db.write(path) as con:
        con.execute("begin")
        for table in ("commits", "commit_files", "deployments"):
            upsert(con, table, f"bench_{table}")
            con.execute(f"drop table bench_{table}")
        con.execute("commit")


def _state(path: Path) -> tuple[dict[str, int], int]:
    with db.read(path) as con:
        rows = {t: con.execute(f"select count(*) from walk_state.{t}").fetchall()[0][0] for t in STATE_TABLES}
        reach = con.execute("select count(*) from marts.deployment_reach").fetchall()[0][0]
    return rows, reach


def measure(work: Path, mono: bool, scale: float, log: Path) -> Layout:
    name = "1 repository x 50 services" if mono else "50 repositories"
    path = work / ("mono.duckdb" if mono else "repos.duckdb")
    build(path, mono, scale)
    full, _ = timed([dora_bin(), "--warehouse", str(path), "transform"], log, profile=True)
    add_day(path)
    again, _ = timed([dora_bin(), "--warehouse", str(path), "transform"], log, profile=True)
    rows, reach = _state(path)
    return Layout(
        name,
        full.seconds,
        full.peak_rss_mb,
        again.seconds,
        again.peak_rss_mb,
        rows,
        reach,
        path.stat().st_size / 1e6,
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def report(repos: Layout, mono: Layout) -> dict:
    time_ratio = _ratio(mono.full_s, repos.full_s)
    memory_ratio = _ratio(mono.full_peak_mb, repos.full_peak_mb)
    print(f"{'layout':<28} {'full transform':>15} {'peak memory':>12} {'next day':>9} {'warehouse':>10}")
    for layout in (repos, mono):
        peak = f"{layout.full_peak_mb:.0f} MB" if layout.full_peak_mb else "-"
        print(
            f"{layout.name:<28} {layout.full_s:>13.2f} s {peak:>12} {layout.incremental_s:>7.2f} s"
            f" {layout.warehouse_mb:>7.0f} MB"
        )
    verdict = {
        "time": time_ratio is not None and time_ratio <= RATIO_TARGET,
        "memory": memory_ratio is not None and memory_ratio <= RATIO_TARGET,
        "incremental": mono.incremental_s <= INCREMENTAL_TARGET_S,
    }
    fmt = lambda v: "-" if v is None else f"{v:.2f}x"  # noqa: E731
    print(
        f"monorepo / 50 repositories: time {fmt(time_ratio)}, memory {fmt(memory_ratio)} "
        f"(target <= {RATIO_TARGET:g}x); next day {mono.incremental_s:.2f} s (target <= "
        f"{INCREMENTAL_TARGET_S:g} s): {'ok' if all(verdict.values()) else 'MISSED ' + str(verdict)}"
    )
    for layout in (repos, mono):
        state = ", ".join(f"{t} {n:,}" for t, n in layout.walk_state_rows.items())
        print(f"walk_state of {layout.name}: {state}; marts.deployment_reach {layout.reach_rows:,}")
    return {
        "layouts": [asdict(repos), asdict(mono)],
        "time_ratio": time_ratio,
        "memory_ratio": memory_ratio,
        "ok": verdict,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="dora-monorepo-") as tmp:
        work = Path(tmp)
        out = args.out or work
        out.mkdir(parents=True, exist_ok=True)
        log = out / "monorepo.log"
        try:
            repos = measure(work, mono=False, scale=args.scale, log=log)
            mono = measure(work, mono=True, scale=args.scale, log=log)
        except StepFailed as exc:
            print(f"a step failed: {exc} (log: {log})", file=sys.stderr)
            return 1
        result = report(repos, mono)
        (out / "monorepo.json").write_text(json.dumps(result, indent=2))
    return 0


__all__ = ["Measure", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
