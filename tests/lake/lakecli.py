"""What the lake tests share: `dora metrics` JSON through the real command line, the part of it that is the
numbers, and bundles of different repositories and services (tests/support/builder.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.builder import Bundle, at
from tests.support.cli import dora

PERIOD = ("2026-03-01", "2026-03-31")


def numbers(answer: dict) -> str:
    """The part of a metrics JSON answer that is the metrics (a field naming the snapshot left out), as
    canonical text: equal answers, equal text."""
    kept = {k: answer[k] for k in ("from", "to", "group_by", "groups")}
    return json.dumps(kept, sort_keys=True)


def metrics(address: str, *extra: str, group_by: str = "service", period: tuple[str, str] = PERIOD) -> dict:
    out = dora(
        "--warehouse",
        address,
        "metrics",
        "--from",
        period[0],
        "--to",
        period[1],
        "--group-by",
        group_by,
        "--format",
        "json",
        *extra,
    ).stdout
    return json.loads(out)


def service_bundle(name: str, team: str, commits: int = 60, every: int = 3) -> Bundle:
    """A service of its own repository (`acme/<name>`) with a chain of commits through March 2026, a PR per
    deployment, a production deployment every `every` commits (one in five failing), and incidents."""
    b = Bundle(service=name, repo=f"acme/{name}", team=team)
    names = [f"{name}-c{i}" for i in range(commits)]
    for i, commit in enumerate(names):
        b.commit(commit, (names[i - 1],) if i else (), when=at(1 + i * 27 // commits, hour=i % 24))
    for n, i in enumerate(range(every - 1, commits, every)):
        day, hour = 1 + i * 27 // commits, (i % 24) + 3
        b.pr(
            n + 1,
            names[i],
            (names[i],),
            created=at(day, hour - 2.5),
            merged=at(day, hour - 0.5),
            review=at(day, hour - 1.5),
            first_commit=at(day, hour - 3),
        )
        status = "failure" if n % 5 == 4 else "success"
        b.deploy(f"{name}-D{n}", names[i], at(day, hour), status=status)
        if n % 4 == 1:
            b.incident(f"{name}-INC{n}", at(day, hour + 1), at(day, hour + 2.5), deployment_id=f"{name}-D{n}")
    return b


def write_bundle(bundle: Bundle, folder: Path) -> Path:
    return bundle.write(folder)
