"""A realistic organisation written straight into the warehouse core tables, for the scale benchmark.

Everything is set-based DuckDB SQL (benchmarks/sql/generate/*.sql, run in file order): the full-size org
(2M commits, 400k PRs, 300k deployments) is built in well under a minute with no Python row loop and no
CSV round trip. Randomness is a hash of (seed, tag, ids), so a seed always gives the same org.

The shape, per service (one repo each, `org/svc-N`, about 20 teams):
- a default branch that is linear except for merge commits (second parent = the PR's branch head); squash
  merges leave their branch commits unreachable, rebase merges land them on the branch;
- PRs with 1-5 commits, stages first commit <= opened <= first review <= merged (with a little noise),
  a tenth never merged, 2% labelled `hotfix`; a few direct commits are reverts or hotfixes;
- deployments in time order whose sha walks forward along the default branch, plus staging deployments,
  ~2% failed attempts and ~1% rollbacks to an earlier sha;
- incidents hours after production deployments (some linked by id or sha prefix), some at random times,
  a few still open.

With `holdout_path`, one more day is generated after `end` and kept in a separate DuckDB file (tables
named like the core ones); `add_holdout` then upserts it, which is the "one more day of data" an
incremental `dora transform` is timed on.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb

from warehouse import db
from warehouse.load import upsert
from warehouse.publish import sql_string

DEFAULT_END = dt.datetime(2026, 11, 1)
HOLDOUT_DAYS = 1
# The core tables the generator fills, in load order (their keys are warehouse.schema's).
FILLED = ("services", "commits", "pull_requests", "pull_request_commits", "deployments", "incidents")
HELD_OUT = FILLED[1:]
SQL_FOLDER = Path(__file__).parent / "sql" / "generate"


# The full-size organisation (scale 1.0): services and the rows of a year.
SIZES = {"services": 200, "commits": 2_000_000, "prs": 400_000, "deployments": 300_000, "incidents": 20_000}


def sizes(scale: float = 1.0, stretch: float = 1.0) -> dict[str, int]:
    """Row targets after scaling. `stretch` grows the counts (not the services) for extra generated days."""
    n_services = max(2, round(SIZES["services"] * scale))

    def n(value: int) -> int:
        return max(1, round(value * scale * stretch))

    return {
        "n_services": n_services,
        # ~10 services per team, like the full-size org (200 services, 20 teams)
        "n_teams": max(1, round(n_services / 10)),
        **{f"n_{kind}": n(SIZES[kind]) for kind in ("commits", "prs", "deployments", "incidents")},
    }


def _sql_files() -> list[str]:
    return [f.read_text() for f in sorted(SQL_FOLDER.glob("*.sql"))]


def _us(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1970, 1, 1)).total_seconds()) * 1_000_000


def generate(
    path: str | os.PathLike,
    days: int = 365,
    seed: int = 1,
    scale: float = 1.0,
    end: dt.datetime = DEFAULT_END,
    holdout_path: str | os.PathLike | None = None,
) -> dict[str, int]:
    """Fill the (empty) warehouse at `path` with `days` of history ending at `end` (UTC, exclusive), the
    full-size organisation scaled by `scale`.

    Returns the rows written per core table. With `holdout_path`, the day after `end` goes to that file
    instead, and the counts are stretched so the warehouse itself still holds the full targets.
    """
    extra_days = HOLDOUT_DAYS if holdout_path is not None else 0
    n = sizes(scale, (days + extra_days) / days)
    start = end - dt.timedelta(days=days)
    variables: dict[str, int] = {
        **n,
        "seed": seed,
        "start_us": _us(start),
        "span_us": (days + extra_days) * 86_400 * 1_000_000,
        "cutoff_us": _us(end),
    }
    with db.write(path) as con:
        if con.execute("select count(*) from core.commits").fetchall()[0][0]:
            raise ValueError(f"{path} already holds commits: generate into a fresh warehouse")
        # a progress bar on stderr would garble the benchmark's output
        con.execute("set enable_progress_bar = false")
        for name, value in variables.items():
            con.execute(f"set variable {name} = {int(value)}::bigint")
        for sql in _sql_files():
            con.execute(sql)
        con.execute("begin")
        for table in FILLED:
            # through the loaders' own upsert, so the rows carry whatever bookkeeping a load adds
            # (load ids for the incremental transform) exactly as an import would
            upsert(con, table, f"gm_{table}")
        con.execute("commit")
        if holdout_path is not None:
            _write_holdout(con, Path(holdout_path))
        counts = {t: con.execute(f"select count(*) from core.{t}").fetchall()[0][0] for t in FILLED}
        for table in ("g_incidents", "g_deployments", "g_commits", "g_prs", "g_units", "g_services"):
            con.execute(f"drop table if exists {table}")
    return counts


def _write_holdout(con: duckdb.DuckDBPyConnection, holdout: Path) -> None:
    holdout.unlink(missing_ok=True)
    con.execute(f"attach {sql_string(str(holdout))} as hold")
    try:
        for table in HELD_OUT:
            con.execute(f"create table hold.{table} as select * from gh_{table}")
    finally:
        con.execute("detach hold")


def add_holdout(path: str | os.PathLike, holdout_path: str | os.PathLike) -> dict[str, int]:
    """Upsert the held-out day into the warehouse by key, as an incremental sync would. Returns its rows."""
    counts = {}
    with db.write(path) as con:
        con.execute(f"attach {sql_string(str(holdout_path))} as hold (read_only)")
        con.execute("begin")
        for table in HELD_OUT:
            upsert(con, table, f"hold.{table}")
            counts[table] = con.execute(f"select count(*) from hold.{table}").fetchall()[0][0]
        con.execute("commit")
        con.execute("detach hold")
    return counts


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Generate a benchmark organisation into a warehouse file.")
    parser.add_argument("path")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.perf_counter()
    print(generate(args.path, scale=args.scale, seed=args.seed))
    print(f"{time.perf_counter() - began:.1f} s")
