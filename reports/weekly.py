"""The weekly report's content, built from the metrics API only: numbers, changes, highlights, details.

`build` returns a plain data structure (Report) that the templates render; every number in it is a value
of warehouse.metrics.compute() for the stated period, or a row of explain(), never recomputed here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from reports import fmt
from reports.settings import ReportSettings
from warehouse import db
from warehouse.metric_settings import Tiers
from warehouse.metrics import Scope, catalog, compute, explain, sync_status, trend

ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
PERIODS = {"week": 1, "previous": 1, "4w": 4, "12w": 12}  # weeks each covers
TIER_ORDER = ("low", "medium", "high", "elite")
SLOWEST = 5
MAX_TIER_CHANGES = 5


@dataclass(frozen=True)
class Week:
    """The seven UTC days [start, end] a report covers."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        if self.start.isoweekday() == 1:
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def trailing(self, weeks: int) -> tuple[dt.date, dt.date]:
        return self.end - dt.timedelta(days=7 * weeks - 1), self.end

    def previous(self) -> Week:
        return Week(self.start - dt.timedelta(days=7), self.end - dt.timedelta(days=7))


def resolve_week(week: str | None = None, to: dt.date | None = None, today: dt.date | None = None) -> Week:
    """--week YYYY-Www, or the 7 days ending --to, or else the last whole ISO week before today (UTC)."""
    if week and to:
        raise ValueError("give --week or --to, not both")
    if week:
        match = ISO_WEEK.match(week.strip())
        if not match:
            raise ValueError(f"--week: {week!r} is not an ISO week like 2026-W26")
        try:
            start = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError as exc:
            raise ValueError(f"--week: {week!r}: {exc}") from exc
        return Week(start, start + dt.timedelta(days=6))
    if to:
        return Week(to - dt.timedelta(days=6), to)
    today = today or dt.datetime.now(dt.UTC).date()
    monday = today - dt.timedelta(days=today.isoweekday() - 1)
    return Week(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))


@dataclass(frozen=True)
class Metric:
    key: str  # the field of compute()
    name: str
    tier: str | None  # the key in compute()["tiers"]
    kind: str  # per_day | duration | rate
    higher_is_better: bool = False


METRICS = (
    Metric("deploys_per_day", "Deployment frequency", "deployment_frequency", "per_day", True),
    Metric("lead_time_median_hours", "Lead time (median)", "lead_time", "duration"),
    Metric("change_failure_rate", "Change failure rate", "change_failure_rate", "rate"),
    Metric("recovery_time_median_hours", "Recovery time (median)", "recovery_time", "duration"),
    Metric("rework_rate", "Rework rate", None, "rate"),
)


def basis(metric: Metric, group: dict) -> str:
    """The count a number rests on: never a number without it."""
    if metric.kind == "per_day":
        return f"{_n(group['deployments'], 'deploy')} on {_n(group['deployment_days'], 'day')}"
    if metric.key == "lead_time_median_hours":
        return _n(group["changes"], "change")
    if metric.key == "change_failure_rate":
        return f"{group['failed_deployments']} of {group['deployments']} failed"
    if metric.key == "recovery_time_median_hours":
        if not group["failed_deployments"]:
            return "no failed deployment"
        recovered = group["failed_deployments"] - group["unrecovered_failures"]
        return f"{recovered} recovered" + (
            f", {group['unrecovered_failures']} open" if group["unrecovered_failures"] else ""
        )
    return f"{group['unplanned_deployments']} of {group['deployments']} unplanned"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def text(metric: Metric, value: float | None) -> str:
    if metric.kind == "per_day":
        return fmt.per_day(value)
    if metric.kind == "duration":
        return fmt.duration(value)
    return fmt.pct(value)


@dataclass(frozen=True)
class Change:
    """Week over week: arrow follows the value, `good` says whether that is better (None: no change)."""

    arrow: str
    text: str
    good: bool | None
    score: float  # comparable across metrics, for ranking highlights


