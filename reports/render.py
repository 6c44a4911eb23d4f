"""Render a Report with the Jinja2 templates in reports/templates/ (or a team's own folder, searched first).

A team overrides one file (say weekly.html.j2) by putting a file of that name in its template_dir; the
rest come from the package. Charts are embedded as data: URIs, so the HTML is one self-contained file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import jinja2

from reports import charts, fmt
from reports.weekly import METRICS, Report, Row

TEMPLATES = {"html": "weekly.html.j2", "md": "weekly.md.j2"}
EXTENSIONS = {"html": "html", "md": "md", "json": "json"}


def environment(template_dir: str | os.PathLike | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise ValueError(f"template folder {folder} does not exist")
        loaders.append(jinja2.FileSystemLoader(str(folder)))
    loaders.append(jinja2.PackageLoader("reports", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a team's template fails loudly, not as an empty cell
    )
    env.filters.update(
        duration=fmt.duration,
        pct=fmt.pct,
        exact=lambda v: "" if v is None else repr(float(v)),
        day=lambda d: d.strftime("%a %d %b"),
        when=_when,
        stamp=lambda v: "-" if v is None else _parse(v).strftime("%Y-%m-%d %H:%M"),
        daterange=_daterange,
        md=_md_cell,
    )
    return env


def _parse(value: dt.datetime | str) -> dt.datetime:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _when(value: dt.datetime | str | None) -> str:
    return "-" if value is None else _parse(value).strftime("%a %d %b %H:%M")


def _daterange(pair: tuple[dt.date, dt.date]) -> str:
    start, end = pair
    if start.year != end.year:
        return f"{start:%d %b %Y} – {end:%d %b %Y}"
    if start.month != end.month:
        return f"{start:%d %b} – {end:%d %b %Y}"
    return f"{start:%d}–{end:%d %b %Y}"


def _md_cell(value: object) -> str:
    """A value safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def add_charts(report: Report) -> None:
    """Render the static charts into report.charts (PNG bytes)."""
    report.charts["trends"] = charts.trends_png(report.trend, report.org_trend, "all teams")
    report.charts["stages"] = charts.stages_png(_stage_rows(report))


def _stage_rows(report: Report) -> list[tuple[str, dict]]:
    rows = [(report.scope_label, report.org.week)]
    if len(report.team_rows) > 1:
        rows += [(row.group, row.week) for row in report.team_rows]
    return rows


def render(
    report: Report,
    format: str = "html",
    template_dir: str | os.PathLike | None = None,
    interactive: bool = False,
) -> str:
    if format == "json":
        return json.dumps(document(report), indent=1, default=_json_default) + "\n"
    env = environment(template_dir)
    images = {}
    plotly_divs: list[str] = []
    if format == "html":
        if interactive:
            figures = charts.plotly_figures(report.trend, report.org_trend, _stage_rows(report))
            # plotly.js (4.8 MB) inlined once, with the first figure only
            plotly_divs = [
                fig.to_html(full_html=False, include_plotlyjs=(i == 0), config={"displaylogo": False})
                for i, fig in enumerate(figures)
            ]
        else:
            if not report.charts:
                add_charts(report)
            images = {
                name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                for name, png in report.charts.items()
            }
    return env.get_template(TEMPLATES[format]).render(
        r=report,
        metrics=METRICS,
        images=images,
        plotly_divs=plotly_divs,
        periods=report.periods,
    )


def document(report: Report) -> dict:
    """The report's numbers for programs: per group the dict of warehouse.metrics.compute for the week
    (tiers included), and the state of the warehouse they were computed on."""

    def rows(found: list[Row]) -> list[dict]:
        return [{"group": row.group, "team": row.team, **row.week} for row in found]

    return {
        "title": report.title,
        "week": report.week.label,
        "from": report.week.start,
        "to": report.week.end,
        "teams": list(report.teams),
        "generated_at": report.generated_at,
        "snapshot": report.snapshot,
        "as_of": report.as_of,
        "org": report.org.week,
        "team_rows": rows(report.team_rows),
        "service_rows": rows(report.service_rows),
        "highlights": [h["text"] for h in report.highlights],
        "quality": report.quality,
    }


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def default_name(report: Report, format: str) -> str:
    suffix = "-" + "-".join(report.teams) if report.teams else ""
    return f"weekly-{report.week.label}{suffix}.{EXTENSIONS[format]}".replace("..", "_to_")


def summary(report: Report, link: str | None = None) -> str:
    """A few lines for chat (Slack, Teams, Mattermost all read this Markdown subset) and mail subjects."""
    org = {cell.metric.key: cell for cell in report.org.cells}
    lines = [
        f"*DORA weekly {report.week.label}* ({_daterange(report.periods['week'])}, {report.scope_label})"
    ]
    for cell in org.values():
        delta = (
            f" {cell.change.arrow} {cell.change.text}" if cell.change and cell.change.good is not None else ""
        )
        tier = f" [{cell.tier}]" if cell.tier else ""
        lines.append(f"• {cell.metric.name}: {cell.text}{tier}{delta} ({cell.basis})")
    if report.highlights:
        lines.append("")
        lines += [f"– {h['text']}" for h in report.highlights[:6]]
    if report.as_of:
        # a lake's snapshot can be read again; a file's generation cannot, so a chat is not told it
        lines += ["", f"Computed on {report.snapshot} (`dora metrics --as-of {report.as_of}` shows it again)"]
    if link:
        lines += ["", f"Full report: {link}"]
    return "\n".join(lines)


def subject(report: Report) -> str:
    org = {cell.metric.key: cell for cell in report.org.cells}
    return (
        f"DORA weekly {report.week.label} ({report.scope_label}): "
        f"{report.org.week['deployments']} deploys, "
        f"lead time {org['lead_time_median_hours'].text}, "
        f"CFR {org['change_failure_rate'].text}"
    )
