"""Charts with a duration on a log axis (durations span minutes to months): the lead-time and recovery
histograms, the recovery scatter and the comparison of lead time against change failure rate.

Pure functions from frames to Plotly figures, like dashboard.charts, whose layout and colours they share.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import format as fmt
from dashboard.charts import MARK_COLOUR, SERIES_COLOUR, layout
from warehouse.metric_settings import Tiers

# An SVG scatter of more points than this takes seconds to draw: then show the distribution instead.
SCATTER_MAX_POINTS = 2_000
SCATTER_LABELS_MAX = 30

DURATION_TICKS = [
    (1 / 60, "1 min"),
    (10 / 60, "10 min"),
    (1, "1 hour"),
    (4, "4 hours"),
    (24, "1 day"),
    (72, "3 days"),
    (168, "1 week"),
    (720, "30 days"),
    (2160, "90 days"),
]


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    picked = [(v, t) for v, t in DURATION_TICKS if low <= v <= high] or DURATION_TICKS[2:5]
    return [math.log10(v) for v, _ in picked], [t for _, t in picked]


def lead_time_histogram(hours: pd.Series, median: float | None, p90: float | None) -> go.Figure:
    """Lead times on a log scale (they span minutes to months), median and 90th percentile marked."""
    return duration_histogram(hours, median, p90, "change", "Lead time")


def duration_histogram(
    hours: pd.Series, median: float | None, p90: float | None, noun: str, axis: str
) -> go.Figure:
    """Durations in quarter-decade bins on a log scale, median and 90th percentile marked."""
    values = pd.to_numeric(hours, errors="coerce").dropna()
    values = values[values > 0]
    fig = go.Figure()
    if len(values):
        logs = np.log10(values.to_numpy())
        low, high = math.floor(logs.min() * 4) / 4, math.ceil(logs.max() * 4) / 4 + 0.25
        edges = np.arange(low, high + 1e-9, 0.25)
        counts, edges = np.histogram(logs, bins=edges)
        centres = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(
            go.Bar(
                x=centres,
                y=counts,
                width=0.24,
                marker_color=SERIES_COLOUR,
                name=noun.capitalize() + "s",
                hovertext=[
                    f"{fmt.duration(10**a)} to {fmt.duration(10**b)}: {fmt.count(int(n), noun)}"
                    for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)
                ],
                hoverinfo="text",
            )
        )
        tickvals, ticktext = log_ticks(10**low, 10**high)
        fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, title=f"{axis} (log scale)")
        shapes, notes = [], []
        for value, label, dash in ((median, "median", "solid"), (p90, "90th percentile", "dash")):
            if value is not None and not fmt.missing(value) and value > 0:
                x = math.log10(value)
                shapes.append(
                    {
                        "type": "line",
                        "xref": "x",
                        "yref": "paper",
                        "x0": x,
                        "x1": x,
                        "y0": 0,
                        "y1": 1,
                        "line": {"color": MARK_COLOUR, "width": 2, "dash": dash},
                    }
                )
                notes.append(
                    {
                        "x": x,
                        "xref": "x",
                        "y": 1,
                        "yref": "paper",
                        "yanchor": "bottom",
                        "text": f"{label}: {fmt.duration(value)}",
                        "showarrow": False,
                        "font": {"size": 11, "color": MARK_COLOUR},
                    }
                )
        fig.update_layout(shapes=shapes, annotations=notes)
    fig.update_yaxes(title=noun.capitalize() + "s")
    return layout(fig, showlegend=False, bargap=0.05)


def comparison_scatter(groups: list[dict]) -> go.Figure:
    """Throughput against stability: median lead time against change failure rate, size = deployments."""
    fig = go.Figure()
    rows = [
        g
        for g in groups
        if not fmt.missing(g.get("lead_time_median_hours")) and not fmt.missing(g.get("change_failure_rate"))
    ]
    if rows:
        largest = max(g["deployments"] for g in rows) or 1
        fig.add_trace(
            go.Scatter(
                x=[math.log10(max(g["lead_time_median_hours"], 1 / 60)) for g in rows],
                y=[g["change_failure_rate"] * 100 for g in rows],
                # names beside the bubbles while they stay readable; beyond that, on hover only
                mode="markers+text" if len(rows) <= SCATTER_LABELS_MAX else "markers",
                text=[g["group"] for g in rows],
                textposition="top center",
                marker={
                    "size": [12 + 38 * math.sqrt(g["deployments"] / largest) for g in rows],
                    "color": [fmt.tier_colour(g["tiers"]["change_failure_rate"]) for g in rows],
                    "opacity": 0.75,
                    "line": {"width": 1, "color": "rgba(60,60,60,0.6)"},
                },
                hovertext=[
                    f"<b>{g['group']}</b><br>Median lead time: {fmt.duration(g['lead_time_median_hours'])} "
                    f"({fmt.tier_word(g['tiers']['lead_time'])})<br>Change failure rate: "
                    f"{fmt.percent(g['change_failure_rate'], 1)} "
                    f"({fmt.tier_word(g['tiers']['change_failure_rate'])})"
                    f"<br>{fmt.count(g['deployments'], 'deployment')}"
                    for g in rows
                ],
                hoverinfo="text",
                customdata=[g["group"] for g in rows],
            )
        )
        logs = [math.log10(max(g["lead_time_median_hours"], 1 / 60)) for g in rows]
        tickvals, ticktext = log_ticks(10 ** (min(logs) - 0.5), 10 ** (max(logs) + 0.5))
        fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, range=[min(logs) - 0.4, max(logs) + 0.4])
    fig.update_xaxes(title="Median lead time (log scale; left is faster)")
    fig.update_yaxes(title="Change failure rate (%; lower is more stable)", rangemode="tozero")
    return layout(fig, height=420, showlegend=False)


def _failures(
    rows: pd.DataFrame,
    y: Sequence[float] | pd.Series,
    hours: Sequence[float] | pd.Series,
    name: str,
    state: str,
    colour: str,
    symbol: str,
    size: int,
) -> go.Scatter:
    """Failed deployments as points at `y`, each hover saying how long it was `state` ('recovered')."""
    return go.Scatter(
        x=rows["finished_at"],
        y=y,
        mode="markers",
        name=name,
        marker={"size": size, "color": colour, "symbol": symbol},
        hovertext=[
            f"{s} {d}<br>failed {fmt.when(f)}, {state} after {fmt.duration(h)}"
            for s, d, f, h in zip(
                rows["service"], rows["deployment_id"], rows["finished_at"], hours, strict=True
            )
        ],
        hoverinfo="text",
        customdata=rows["deployment_id"],
    )


def recovery_chart(
    rows: pd.DataFrame, tiers: Tiers | None = None, now: dt.datetime | None = None
) -> go.Figure:
    """Each failed deployment: when it happened and how long recovery took (log scale). Still-failing ones
    are crosses along the top (their open time in the hover), so they do not squash the others."""
    tiers = tiers or Tiers()
    fig = go.Figure()
    if not len(rows):
        return layout(fig, height=340)
    unrecovered = rows["is_unrecovered"].fillna(False).astype(bool)
    done = rows[~unrecovered & rows["recovery_hours"].notna()]
    still = rows[unrecovered]
    hours = done["recovery_hours"].clip(lower=1 / 60)
    t = tiers.recovery_time
    top = max([float(hours.max()) if len(hours) else 1.0, t["medium"]]) * 2
    if len(done):
        fig.add_trace(
            _failures(
                done, hours, done["recovery_hours"], "Recovered", "recovered", SERIES_COLOUR, "circle", 8
            )
        )
    if len(still):
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        open_hours = [
            (now - pd.Timestamp(f).to_pydatetime()).total_seconds() / 3600 for f in still["finished_at"]
        ]
        fig.add_trace(
            _failures(
                still, [top] * len(still), open_hours, "Still failing", "still failing", MARK_COLOUR, "x", 12
            )
        )
    shapes, notes = [], []
    for tier, value in (("elite", t["elite"]), ("high", t["high"]), ("medium", t["medium"])):
        colour = fmt.tier_colour(tier)
        # on a log axis shapes take data values, annotations their log10
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "yref": "y",
                "x0": 0,
                "x1": 1,
                "y0": value,
                "y1": value,
                "line": {"color": colour, "width": 1, "dash": "dot"},
            }
        )
        notes.append(
            {
                "x": 0,
                "xref": "paper",
                "xanchor": "left",
                "y": math.log10(value),
                "yref": "y",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 10, "color": colour},
                "text": f"{fmt.tier_word(tier)}: under {fmt.duration(value)}",
            }
        )
    low = float(hours.min()) if len(hours) else 0.1
    ticks = [(v, label) for v, label in DURATION_TICKS if low / 2 <= v <= top]
    return layout(
        fig,
        height=340,
        shapes=shapes,
        annotations=notes,
        yaxis={
            "type": "log",
            "title": {"text": "Recovery time (log scale)"},
            "tickvals": [v for v, _ in ticks],
            "ticktext": [label for _, label in ticks],
            "range": [math.log10(low / 2), math.log10(top * 1.6)],
        },
    )
