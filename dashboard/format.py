"""Human words and units for what the metrics API returns: durations, rates, tiers, column names.

Pure functions (no Streamlit), shared by the charts and the views, so a number reads the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd

# The numbers themselves read the same in the dashboard, the report and the CLI: warehouse.units owns them.
from warehouse.units import duration as duration
from warehouse.units import frequency as frequency
from warehouse.units import missing as missing
from warehouse.units import percent as percent

# A time as the metrics API returns it: a Timestamp (a datetime), or empty.
Moment = dt.datetime | dt.date | str | None

TIERS = ("elite", "high", "medium", "low")
# One colour per tier everywhere (badges, bands, points). Mid-saturation hues that read on white and on
# the dark theme's near-black; the word is always shown beside the colour, so none depends on it.
TIER_COLOURS = {"elite": "#2e9e5b", "high": "#3d7fd9", "medium": "#e08a00", "low": "#d64545"}
NO_TIER_COLOUR = "#8c8c8c"
# Streamlit's badge palette names for the same tiers.
BadgeColour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"]
TIER_BADGES: dict[str, BadgeColour] = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}

METRIC_TITLES = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Lead time",
    "change_failure_rate": "Change failure rate",
    "recovery_time": "Recovery time",
    "rework_rate": "Rework rate",
}


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def tier_word(tier: str | None) -> str:
    return tier.capitalize() if tier else "No tier"


def tier_colour(tier: str | None) -> str:
    return TIER_COLOURS.get(tier or "", NO_TIER_COLOUR)


def when_short(value: Moment) -> str:
    """A UTC timestamp as '2026-03-02 14:05' (the heading says UTC), '–' when empty."""
    if value is None or pd.isna(value):
        return "–"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def when(value: Moment) -> str:
    """A UTC timestamp as '2026-03-02 14:05 UTC'."""
    short = when_short(value)
    return short if short == "–" else f"{short} UTC"


def period(start: dt.date, end: dt.date) -> str:
    days = (end - start).days + 1
    return f"{start:%d %b %Y} – {end:%d %b %Y} ({count(days, 'day')})"


# The rows behind a number (metrics.explain) and the other tables: column -> heading a manager reads.
COLUMN_LABELS = {
    "deployment_id": "Deployment",
    "service": "Service",
    "team": "Team",
    "environment": "Environment",
    "commit_sha": "Commit",
    "started_at": "Started (UTC)",
    "finished_at": "Finished (UTC)",
    "is_baseline": "First deployment (baseline)",
    "is_unknown_sha": "Commit unknown",
    "shipped_commits": "Commits shipped",
    "is_failed": "Failed",
    "failure_signals": "Failed because of",
    "incident_ids": "Incidents",
    "remediated_by": "Remediated by deployment",
    "recovered_at": "Recovered (UTC)",
    "recovery_hours": "Recovery time (hours)",
    "is_unrecovered": "Still failing",
    "is_unplanned": "Unplanned",
    "unplanned_reasons": "Unplanned because of",
    "change_id": "Change",
    "pr_number": "Pull request",
    "title": "Title",
    "author": "Author",
    "lead_time_hours": "Lead time (hours)",
    "is_excluded": "Excluded",
    "excluded_reason": "Why excluded",
    "coding_hours": "Coding (hours)",
    "pickup_hours": "Pickup (hours)",
    "review_hours": "Review (hours)",
    "deploy_hours": "Deploy (hours)",
    "incident_id": "Incident",
    "severity": "Severity",
    "created_at": "Opened (UTC)",
    "resolved_at": "Resolved (UTC)",
    "attributed_by": "Attributed by",
    "is_unattributed": "Unattributed",
    "fix_deployment_id": "Fixed by deployment",
    "time_to_resolve_hours": "Time to resolve (hours)",
    "link": "Link",
}
# Hours stay numbers (sortable, unit in the heading), rounded; times become ISO text to the minute, which
# sorts like the times themselves and shows a dash when empty (Streamlit would show a missing time as None).
HOUR_COLUMNS = {c for c in COLUMN_LABELS if c.endswith("_hours")}
TIME_COLUMNS = {c for c in COLUMN_LABELS if c.endswith("_at")}
FLAG_COLUMNS = {c for c in COLUMN_LABELS if c.startswith("is_")}


def humanize(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """The table as shown and downloaded: chosen columns, human headings, units and words.

    Durations stay numbers so that the table sorts right (an empty one shows faded); times are ISO text.
    """
    frame = frame[columns] if columns is not None else frame
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if column in HOUR_COLUMNS:
            shown = pd.to_numeric(values, errors="coerce").round(1)
        elif column in TIME_COLUMNS:
            shown = values.map(when_short)
        elif column in FLAG_COLUMNS:
            shown = values.map(lambda v: "–" if missing(v) else ("yes" if v else "no"))
        elif column == "pr_number":
            shown = values.map(lambda v: "–" if missing(v) else f"#{int(v)}")
        elif column == "commit_sha":
            shown = values.map(lambda v: "–" if missing(v) else str(v)[:12])
        else:
            shown = values.map(_cell)
        out[COLUMN_LABELS.get(column, column.replace("_", " ").capitalize())] = shown
    return out.reset_index(drop=True)


def _cell(value: object) -> object:
    items = value.tolist() if hasattr(value, "tolist") else value  # DuckDB lists arrive as arrays
    if isinstance(items, list | tuple):
        return ", ".join(map(str, items)) if items else "–"
    if missing(value):
        return "–"
    return value


def csv_bytes(shown: pd.DataFrame) -> bytes:
    """Exactly the table shown, as UTF-8 CSV (with a BOM so spreadsheet programs read accents right)."""
    return shown.to_csv(index=False).encode("utf-8-sig")
