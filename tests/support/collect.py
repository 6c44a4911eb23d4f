"""Running the real collectors against the fakes, and reading back what they wrote.

Each `*_settings` sets small pages (so that every list spans pages) and short waits through the section
of dora.toml, as a user would; the keys a command line gives (`since`, `full`, ...) go as overrides.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from collectors.base import RunResult
from collectors.github import settings as github
from collectors.github.client import make_client as github_client
from collectors.github.collector import collect as collect_github
from collectors.gitlab import settings as gitlab
from collectors.gitlab.client import make_client as gitlab_client
from collectors.gitlab.collector import collect as collect_gitlab
from collectors.pagerduty import settings as pagerduty
from collectors.pagerduty.client import make_client as pagerduty_client
from collectors.pagerduty.collector import PagerdutyResult
from collectors.pagerduty.collector import collect as collect_pagerduty
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab
from tests.support.fake_pagerduty import FakePagerDuty
from warehouse import db
from warehouse.metric_settings import MetricsSettings
from warehouse.metrics import Scope, compute
from warehouse.schema import TABLES
from warehouse.sync import WarehouseSink
from warehouse.transform import run as transform

TOKEN = "test-token"
CORE_TABLES = tuple(table.name for table in TABLES)
GITLAB_PROJECT = "acme/platform/checkout"
PAGERDUTY_SINCE = dt.date(2026, 3, 1)
PAGERDUTY_MAPPING = [
    {"name": "(?i)checkout worker", "service": "checkout"},
    {"id": "PSRCH04", "service": "search"},
]


def rows(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with db.read(warehouse) as con:
        return con.execute(sql).fetchall()


def snapshot(warehouse: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The core tables; _load_id tells the incremental transform what is new: it is not part of the data."""
    return {
        t: rows(warehouse, f"select * exclude (_load_id) from core.{t} order by all") for t in CORE_TABLES
    }


def metrics(warehouse: Path, start: str = "2026-03-02", end: str = "2026-03-08") -> dict[str, Any]:
    """The metrics per service of a period, after the transform."""
    with db.write(warehouse) as con:
        transform(con, MetricsSettings())
        (group,) = compute(con, Scope(dt.date.fromisoformat(start), dt.date.fromisoformat(end), "service"))
    return group


def overrides(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The command-line options among `values`, taken out of them."""
    return {k: values.pop(k) for k in keys if k in values}


def github_settings(fake: FakeGitHub, **values: Any) -> github.GithubSettings:
    given = overrides(values, "since", "full")
    section = {
        "api_url": fake.url,
        "repos": ["acme/checkout"],
        "per_page": 2,
        "retries": 3,
        "backoff": 0.01,
        "secondary_rate_wait": 0.2,
        "max_rate_limit_wait": 30,
        **values,
    }
    return github.parse(section, **given)


def run_github(
    fake: FakeGitHub,
    warehouse: Path,
    settings: github.GithubSettings | None = None,
    token: str = TOKEN,
    **values: Any,
) -> RunResult:
    chosen = settings or github_settings(fake, **values)
    with WarehouseSink(warehouse, "github") as sink:
        return collect_github(lambda: github_client(token, chosen), chosen, sink)


def gitlab_settings(fake: FakeGitLab, **values: Any) -> gitlab.GitlabSettings:
    given = overrides(values, "since", "full", "ca_bundle")
    section = {"url": fake.url, "projects": [GITLAB_PROJECT], "per_page": 2, "retries": 3, **values}
    return gitlab.parse(section, **given)


def run_gitlab(
    fake: FakeGitLab,
    warehouse: Path,
    settings: gitlab.GitlabSettings | None = None,
    token: str = TOKEN,
    **values: Any,
) -> RunResult:
    chosen = settings or gitlab_settings(fake, **values)
    with WarehouseSink(warehouse, "gitlab") as sink:
        return collect_gitlab(lambda: gitlab_client(token, chosen), chosen, sink)


def pagerduty_settings(
    fake: FakePagerDuty, tls: tuple[Path, Path], **values: Any
) -> pagerduty.PagerdutySettings:
    """Short backoffs, the test's CA, and history from 2026-03-01."""
    given = overrides(values, "since", "full", "service_ids")
    given.setdefault("since", PAGERDUTY_SINCE)
    section = {
        "api_url": fake.url,
        "ca_bundle": str(tls[0]),
        "page_size": 2,
        "backoff": 0.01,
        "retries": 2,
        "services": PAGERDUTY_MAPPING,
        **values,
    }
    return pagerduty.parse(section, **given)


def run_pagerduty(
    fake: FakePagerDuty,
    warehouse: Path,
    tls: tuple[Path, Path],
    known: tuple[str, ...] = ("checkout", "search"),
    token: str = TOKEN,
    settings: pagerduty.PagerdutySettings | None = None,
    **values: Any,
) -> PagerdutyResult:
    chosen = settings or pagerduty_settings(fake, tls, **values)
    with WarehouseSink(warehouse, "pagerduty") as sink:
        return collect_pagerduty(lambda: pagerduty_client(token, chosen), chosen, list(known), sink)


def incidents(warehouse: Path) -> list[tuple[Any, ...]]:
    columns = "incident_id, service, severity, created_at, resolved_at"
    return rows(warehouse, f"select {columns} from core.incidents order by 1")
