"""The sidebar filters, shared by every page and kept in the URL (a copied link reproduces the view)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from warehouse.metrics import Scope

PRESETS = {
    "last-30": "Last 30 days",
    "last-90": "Last 90 days",
    "last-180": "Last 180 days",
    "quarter": "Quarter to date",
    "custom": "Custom range",
}
DEFAULT_PRESET = "last-90"
GROUPINGS = {"service": "Service", "team": "Team"}


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    teams: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    environments: tuple[str, ...] | None = None
    group_by: str = "service"
    preset: str = DEFAULT_PRESET

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def scope(self, group_by: str = "org") -> Scope:
        """The filters as a metrics scope; pooled into one group ('all') unless group_by says otherwise."""
        return Scope(self.start, self.end, group_by, self.services, self.teams, self.environments)

    def previous(self) -> Filters:
        """The period of equal length just before this one, same services and environments."""
        return replace(
            self, start=self.start - dt.timedelta(days=self.days), end=self.start - dt.timedelta(days=1)
        )

    def describe(self) -> str:
        parts = []
        if self.teams:
            parts.append("team " + ", ".join(self.teams))
        if self.services:
            parts.append("service " + ", ".join(self.services))
        if self.environments:
            parts.append("environment " + ", ".join(self.environments))
        return "; ".join(parts) if parts else "all services and production environments"


def anchor(last_deployment: dt.date | None, today: dt.date | None = None) -> dt.date:
    """'Last N days' counts back from today, or from the newest data when that is older."""
    today = today or dt.datetime.now(dt.UTC).date()
    return min(today, last_deployment) if last_deployment else today


def preset_range(preset: str, end: dt.date) -> tuple[dt.date, dt.date]:
    if preset == "quarter":
        return dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    days = int(preset.split("-")[1]) if preset.startswith("last-") else 90
    return end - dt.timedelta(days=days - 1), end


def sidebar(catalog: dict) -> Filters:
    """Draw the filters in the sidebar and return what they select."""
    services: pd.DataFrame = catalog["services"]
    end = anchor(catalog["last_deployment"])
    with st.sidebar:
        st.subheader("Filters")
        preset = st.selectbox(
            "Period",
            list(PRESETS),
            index=list(PRESETS).index(DEFAULT_PRESET),
            format_func=PRESETS.__getitem__,
            key="period",
            bind="query-params",
            help="'Last' counts back from the newest deployment in the warehouse when that is before today.",
        )
        start, last = preset_range(preset, end)
        if preset == "custom":
            picked = st.date_input(
                "From – to (UTC, inclusive)",
                value=(start, last),
                key="dates",
                bind="query-params",
                format="YYYY-MM-DD",
                min_value=dt.date(2000, 1, 1),
                max_value=max(end, dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=366),
            )
            if isinstance(picked, tuple | list) and len(picked) == 2:
                start, last = picked
            elif isinstance(picked, tuple | list) and len(picked) == 1:
                start = last = picked[0]
            start, last = min(start, last), max(start, last)
        teams = sorted(services["team"].unique())
        chosen_teams = st.multiselect("Team", teams, key="team", bind="query-params", placeholder="All teams")
        pool = services[services["team"].isin(chosen_teams)] if chosen_teams else services
        options = sorted(pool["service"])
        if st.session_state.get("service"):
            kept = [s for s in st.session_state["service"] if s in options]
            if kept != st.session_state["service"]:
                st.session_state["service"] = kept
        chosen_services = st.multiselect(
            "Service", options, key="service", bind="query-params", placeholder="All services"
        )
        environments = st.multiselect(
            "Production environment",
            catalog["environments"],
            key="env",
            bind="query-params",
            placeholder="All production environments",
            help="The five metrics count successful deployments to production environments only.",
        )
        group_by = (
            st.segmented_control(
                "Compare by",
                list(GROUPINGS),
                format_func=GROUPINGS.__getitem__,
                default="service",
                key="group",
                bind="query-params",
                selection_mode="single",
            )
            or "service"
        )
    return Filters(
        start=start,
        end=last,
        teams=tuple(chosen_teams) or None,
        services=tuple(chosen_services) or None,
        environments=tuple(environments) or None,
        group_by=group_by,
        preset=preset,
    )
