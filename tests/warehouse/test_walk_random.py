"""The walk against the definition itself on random commit graphs: for each (service, environment), a
deployment ships its sha's ancestors that no earlier deployment reached, in the service's paths when it
has some. Loaded whole, or in two parts in any order (late parents, late files, late deployments), the
warehouse holds exactly those rows."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.builder import Bundle, at, sha
from tests.support.warehouses import import_and_transform
from warehouse import db

PATHS = ("a/x.py", "a/b/y.py", "b/z.py", "docs/r.md", "a_b/w.py")
SERVICES = {"web": "a/*", "api": "b/*;a_?/*", "all": ""}


@st.composite
def histories(draw):
    n = draw(st.integers(1, 18))
    commits = []
    for i in range(n):
        parents = []
        if i and draw(st.booleans() | st.just(True)):
            parents.append(i - 1 if draw(st.integers(0, 3)) else draw(st.integers(0, i - 1)))
        if i > 1 and draw(st.integers(0, 3)) == 0:
            parents.append(draw(st.integers(0, i - 1)))
        if draw(st.integers(0, 12)) == 0:
            parents.append(n + 5)  # a parent never loaded
        files = draw(st.lists(st.sampled_from(PATHS), max_size=2, unique=True))
        commits.append((i, tuple(dict.fromkeys(parents)), files))
    deployments = []
    for d in range(draw(st.integers(1, 10))):
        service = draw(st.sampled_from(sorted(SERVICES)))
        env = draw(st.sampled_from(["production", "prod-eu"]))
        target = draw(st.integers(0, n))  # n: a sha not in the commits
        deployments.append((f"D{d:02d}", service, env, target, draw(st.integers(0, 30))))
    split = draw(
        st.lists(st.booleans(), min_size=n + len(deployments) + 3 * n, max_size=n + len(deployments) + 3 * n)
    )
    return commits, deployments, split


def bundles(commits, deployments, split):
    first, second = Bundle(), Bundle()
    second.rows.clear()
    first.rows["services"].clear()
    for name, paths in SERVICES.items():  # in both parts: the same rows again change nothing
        for part in (first, second):
            part.rows["services"].append({"service": name, "repo": "acme/svc", "team": "t", "paths": paths})
    flags = iter(split)
    for i, parents, files in commits:
        target = second if next(flags) else first
        target.commit(f"c{i}", tuple(f"c{p}" for p in parents), when=at(1))
        for path in files:
            into = second if next(flags) else first
            into.rows["commit_files"].append({"repo": "acme/svc", "sha": sha(f"c{i}"), "path": path})
    for deployment_id, service, env, target_index, hour in deployments:
        target = second if next(flags) else first
        target.deploy(deployment_id, f"c{target_index}", at(2, hour / 2), env=env, service=service)
    return first, second


def expected(commits, deployments) -> set[tuple]:
    graph = {sha(f"c{i}"): [sha(f"c{p}") for p in parents] for i, parents, _ in commits}
    files = {sha(f"c{i}"): fs for i, _, fs in commits}

    def in_service(service: str, commit: str) -> bool:
        patterns = [p for p in SERVICES[service].split(";") if p]
        if not patterns:
            return True
        import fnmatch

        return any(fnmatch.fnmatchcase(f, p) for f in files[commit] for p in patterns)

    rows = set()
    pairs: dict[tuple, list] = defaultdict(list)
    for d in deployments:
        pairs[(d[1], d[2])].append(d)
    for (service, _), deps in pairs.items():
        reached: set[str] = set()
        for n, (deployment_id, _, _, target, _) in enumerate(sorted(deps, key=lambda d: (d[4], d[0]))):
            start = sha(f"c{target}")
            if start not in graph:
                continue
            stack, seen = [start], set()
            while stack:
                c = stack.pop()
                if c in seen or c not in graph:
                    continue
                seen.add(c)
                stack.extend(graph[c])
            for c in seen - reached:
                if in_service(service, c):
                    rows.add((deployment_id, c, n > 0))
            reached |= seen
    return rows


def reach(path) -> set[tuple]:
    with db.read(path) as con:
        return set(
            con.execute("select deployment_id, sha, is_shipped from marts.deployment_reach").fetchall()
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories())
def test_the_walk_ships_what_the_definition_ships_whole_or_in_parts(tmp_path_factory, history):
    commits, deployments, split = history
    want = expected(commits, deployments)
    tmp = tmp_path_factory.mktemp("walk")
    first, second = bundles(commits, deployments, split)
    whole = Bundle()
    whole.rows.clear()
    for b in (first, second):
        for table, rows in b.rows.items():
            if table == "services" and b is second:
                continue
            whole.rows[table].extend(rows)
    import_and_transform(tmp / "whole.duckdb", whole.write(tmp / "whole"))
    assert reach(tmp / "whole.duckdb") == want
    import_and_transform(tmp / "parts.duckdb", first.write(tmp / "first"), second.write(tmp / "second"))
    assert reach(tmp / "parts.duckdb") == want
