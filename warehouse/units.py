"""How the metrics' units read as text: durations in hours, rates, deployments per day.

The one place the dashboard, the weekly report and the command line format a number, so the same value
reads the same everywhere. It sits beside the metrics API that defines the units (hours, shares, per day)
and imports nothing of the project, so every layer above can use it. Two styles differ on purpose: long
words for the dashboard ('19.6 hours', '–' when empty) and short ones for e-mail and terminal tables
('19.6 h', '-').
"""

from __future__ import annotations

import math
import sys

LONG_UNITS = ("minutes", "hours", "days")
SHORT_UNITS = ("min", "h", "d")


def missing(value: object) -> bool:
    """None, pandas' NA or NaN: a number the data cannot give. (A value can only be pandas' NA once pandas
    is loaded, and the command line should not pay for loading it.)"""
    pandas = sys.modules.get("pandas")
    return (
        value is None
        or (pandas is not None and value is pandas.NA)
        or (isinstance(value, float) and math.isnan(value))
    )


def duration(hours: float | None, *, short: bool = False, empty: str = "–") -> str:
    """'45 minutes', '19.6 hours', '3.4 days' (short: '45 min', '19.6 h', '3.4 d'): the unit a person
    would pick for that size."""
    if hours is None or missing(hours):
        return empty
    minutes, hours_unit, days = SHORT_UNITS if short else LONG_UNITS
    sign = "-" if hours < 0 else ""
    h = abs(hours)
    if h < 1:
        return f"{sign}{h * 60:.0f} {minutes}"
    if h < 48:
        return f"{sign}{h:.1f} {hours_unit}"
    return f"{sign}{h / 24:.1f} {days}"


def percent(rate: float | None, digits: int = 0, *, empty: str = "–") -> str:
    """A share as a percentage: 0.2468 -> '25%' (digits=1: '24.7%')."""
    if rate is None or missing(rate):
        return empty
    return f"{rate * 100:.{digits}f}%"


def per_day(rate: float | None, *, empty: str = "–") -> str:
    """A rate as it is computed, for readers who compare numbers: '0.43/day'."""
    if rate is None or missing(rate):
        return empty
    return f"{rate:.2f}/day"


def frequency(rate: float | None, *, empty: str = "–") -> str:
    """Deployments per day in the unit that avoids tiny fractions: '3.2 per day', '2.1 per week'."""
    if rate is None or missing(rate):
        return empty
    if rate >= 1:
        return f"{rate:.1f} per day"
    if rate * 7 >= 1:
        return f"{rate * 7:.1f} per week"
    if rate > 0:
        return f"{rate * 30:.1f} per month"
    return "none"