def change(metric: Metric, now: float | None, before: float | None) -> Change | None:
    if now is None or before is None:
        return None
    if metric.kind == "rate":
        delta = now - before
        label = f"{abs(delta) * 100:.1f} pp"
        score = abs(delta) / 0.10  # 10 percentage points weigh like a doubling
    else:
        if before == 0:
            return None if now == 0 else Change("▲", "new", metric.higher_is_better, 1.0)
        delta = (now - before) / before
        label = fmt.pct(abs(delta), 0)
        score = abs(math.log(now / before)) / math.log(2) if now > 0 else 1.0
    if abs(delta) < 0.005:
        return Change("=", "0%" if metric.kind != "rate" else "0.0 pp", None, 0.0)
    up = delta > 0
    return Change("▲" if up else "▼", label, up == metric.higher_is_better, score)


@dataclass
class Cell:
    metric: Metric
    value: float | None
    text: str
    tier: str | None
    basis: str
    change: Change | None
    trailing: dict[str, str]  # "4w"/"12w" -> text
    previous: str


@dataclass
class Row:
    group: str
    team: str | None
    cells: list[Cell]
    groups: dict[str, dict[str, Any] | None]  # period -> compute() dict, None where the group had none
    week: dict[str, Any]  # groups['week']: every row is a group of the report's week


@dataclass
class Report:
    title: str
    week: Week
    teams: tuple[str, ...]
    generated_at: dt.datetime
    org: Row
    team_rows: list[Row]
    service_rows: list[Row]
    highlights: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    slowest: list[dict[str, Any]]
    quality: dict[str, Any]
    trend: pd.DataFrame
    org_trend: pd.DataFrame
    charts: dict[str, bytes] = field(default_factory=dict)  # name -> PNG, filled by reports.charts
    # The state of the warehouse the numbers were computed on (db.snapshot: "snapshot 12 at ..." on a
    # lake), and on a lake the `dora metrics --as-of` value that reads that state again.
    snapshot: str | None = None

    @property
    def as_of(self) -> str | None:
        found = re.match(r"snapshot (\d+)\b", self.snapshot or "")
        return found.group(1) if found else None

    @property
    def periods(self) -> dict[str, tuple[dt.date, dt.date]]:
        return {
            "week": (self.week.start, self.week.end),
            "previous": (self.week.previous().start, self.week.previous().end),
            "4w": self.week.trailing(4),
            "12w": self.week.trailing(12),
        }

    @property
    def scope_label(self) -> str:
        return ", ".join(self.teams) if self.teams else "all teams"


def _scope(week: Week, period: str, group_by: str, teams: tuple[str, ...]) -> Scope:
    if period == "week":
        start, end = week.start, week.end
    elif period == "previous":
        start, end = week.previous().start, week.previous().end
    else:
        start, end = week.trailing(PERIODS[period])
    return Scope(start, end, group_by, teams=teams or None)


def _rows(per_period: dict[str, list[dict]], team_of: dict[str, str] | None) -> list[Row]:
    by_period = {p: {g["group"]: g for g in groups} for p, groups in per_period.items()}
    rows = []
    for name, now in by_period["week"].items():
        groups = {p: by_period[p].get(name) for p in PERIODS}
        cells = []
        for metric in METRICS:
            prev = groups["previous"]
            cells.append(
                Cell(
                    metric=metric,
                    value=now[metric.key],
                    text=text(metric, now[metric.key]),
                    tier=now["tiers"].get(metric.tier) if metric.tier else None,
                    basis=basis(metric, now),
                    change=change(metric, now[metric.key], prev[metric.key] if prev else None),
                    trailing={
                        p: text(metric, g[metric.key]) if (g := groups[p]) else "-" for p in ("4w", "12w")
                    },
                    previous=text(metric, prev[metric.key]) if prev else "-",
                )
            )
        rows.append(Row(name, team_of.get(name) if team_of else None, cells, groups, now))
    return rows


