"""The commit-graph walk is incremental: a new day walks only the new deployments, and history that
changes under walked deployments is walked again, always giving what a walk from scratch gives."""

from __future__ import annotations

from tests.support.builder import Bundle, at, load_bundle, sha
from tests.support.warehouses import import_and_transform
from warehouse import db, transform
from warehouse.metric_settings import MetricsSettings


def reach(path) -> list[tuple]:
    with db.read(path) as con:
        return con.execute(
            "select deployment_id, sha, is_shipped from marts.deployment_reach order by all"
        ).fetchall()


def base() -> Bundle:
    b = Bundle()
    b.chain("c0", "c1", "c2", when=at(1))
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c2", at(3))
    return b


def add_and_transform(path, tmp_path, bundle: Bundle) -> int:
    """Import `bundle`, then run the transform; returns how many deployments the walk visited."""
    return int(import_and_transform(path, bundle.write(tmp_path / "more"))["walked_deployments"])


def from_scratch(tmp_path, *bundles: Bundle) -> list[tuple]:
    merged = Bundle()
    merged.rows.clear()
    for b in bundles:
        for table, rows in b.rows.items():
            merged.rows[table].extend(rows)
    return reach(load_bundle(merged, tmp_path / "scratch").path)


def test_a_new_day_walks_only_the_new_deployments(tmp_path):
    r = load_bundle(base(), tmp_path)
    day = Bundle()
    day.rows.clear()
    day.commit("c3", ("c2",), when=at(4))
    day.deploy("D3", "c3", at(5))
    assert add_and_transform(r.path, tmp_path, day) == 1
    assert ("D3", sha("c3"), True) in reach(r.path)
    assert reach(r.path) == from_scratch(tmp_path, base(), day)


def test_a_missing_parent_arriving_later_rewalks_the_history(tmp_path):
    b = Bundle()
    b.commit("c0", when=at(1))
    b.commit("c2", ("c1",), when=at(1, 2))  # c1 not loaded yet
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c2", at(3))
    r = load_bundle(b, tmp_path)
    assert ("D2", sha("c0"), True) not in reach(r.path)
    late = Bundle()
    late.rows.clear()
    late.commit("c1", ("c0",), when=at(1, 1))
    assert add_and_transform(r.path, tmp_path, late) == 2  # both deployments of the pair walked again
    assert ("D2", sha("c1"), True) in reach(r.path)
    assert reach(r.path) == from_scratch(tmp_path, b, late)


def test_a_deployment_arriving_out_of_order_rewalks_its_environment_only(tmp_path):
    b = base()
    b.deploy("S1", "c0", at(2), env="prod-eu")
    r = load_bundle(b, tmp_path)
    late = Bundle()
    late.rows.clear()
    late.deploy("D1b", "c1", at(2, 12))  # between D1 and D2 of production
    assert add_and_transform(r.path, tmp_path, late) == 3
    assert ("D1b", sha("c1"), True) in reach(r.path) and ("D2", sha("c1"), True) not in reach(r.path)
    assert reach(r.path) == from_scratch(tmp_path, b, late)


def test_nothing_new_walks_nothing(tmp_path):
    r = load_bundle(base(), tmp_path)
    with db.write(r.path) as con:
        transform.run(con, MetricsSettings())
    again = Bundle()
    again.rows.clear()
    again.commit("c2", ("c1",), when=at(1))  # the same row again
    assert add_and_transform(r.path, tmp_path, again) == 0


def spine(path, repo: str = "acme/svc") -> list[str]:
    with db.read(path) as con:
        rows = con.execute("select sha from walk_state.spine where repo = ? order by pos", [repo]).fetchall()
        return [r[0] for r in rows]


def test_a_new_day_extends_the_spine_and_cuts_it_where_it_ended_on_a_branch_head(tmp_path):
    b = Bundle()
    b.chain("c0", "c1", when=at(1))
    b.commit("b1", ("c1",), when=at(1, 2))  # a branch head: the only childless commit, so the spine's end
    b.deploy("D1", "c1", at(2))
    r = load_bundle(b, tmp_path)
    assert spine(r.path) == [sha("c0"), sha("c1"), sha("b1")]
    day = Bundle()
    day.rows.clear()
    day.commit("c2", ("c1",), when=at(3))
    day.commit("m2", ("c2", "b1"), when=at(3, 1))  # the branch merged into the main line
    day.deploy("D2", "m2", at(4))
    assert add_and_transform(r.path, tmp_path, day) == 1
    assert spine(r.path) == [sha("c0"), sha("c1"), sha("c2"), sha("m2")]
    assert {(d, s) for d, s, shipped in reach(r.path) if shipped} == {
        ("D2", sha("c2")),
        ("D2", sha("b1")),
        ("D2", sha("m2")),
    }
    assert reach(r.path) == from_scratch(tmp_path, b, day)


