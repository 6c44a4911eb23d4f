"""The report's charts as static PNGs (matplotlib, no browser: about 0.5 s each), and the same
charts as Plotly figures for `--interactive`.

Pure functions of the frames in a Report: nothing here queries the warehouse.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"]
INK, MUTED, GRID, ORG = "#1f2937", "#6b7280", "#e5e7eb", "#111827"
STAGES = (
    ("coding_median_hours", "coding", "#93c5fd"),
    ("pickup_median_hours", "pickup", "#fcd34d"),
    ("review_median_hours", "review", "#6ee7b7"),
    ("deploy_median_hours", "deploy", "#c4b5fd"),
)
PANELS = (
    ("deployments", "Deployments per week", None),
    ("lead_time_median_hours", "Lead time, median (hours)", None),
    ("change_failure_rate", "Change failure rate", "pct"),
    ("recovery_time_median_hours", "Recovery time, median (hours)", None),
)
DPI = 150
WIDTH_PX = 760  # mail clients render around 600-800 px wide


def _style() -> None:
    plt.rcParams.update(
        {
            "font.family": "DejaVu Sans",
            "font.size": 8.5,
            "axes.edgecolor": GRID,
            "axes.labelcolor": INK,
            "axes.titlesize": 9.5,
            "axes.titleweight": "bold",
            "axes.titlecolor": INK,
            "axes.titlelocation": "left",
            "xtick.color": MUTED,
            "ytick.color": MUTED,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.grid.axis": "y",
            "grid.color": GRID,
            "grid.linewidth": 0.8,
            "legend.frameon": False,
        }
    )


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def trends_png(team_trend: pd.DataFrame, org_trend: pd.DataFrame, title_org: str = "all") -> bytes:
    """Four small multiples over the trailing weeks: the org in black, each team in its colour."""
    _style()
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH_PX / 100, 5.0), sharex=True)
    teams = sorted(team_trend["group"].unique()) if not team_trend.empty else []
    weeks = sorted(org_trend["bucket_start"].unique())
    labels = [pd.Timestamp(w).strftime("%d %b") for w in weeks]
    x = list(range(len(weeks)))
    for ax, (column, title, kind) in zip(axes.flat, PANELS, strict=True):
        if column == "deployments":
            org = org_trend.set_index("bucket_start").reindex(weeks)[column]
            ax.bar(x, org.fillna(0), color="#e5e7eb", width=0.7, label=f"{title_org} (total)", zorder=1)
        elif len(teams) > 1:
            org = org_trend.set_index("bucket_start").reindex(weeks)[column].astype(float)
            ax.plot(x, org, color=ORG, linewidth=2.2, marker="o", markersize=3, label=title_org, zorder=3)
        for i, team in enumerate(teams):
            series = team_trend[team_trend["group"] == team].set_index("bucket_start").reindex(weeks)[column]
            ax.plot(
                x,
                series.astype(float),
                color=PALETTE[i % len(PALETTE)],
                linewidth=1.3,
                marker="o",
                markersize=2.5,
                label=team,
                zorder=2,
            )
        ax.axvspan(len(x) - 1.5, len(x) - 0.5, color="#fef3c7", zorder=0)  # the report's week
        ax.set_title(title)
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        if kind == "pct":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xticks(x[::2], labels[::2])
    handles, names = axes.flat[0].get_legend_handles_labels()
    more_h, more_n = axes.flat[1].get_legend_handles_labels()
    for h, n in zip(more_h, more_n, strict=True):
        if n not in names:
            handles.append(h)
            names.append(n)
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.05, 1, 1), h_pad=1.5)
    return _png(fig)


def stages_png(rows: list[tuple[str, dict]]) -> bytes:
    """Median hours per lead-time stage (coding, pickup, review, deploy) for each (name, compute() group)."""
    _style()
    height = 0.5 + 0.42 * max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(WIDTH_PX / 100, height))
    names = [name for name, _ in rows][::-1]
    groups = [group for _, group in rows][::-1]
    left = [0.0] * len(groups)
    widest = max((sum(float(g.get(c) or 0.0) for c, _, _ in STAGES) for g in groups), default=0.0)
    for column, label, color in STAGES:
        values = [float(g.get(column) or 0.0) for g in groups]
        ax.barh(names, values, left=left, color=color, label=label, height=0.62, edgecolor="white")
        for i, v in enumerate(values):
            if v >= widest * 0.07:  # label only segments wide enough to hold it
                ax.text(
                    left[i] + v / 2,
                    i,
                    f"{v:.0f}h" if v >= 10 else f"{v:.1f}h",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color=INK,
                )
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.grid(axis="x", color=GRID)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(
        "hours (median of each stage; stages of different changes, so they need not add up)", color=MUTED
    )
    ax.legend(loc="upper center", ncol=4, bbox_to_anchor=(0.5, -0.45 if len(rows) < 4 else -0.25))
    fig.tight_layout()
    return _png(fig)


def plotly_figures(team_trend: pd.DataFrame, org_trend: pd.DataFrame, rows: list[tuple[str, dict]]) -> list:
    """The same charts as interactive Plotly figures (for --interactive HTML)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title, _ in PANELS])
    teams = sorted(team_trend["group"].unique()) if not team_trend.empty else []
    for n, (column, _, kind) in enumerate(PANELS):
        r, c = divmod(n, 2)
        for i, team in enumerate(teams):
            frame = team_trend[team_trend["group"] == team]
            fig.add_trace(
                go.Scatter(
                    x=frame["bucket_start"],
                    y=frame[column],
                    name=team,
                    legendgroup=team,
                    showlegend=n == 0,
                    line={"color": PALETTE[i % len(PALETTE)]},
                ),
                row=r + 1,
                col=c + 1,
            )
        if kind == "pct":
            fig.update_yaxes(tickformat=".0%", row=r + 1, col=c + 1)
    fig.update_layout(height=520, margin={"l": 40, "r": 10, "t": 40, "b": 30}, template="plotly_white")
    stages = go.Figure()
    for column, label, color in STAGES:
        stages.add_trace(
            go.Bar(
                y=[name for name, _ in rows],
                x=[g.get(column) for _, g in rows],
                name=label,
                orientation="h",
                marker_color=color,
            )
        )
    stages.update_layout(
        barmode="stack",
        height=120 + 40 * len(rows),
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 20, "b": 30},
        xaxis_title="median hours per stage",
    )
    return [fig, stages]