def build(
    con: duckdb.DuckDBPyConnection,
    week: Week,
    settings: ReportSettings | None = None,
    teams: tuple[str, ...] = (),
    tiers: Tiers | None = None,
    now: dt.datetime | None = None,
) -> Report:
    settings = settings or ReportSettings()
    teams = tuple(teams or settings.teams)
    services = catalog(con)["services"]
    if teams:
        unknown = sorted(set(teams) - set(services["team"]))
        if unknown:
            raise ValueError(
                f"unknown team {', '.join(unknown)}; known: {', '.join(sorted(set(services['team'])))}"
            )
    team_of = dict(zip(services["service"], services["team"], strict=True))
    repo_of = dict(zip(services["service"], services["repo"], strict=True))

    def groups(group_by: str) -> dict[str, list[dict]]:
        return {p: compute(con, _scope(week, p, group_by, teams), tiers) for p in PERIODS}

    org = _rows(groups("org"), None)[0]  # its group is "all", as in `dora metrics --group-by org`
    team_rows = _rows(groups("team"), None)
    service_rows = _rows(groups("service"), team_of)
    service_rows.sort(key=lambda r: (r.team or "", r.group))

    week_scope = _scope(week, "week", "service", teams)
    twelve = _scope(week, "12w", "team", teams)
    report = Report(
        title=settings.title,
        week=week,
        teams=teams,
        generated_at=(now or dt.datetime.now(dt.UTC)).replace(microsecond=0),
        org=org,
        team_rows=team_rows,
        service_rows=service_rows,
        highlights=[],
        failed=_failed(con, week_scope, repo_of, settings),
        incidents=_records(explain(con, "incidents", week_scope)),
        slowest=_slowest(con, week_scope, repo_of, settings),
        quality=_quality(con, org.week),
        trend=trend(con, twelve),
        org_trend=trend(con, Scope(twelve.start, twelve.end, "org", teams=twelve.teams)),
        snapshot=db.snapshot(con),
    )
    report.highlights = highlights(report)
    return report


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): (list(v) if hasattr(v, "tolist") else v) for k, v in row.items()} for row in rows]


def link(template: str, **values: Any) -> str | None:
    if any(v is None or v == "" for v in values.values()):
        return None
    return template.format(**values)


def _failed(
    con: duckdb.DuckDBPyConnection, scope: Scope, repo_of: dict, settings: ReportSettings
) -> list[dict[str, Any]]:
    rows = _records(explain(con, "failed_deployments", scope))
    for row in rows:
        row["url"] = link(settings.commit_url, repo=repo_of.get(row["service"]), sha=row["commit_sha"])
        row["signals"] = ", ".join(row["failure_signals"] or [])
        row["recovery"] = "unrecovered" if row["is_unrecovered"] else fmt.duration(row["recovery_hours"])
    return rows


def _slowest(
    con: duckdb.DuckDBPyConnection, scope: Scope, repo_of: dict, settings: ReportSettings
) -> list[dict[str, Any]]:
    frame = explain(con, "changes", scope)
    frame = frame[~frame["is_excluded"].astype(bool)].sort_values(
        ["lead_time_hours", "change_id"], ascending=[False, True]
    )
    rows = _records(frame.head(SLOWEST))
    for row in rows:
        repo = repo_of.get(row["service"])
        if row["pr_number"] is not None:
            row["pr_number"] = int(row["pr_number"])
            row["label"] = f"{repo}#{row['pr_number']}"
            row["url"] = link(settings.pr_url, repo=repo, number=row["pr_number"])
        else:
            row["label"] = f"{repo}@{row['commit_sha'][:7]}"
            row["url"] = link(settings.commit_url, repo=repo, sha=row["commit_sha"])
        row["lead_time"] = fmt.duration(row["lead_time_hours"])
        row["stages"] = " · ".join(
            f"{stage} {fmt.duration(row[f'{stage}_hours'])}"
            for stage in ("coding", "pickup", "review", "deploy")
            if row.get(f"{stage}_hours") is not None
        )
    return rows


def _quality(con: duckdb.DuckDBPyConnection, week_group: dict[str, Any]) -> dict[str, Any]:
    syncs = _records(sync_status(con))
    return {
        "counts": {
            "unattributed incidents": week_group["unattributed_incidents"],
            "excluded lead times": week_group["lead_time_excluded"],
            "unrecovered failures": week_group["unrecovered_failures"],
            "baseline deployments": week_group["baseline_deployments"],
            "deployments of unknown commits": week_group["unknown_sha_deployments"],
        },
        "syncs": syncs,
        "last_transform_at": db.get_meta(con, "last_transform_at"),
    }