def test_the_walk_state_does_not_grow_with_the_services_of_a_repository(tmp_path):
    def state(services: int) -> dict[str, int]:
        b = Bundle()
        b.chain(*(f"c{i}" for i in range(30)), when=at(1))
        b.commit("f1", ("c9",), when=at(1, 3))  # a feature branch deployed before it is merged
        b.commit("m1", ("c20", "f1"), when=at(1, 4))
        for s in range(services):
            name = f"svc{s}" if s else "svc"
            if s:
                b.add_service(name, "acme/svc")
            for env in ("production", "prod-eu"):
                b.deploy(f"{name}-{env}-1", "c5", at(2), env=env, service=name)
                b.deploy(f"{name}-{env}-2", "f1", at(3), env=env, service=name)
                b.deploy(f"{name}-{env}-3", "c29", at(4), env=env, service=name)
        path = load_bundle(b, tmp_path / str(services)).path
        with db.read(path) as con:
            return {
                t: con.execute(f"select count(*) from walk_state.{t}").fetchone()[0]
                for t in ("graph", "spine", "deployed", "extra")
            }

    one, many = state(1), state(20)
    assert one == many and one["extra"] == 1  # f1 itself, the one commit off the spine it reaches


def test_a_spine_that_ended_on_a_branch_follows_the_work_that_went_on_below_its_end(tmp_path):
    b = Bundle()
    b.chain("c0", "c1", "c2", when=at(1))
    b.deploy("D1", "c1", at(2))
    # a longer branch from c1: its chain holds D1's sha too and is the longest, so the spine ends on it
    b.chain("b1", "b2", start="c1", when=at(1, 2))
    r = load_bundle(b, tmp_path)
    assert spine(r.path) == [sha("c0"), sha("c1"), sha("b1"), sha("b2")]
    day = Bundle()
    day.rows.clear()
    day.commit("c3", ("c2",), when=at(3))  # the main line goes on from c2, which has no position
    day.deploy("D2", "c3", at(4))
    assert add_and_transform(r.path, tmp_path, day) == 1
    # the spine is cut at c1 and extended through c2, not placed again from scratch nor left behind
    assert spine(r.path) == [sha("c0"), sha("c1"), sha("c2"), sha("c3")]
    # D1, the first deployment, is the baseline: it ships nothing
    assert {(d, s) for d, s, shipped in reach(r.path) if shipped} == {("D2", sha("c2")), ("D2", sha("c3"))}
    assert reach(r.path) == from_scratch(tmp_path, b, day)


def test_a_spine_from_scratch_ends_on_the_most_deployed_then_longest_then_highest_sha_tip(tmp_path):
    b = Bundle()
    b.chain("c0", "c1", when=at(1))
    b.add_service("other", "acme/other")  # a second repo placed in the same pass, with one tip
    b.commit("o0", (), when=at(1), repo="acme/other")
    # four tips from c1: x2 (longest, nothing deployed), y1 and z1 (deployed, as long as each other),
    # w1 (nothing deployed)
    b.chain("x1", "x2", "x3", start="c1", when=at(1, 1))
    for name in ("y1", "z1", "w1"):
        b.commit(name, ("c1",), when=at(1, 2))
    b.deploy("D1", "y1", at(2))
    b.deploy("D2", "z1", at(3))
    top = max(sha("y1"), sha("z1"))
    path = load_bundle(b, tmp_path / "sha").path
    assert spine(path)[-1] == top and spine(path, "acme/other") == [sha("o0")]
    b.deploy("D3", "x1", at(4))  # x3's chain holds a deployed sha too and is the longest
    assert spine(load_bundle(b, tmp_path / "length").path)[-1] == sha("x3")


def test_a_commit_that_comes_back_with_other_parents_rewalks_its_repository(tmp_path):
    r = load_bundle(base(), tmp_path)
    assert {(d, s) for d, s, shipped in reach(r.path) if shipped} == {("D2", sha("c1")), ("D2", sha("c2"))}
    day = Bundle()
    day.rows.clear()
    day.commit("c2", ("c0",), when=at(1))  # rewritten: c1 is no longer under it
    assert add_and_transform(r.path, tmp_path, day) == 2
    assert {(d, s) for d, s, shipped in reach(r.path) if shipped} == {("D2", sha("c2"))}
