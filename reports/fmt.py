"""How numbers read in a report: warehouse.units in its short style ('19.6 h', '-' when empty), named once so
that the HTML, the Markdown, the terminal table of `dora metrics` and the tests agree."""

from __future__ import annotations

from warehouse import units


def duration(hours: float | None) -> str:
    return units.duration(hours, short=True, empty="-")


def pct(value: float | None, digits: int = 1) -> str:
    return units.percent(value, digits, empty="-")


def per_day(value: float | None) -> str:
    return units.per_day(value, empty="-")