def _evidence(metric: Metric, now: dict, before: dict) -> bool:
    """Enough rows in both weeks that a change means something, not one deployment more or less."""
    if metric.key == "lead_time_median_hours":
        return min(now["changes"], before["changes"]) >= 5
    if metric.key == "recovery_time_median_hours":
        return min(now["failed_deployments"], before["failed_deployments"]) >= 2
    return min(now["deployments"], before["deployments"]) >= 5


def highlights(report: Report, limit: int = 3) -> list[dict[str, Any]]:
    """Sentences from the data: largest improvements and regressions, tier changes, failures, incidents."""
    candidates: list[dict[str, Any]] = []
    for kind, rows in (("team", report.team_rows), ("service", report.service_rows)):
        for row in rows:
            before = row.groups["previous"]
            if before is None:
                continue
            for cell in row.cells:
                c = cell.change
                if c is None or c.good is None:
                    continue
                significant = c.score >= 0.4 if cell.metric.kind != "rate" else c.score >= 0.5
                if significant and _evidence(cell.metric, row.week, before):
                    direction = "up" if c.arrow == "▲" else "down"
                    amount = c.text if c.text != "new" else "from none"
                    candidates.append(
                        {
                            "kind": "improvement" if c.good else "regression",
                            "score": c.score + (0.01 if kind == "team" else 0),
                            "text": f"{row.group} ({kind}): {cell.metric.name.lower()} {cell.text}, "
                            f"{direction} "
                            f"{amount} from {cell.previous} ({cell.basis})",
                        }
                    )
    out: list[dict[str, Any]] = []
    for kind in ("improvement", "regression"):
        best = sorted((c for c in candidates if c["kind"] == kind), key=lambda c: -c["score"])[:limit]
        out.extend({"kind": kind, "text": c["text"]} for c in best)
    tiers: list[dict[str, str]] = []
    # one team chosen: its row is the organisation's row, say it once
    for row in [report.org, *(report.team_rows if len(report.team_rows) > 1 else [])]:
        before = row.groups["previous"]
        if before is None:  # nothing the week before to change from
            continue
        name = report.scope_label.capitalize() if row is report.org else f"{row.group} (team)"
        for cell in row.cells:
            old = before["tiers"].get(cell.metric.tier) if cell.metric.tier else None
            if cell.tier and old and cell.tier != old:
                better = TIER_ORDER.index(cell.tier) > TIER_ORDER.index(old)
                if cell.metric.tier == "deployment_frequency":  # its tier counts deployment days
                    days = (before["deployment_days"], row.week["deployment_days"])
                    why = f"deployment days {days[0]} → {days[1]}"
                else:
                    why = f"{cell.previous} → {cell.text}"
                tiers.append(
                    {
                        "kind": "tier up" if better else "tier down",
                        "text": f"{name}: {cell.metric.name.lower()} moved from {old} to {cell.tier} ({why})",
                    }
                )
    out.extend(tiers[:MAX_TIER_CHANGES])  # the organisation's first, then the teams'
    if len(tiers) > MAX_TIER_CHANGES:
        out.append(
            {"kind": "more", "text": f"{len(tiers) - MAX_TIER_CHANGES} more tier changes: see the team table"}
        )
    if report.failed:
        by_signal: dict[str, int] = {}
        for failed in report.failed:
            for signal in failed["failure_signals"] or []:
                by_signal[signal] = by_signal.get(signal, 0) + 1
        signals = ", ".join(f"{n} {s}" for s, n in sorted(by_signal.items(), key=lambda kv: (-kv[1], kv[0])))
        services = sorted({failed["service"] for failed in report.failed})
        out.append(
            {
                "kind": "failures",
                "text": f"{len(report.failed)} failed deployment{'s' if len(report.failed) != 1 else ''} "
                f"({', '.join(services)}); signals: {signals}",
            }
        )
    if report.incidents:
        unattributed = sum(1 for i in report.incidents if i["is_unattributed"])
        still_open = sum(1 for i in report.incidents if i["resolved_at"] is None)
        extra = [f"{unattributed} not attributed to a deployment"] if unattributed else []
        extra += [f"{still_open} still open"] if still_open else []
        out.append(
            {
                "kind": "incidents",
                "text": f"{len(report.incidents)} new incident{'s' if len(report.incidents) != 1 else ''}"
                + (f" ({'; '.join(extra)})" if extra else ""),
            }
        )
    return out
