"""Pure functions from frames (as the metrics API returns them) to Plotly figures. No Streamlit here.

Colours come from dashboard.format (one per tier); backgrounds stay transparent so the Streamlit theme,
light or dark, shows through. Every tier band carries its word too, so no figure depends on colour alone.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import format as fmt
from warehouse import metrics
from warehouse.metric_settings import Tiers

HEIGHT = 280
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SERIES_COLOUR = "#5b6ee1"
# twelve distinguishable hues (Tableau 10 and two more), so the demo's twelve services never share one
QUALITATIVE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#17becf",
    "#8c564b",
    "#e15759",
]
BAND_OPACITY = 0.13
MARK_COLOUR = "#d64545"

# What each metric's weekly trend plots: (column, axis title, value kind)
TREND_SERIES = {
    "deployment_frequency": ("deployment_days", "Days with a deployment", "days"),
    "lead_time": ("lead_time_median_hours", "Median lead time (hours)", "hours"),
    "change_failure_rate": ("change_failure_rate", "Change failure rate", "rate"),
    "recovery_time": ("recovery_time_median_hours", "Median recovery time (hours)", "hours"),
    "rework_rate": ("rework_rate", "Rework rate", "rate"),
}
STAGES = {
    "coding_median_hours": ("Coding", "first commit to pull request opened", "#7b8fe8"),
    "pickup_median_hours": ("Pickup", "opened to first review", "#e8a23a"),
    "review_median_hours": ("Review", "first review to merge", "#2ca4a4"),
    "deploy_median_hours": ("Deploy", "merge to production", "#c2569b"),
}


def _band(low: float, high: float, colour: str) -> dict:
    return {
        "type": "rect",
        "xref": "paper",
        "yref": "y",
        "x0": 0,
        "x1": 1,
        "y0": low,
        "y1": high,
        "fillcolor": colour,
        "opacity": BAND_OPACITY,
        "line": {"width": 0},
        "layer": "below",
    }


def _note(x: float, y: float, text: str, colour: str) -> dict:
    return {
        "x": x,
        "xref": "paper",
        "xanchor": "right",
        "y": y,
        "yref": "y",
        "yanchor": "middle",
        "text": text,
        "showarrow": False,
        "font": {"size": 10, "color": colour},
    }


def layout(fig: go.Figure, height: int = HEIGHT, **extra) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        hovermode="closest",
        **extra,
    )
    return fig


def tier_bands(metric: str, tiers: Tiers, days_per_bucket: int = 7) -> list[tuple[str, float, float]]:
    """(tier, low, high) bands of a trend's y axis, in the units TREND_SERIES plots (hours, rates, days):
    the edges of warehouse.metrics, which tiers the numbers."""
    return metrics.tier_bands(metric, tiers, days_per_bucket)


def _hover_value(kind: str, value: float) -> str:
    if kind == "hours":
        return fmt.duration(value)
    if kind == "rate":
        return fmt.percent(value, 1)
    return f"{value:g}"


def _rests_on(metric: str, row: pd.Series) -> str:
    if metric == "lead_time":
        return fmt.count(int(row["changes"]), "change")
    if metric == "recovery_time":
        recovered = int(row["failed_deployments"]) - int(row["unrecovered_failures"])
        return fmt.count(recovered, "recovered failure")
    if metric == "change_failure_rate":
        return f"{int(row['failed_deployments'])} of {fmt.count(int(row['deployments']), 'deployment')}"
    if metric == "rework_rate":
        return f"{int(row['unplanned_deployments'])} of {fmt.count(int(row['deployments']), 'deployment')}"
    return fmt.count(int(row["deployments"]), "deployment")


def trend_chart(
    trend: pd.DataFrame, metric: str, tiers: Tiers | None = None, title: str | None = None
) -> go.Figure:
    """A metric per week (a line per group) over its tier bands, each band labelled with its tier."""
    column, axis, kind = TREND_SERIES[metric]
    tiers = tiers or Tiers()
    fig = go.Figure()
    groups = list(dict.fromkeys(trend["group"])) if len(trend) else []
    top = 0.0
    for i, group in enumerate(groups):
        rows = trend[trend["group"] == group]
        values = rows[column].astype(float)
        if values.notna().any():
            top = max(top, float(values.max()))
        partial = rows["days"] < 7
        hover = [
            f"Week of {b:%d %b %Y}{' (partial: ' + str(d) + ' days)' if p else ''}<br>"
            f"{axis}: {_hover_value(kind, v) if not fmt.missing(v) else 'no data'}<br>{_rests_on(metric, r)}"
            for b, d, p, v, (_, r) in zip(
                rows["bucket_start"], rows["days"], partial, values, rows.iterrows(), strict=True
            )
        ]
        y = values * 100 if kind == "rate" else values
        fig.add_trace(
            go.Scatter(
                x=[pd.Timestamp(b) for b in rows["bucket_start"]],
                y=y,
                mode="lines+markers",
                name=str(group),
                line={
                    "color": SERIES_COLOUR if len(groups) == 1 else QUALITATIVE[i % len(QUALITATIVE)],
                    "width": 2,
                },
                # a week cut by the period's edge is drawn hollow: fewer days, so not comparable
                marker={"size": 7, "symbol": ["circle-open" if p else "circle" for p in partial]},
                connectgaps=False,
                hovertext=hover,
                hoverinfo="text",
                customdata=[b.isoformat() for b in rows["bucket_start"]],
            )
        )
    scale = 100 if kind == "rate" else 1
    bands = tier_bands(metric, tiers)
    finite = [b[2] for b in bands if math.isfinite(b[2])]
    if kind == "days":
        ceiling = 7.4
    elif kind == "rate":
        ceiling = max(top, (finite[-1] if finite else 0) * 1.3, 0.01) * 1.12
    else:
        # up to a little past the next tier boundary above the data, so one sees how far it is
        above = [b[2] for b in bands if math.isfinite(b[2]) and b[2] > top]
        ceiling = max(top * 1.15, min(above) * 1.1 if above else 0, 1.0)
    # Shapes and annotations as plain dicts in one layout update: add_hrect/add_annotation re-validate the
    # whole layout on every call, which made the bands the slowest part of the figure.
    shapes, notes = [], []
    for tier, low, high in bands:
        if low >= ceiling:
            continue
        high = min(high, ceiling)
        colour = fmt.tier_colour(tier)
        shapes.append(_band(low * scale, high * scale, colour))
        notes.append(_note(1, (low + high) / 2 * scale, fmt.tier_word(tier), colour))
    return layout(
        fig,
        title={"text": title, "font": {"size": 14}} if title else None,
        showlegend=len(groups) > 1,
        shapes=shapes,
        annotations=notes,
        yaxis={
            "title": {"text": axis + (" (%)" if kind == "rate" else "")},
            "range": [0, ceiling * scale],
            "zeroline": False,
        },
        xaxis={"title": {"text": None}},
    )


def deployments_chart(trend: pd.DataFrame, grain: str = "week") -> go.Figure:
    """Deployments per week (or day), stacked per group when there are several."""
    fig = go.Figure()
    groups = list(dict.fromkeys(trend["group"])) if len(trend) else []
    for i, group in enumerate(groups):
        rows = trend[trend["group"] == group]
        label = "Week of" if grain == "week" else "Day"
        fig.add_trace(
            go.Bar(
                x=[pd.Timestamp(b) for b in rows["bucket_start"]],
                y=rows["deployments"],
                name=str(group),
                marker_color=SERIES_COLOUR if len(groups) == 1 else QUALITATIVE[i % len(QUALITATIVE)],
                hovertext=[
                    f"{group}<br>{label} {b:%d %b %Y}: {fmt.count(int(n), 'deployment')}"
                    + (f" on {fmt.count(int(d), 'day')}" if grain == "week" else "")
                    for b, n, d in zip(
                        rows["bucket_start"], rows["deployments"], rows["deployment_days"], strict=True
                    )
                ],
                hoverinfo="text",
                customdata=[b.isoformat() for b in rows["bucket_start"]],
            )
        )
    fig.update_yaxes(title="Deployments per " + grain)
    return layout(fig, barmode="stack", showlegend=1 < len(groups) <= 12)


def calendar_heatmap(daily: pd.DataFrame) -> go.Figure:
    """Deployment days as a calendar: a column per ISO week, a row per weekday, colour = deployments."""
    frame = daily.groupby("bucket_start", as_index=False)["deployments"].sum() if len(daily) else daily
    fig = go.Figure()
    if len(frame):
        days = pd.to_datetime(frame["bucket_start"])
        weeks = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.date
        grid = pd.DataFrame(
            {"week": weeks, "weekday": days.dt.day_of_week, "n": frame["deployments"], "day": days.dt.date}
        )
        columns = sorted(grid["week"].unique())
        z = np.full((7, len(columns)), np.nan)
        text = np.full((7, len(columns)), "", dtype=object)
        index = {w: i for i, w in enumerate(columns)}
        for week, weekday, n, day in zip(grid["week"], grid["weekday"], grid["n"], grid["day"], strict=True):
            z[weekday, index[week]] = n
            text[weekday, index[week]] = f"{day:%a %d %b %Y}: {fmt.count(int(n), 'deployment')}"
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=[pd.Timestamp(w) for w in columns],
                y=WEEKDAYS,
                hoverinfo="skip",
                xgap=2,
                ygap=2,
                colorscale=[[0, "rgba(140,140,140,0.15)"], [0.0001, "#c6dbef"], [1, "#08306b"]],
                zmin=0,
                colorbar={"title": {"text": "Deployments"}, "thickness": 10},
            )
        )
        # Streamlit reports clicks on points, not on heatmap cells: an invisible marker on each day
        # carries its hover text and its date, and shows faintly once clicked.
        fig.add_trace(
            go.Scatter(
                x=[pd.Timestamp(w) for w in grid["week"]],
                y=[WEEKDAYS[d] for d in grid["weekday"]],
                mode="markers",
                marker={"size": 16, "symbol": "square", "color": "#000000", "opacity": 0},
                selected={"marker": {"opacity": 0.35}},
                unselected={"marker": {"opacity": 0}},
                customdata=[d.isoformat() for d in grid["day"]],
                hovertext=[text[w, index[c]] for w, c in zip(grid["weekday"], grid["week"], strict=True)],
                hoverinfo="text",
                showlegend=False,
            )
        )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=None, showgrid=False)
    return layout(fig, height=250)


def stage_breakdown(trend: pd.DataFrame) -> go.Figure:
    """Median hours of each pull-request stage per week, stacked (pooled over the groups in `trend`)."""
    fig = go.Figure()
    for column, (name, meaning, colour) in STAGES.items():
        if column not in trend:
            continue
        fig.add_trace(
            go.Bar(
                x=[pd.Timestamp(b) for b in trend["bucket_start"]],
                y=trend[column],
                name=f"{name} ({meaning})",
                marker_color=colour,
                hovertext=[
                    f"Week of {b:%d %b %Y}<br>{name}, {meaning}: {fmt.duration(v)} (median)"
                    for b, v in zip(trend["bucket_start"], trend[column], strict=True)
                ],
                hoverinfo="text",
                customdata=[b.isoformat() for b in trend["bucket_start"]],
            )
        )
    fig.update_yaxes(title="Median hours per stage")
    return layout(fig, barmode="stack", height=320, legend_traceorder="normal")


def signals_chart(rows: pd.DataFrame, column: str, title: str | None = None) -> go.Figure:
    """How many deployments had each signal (failure signals or unplanned reasons), per week."""
    fig = go.Figure()
    if len(rows):
        exploded = rows[["finished_at", column]].explode(column).dropna()
        if len(exploded):
            stamps = pd.to_datetime(exploded["finished_at"])
            exploded = exploded.assign(
                week=(stamps - pd.to_timedelta(stamps.dt.day_of_week, unit="D")).dt.normalize()
            )
            counts = exploded.groupby(["week", column]).size().reset_index(name="n")
            for i, (signal, part) in enumerate(counts.groupby(column, sort=True)):
                fig.add_trace(
                    go.Bar(
                        x=part["week"],
                        y=part["n"],
                        name=str(signal).capitalize(),
                        marker_color=QUALITATIVE[i % len(QUALITATIVE)],
                        hovertext=[
                            f"Week of {w:%d %b %Y}: {fmt.count(int(n), 'deployment')} with {signal}"
                            for w, n in zip(part["week"], part["n"], strict=True)
                        ],
                        hoverinfo="text",
                    )
                )
    fig.update_yaxes(title="Deployments")
    return layout(fig, barmode="stack", title={"text": title, "font": {"size": 14}} if title else None)


CI_TOP = 8


def ci_chart(trend: pd.DataFrame, column: str, axis: str, top: int = CI_TOP) -> go.Figure:
    """A CI figure per week, a line per pipeline (the `top` busiest; the rest in the table)."""
    fig = go.Figure()
    if len(trend):
        label = trend["service"] + " · " + trend["pipeline"]
        unit = " %" if column == "failure_rate" else " minutes"
        busiest = trend.assign(label=label).groupby("label")["runs"].sum().nlargest(top).index
        for i, name in enumerate(busiest):
            rows = trend[label == name]
            y = rows[column] * 100 if column == "failure_rate" else rows[column]
            fig.add_trace(
                go.Scatter(
                    x=[pd.Timestamp(b) for b in rows["bucket_start"]],
                    y=y,
                    mode="lines+markers",
                    name=name,
                    line={"color": QUALITATIVE[i % len(QUALITATIVE)]},
                    hovertext=[
                        f"{name}<br>Week of {b:%d %b %Y}: {v:.1f}{unit} over {fmt.count(int(n), 'run')}"
                        for b, v, n in zip(rows["bucket_start"], y, rows["runs"], strict=True)
                    ],
                    hoverinfo="text",
                )
            )
    fig.update_yaxes(title=axis, rangemode="tozero")
    return layout(fig, height=300)


def sparklines(trend: pd.DataFrame, column: str) -> dict[str, list[float]]:
    """Per group, the weekly values of `column` in order, for a table's line-chart column (gaps as 0)."""
    out: dict[str, list[float]] = {}
    for group, rows in trend.groupby("group", sort=False):
        values = pd.to_numeric(rows.sort_values("bucket_start")[column], errors="coerce")
        out[str(group)] = [0.0 if fmt.missing(v) else float(v) for v in values]
    return out
