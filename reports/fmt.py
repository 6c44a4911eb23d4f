"""How numbers read in a report: one place, so the HTML, the Markdown and the tests agree."""

from __future__ import annotations


def duration(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def pct(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.1f}%"


def per_day(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}/day"
