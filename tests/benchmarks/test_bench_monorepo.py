"""The monorepo benchmark's two layouts hold the same work: one repository told apart by paths, or a
repository per service; the walk's state is the same size either way, and the report states the ratios."""

from __future__ import annotations

from benchmarks.monorepo import Layout, add_day, build, report
from warehouse import db, transform
from warehouse.metric_settings import MetricsSettings

SCALE = 0.005  # 1,000 commits, 100 deployments


def test_both_layouts_hold_the_same_work_and_a_walk_state_of_the_same_size(tmp_path):
    state = {}
    for mono in (False, True):
        path = tmp_path / f"{mono}.duckdb"
        build(path, mono, SCALE)
        with db.write(path) as con:
            transform.run(con, MetricsSettings())
        add_day(path)
        with db.write(path) as con:
            figures = transform.run(con, MetricsSettings())
            assert figures["full"] == 0.0  # the day after: incremental
            repos = con.execute("select count(distinct repo) from core.commits").fetchone()[0]
            assert repos == (1 if mono else 50)
            with_paths = con.execute("select count(*) from core.services where len(paths) > 0").fetchone()[0]
            assert with_paths == (50 if mono else 0)
            state[mono] = {
                t: con.execute(f"select count(*) from walk_state.{t}").fetchone()[0]
                for t in ("graph", "deployed", "done")
            }
            # in the monorepo a service ships only commits with a file under its folder
            stray = con.execute(
                "select count(*) from marts.deployment_reach as r where r.is_shipped and not exists ("
                "select 1 from core.commit_files as f where f.repo = r.repo and f.sha = r.sha "
                "and starts_with(f.path, 'services/' || r.service || '/'))"
            ).fetchone()[0]
            shipped = con.execute("select count(*) from marts.deployment_reach where is_shipped").fetchone()[
                0
            ]
            assert shipped > 0 and (stray == 0 if mono else stray > 0)
    assert state[True] == state[False] == {"graph": 1000, "deployed": state[True]["deployed"], "done": 100}


def test_the_report_prints_both_layouts_and_their_ratios(capsys):
    repos = Layout("50 repositories", 10.0, 500.0, 1.0, 400.0, {"graph": 1}, 1, 40.0)
    mono = Layout("1 repository x 50 services", 15.0, 600.0, 1.5, 450.0, {"graph": 1}, 1, 42.0)
    result = report(repos, mono)
    out = capsys.readouterr().out
    assert "time 1.50x, memory 1.20x" in out and "next day 1.50 s" in out and ": ok" in out
    assert result["time_ratio"] == 1.5 and all(result["ok"].values())
