"""The weekly report: its numbers are `dora metrics`' numbers, it is self-contained, it reads well."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from doralytics.cli import app
from reports import fmt, render
from reports.settings import ReportSettings
from reports.weekly import METRICS, Week, build, change, resolve_week, text
from tests.support.cli import dora
from tests.support.reports import WEEK, WEEK_FROM, WEEK_TO, demo_warehouse
from warehouse import db

CELL = re.compile(
    r'data-group-by="([^"]*)" data-group="([^"]*)" data-metric="([^"]*)" data-value="([^"]*)">'
    r'\s*(?:<span class="v">|'
    r'<div class="label">[^<]*</div>\s*<div class="value">)([^<]*)<'
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def report(warehouse):
    with db.read(warehouse) as con:
        return build(con, resolve_week(WEEK), now=dt.datetime(2026, 6, 29, 8, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def page(report) -> str:
    return render.render(report, "html")


@pytest.fixture(scope="module")
def markdown(report) -> str:
    return render.render(report, "md")


def cli(*args: str):
    """The real `dora` command, in process (a subprocess costs seconds of imports on a loaded machine)."""
    return CliRunner().invoke(app, list(args))


def _metrics_json(warehouse: Path, group_by: str) -> dict[str, dict]:
    result = cli(
        "--warehouse",
        str(warehouse),
        "metrics",
        "--from",
        WEEK_FROM,
        "--to",
        WEEK_TO,
        "--group-by",
        group_by,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    return {g["group"]: g for g in json.loads(result.stdout)["groups"]}


def test_every_number_is_the_value_of_dora_metrics_for_that_week(warehouse, page, markdown):
    cells = {(by, g, m): (v, shown) for by, g, m, v, shown in CELL.findall(page)}
    checked = 0
    for group_by in ("org", "team", "service"):
        for group, values in _metrics_json(warehouse, group_by).items():
            for metric in METRICS:
                value, shown = cells[(group_by, group, metric.key)]
                want = values[metric.key]
                # the exact number (repr round-trips a float), and the text a reader sees is that number
                assert (float(value) if value else None) == want, (group, metric.key)
                assert html.unescape(shown.strip()) == text(metric, want)
                checked += 1
            if group_by != "org":
                assert f"| {group} |" in markdown
    assert checked == (1 + 4 + 12) * len(METRICS)
    org = _metrics_json(warehouse, "org")["all"]
    # the headline figures, and the counts they rest on, in the Markdown too
    assert f"**{fmt.per_day(org['deploys_per_day'])}**" in markdown
    assert f"**{fmt.duration(org['lead_time_median_hours'])}**" in markdown
    assert f"{org['failed_deployments']} of {org['deployments']} failed" in markdown
    assert f"{org['deployments']} deploys on {org['deployment_days']} days" in page


def test_known_week_content(report, page):
    # W26 of seed 7: four failed deployments, each with the signal that says how we know
    failed = {d["deployment_id"]: d["failure_signals"] for d in report.failed}
    assert failed == {
        "102809": ["hotfix"],
        "102833": ["incident", "hotfix"],
        "102836": ["rollback", "revert"],
        "102839": ["incident", "rollback", "revert"],
    }
    assert [i["incident_id"] for i in report.incidents] == ["INC-0062", "INC-0063", "INC-0064", "INC-0065"]
    assert (
        sum(i["is_unattributed"] for i in report.incidents)
        == report.quality["counts"]["unattributed incidents"]
        == 2
    )
    kinds = [h["kind"] for h in report.highlights]
    assert "improvement" in kinds and "regression" in kinds
    assert any(h["text"].startswith("4 failed deployments (auth, cart, payments)") for h in report.highlights)
    slowest = report.slowest[0]
    assert slowest["label"] == "acme/billing#110" and slowest["lead_time_hours"] == max(
        c["lead_time_hours"] for c in report.slowest
    )
    assert 'href="https://github.com/acme/billing/pull/110"' in page
    assert "Week 2026-W26 · 22–28 Jun 2026" in page


def test_week_over_week_change_and_direction():
    lead, cfr, freq = METRICS[1], METRICS[2], METRICS[0]
    slower = change(lead, 30.0, 20.0)
    assert (slower.arrow, slower.text, slower.good) == ("▲", "50%", False)
    assert change(freq, 6.0, 3.0).good is True
    worse = change(cfr, 0.15, 0.05)
    assert (worse.arrow, worse.text, worse.good) == ("▲", "10.0 pp", False)
    assert change(lead, None, 3.0) is None
    assert change(cfr, 0.1, 0.1).good is None


def test_html_is_self_contained(page):
    assert "<script" not in page.lower()
    assert "@import" not in page and "url(" not in page
    for attribute, url in re.findall(r'\b(src|href)\s*=\s*"([^"]*)"', page):
        if attribute == "src":
            assert url.startswith("data:image/png;base64,"), url
        else:  # only links to PRs and commits leave the file
            assert re.fullmatch(r"https://github\.com/acme/[\w.-]+/(pull/\d+|commit/[0-9a-f]{40})", url), url
    assert len(re.findall(r'src="data:image/png', page)) == 2  # trends and lead-time stages


def test_week_resolution():
    assert resolve_week("2026-W26") == Week(dt.date(2026, 6, 22), dt.date(2026, 6, 28))
    assert resolve_week(to=dt.date(2026, 6, 24)).label == "2026-06-18..2026-06-24"
    # default: the last whole ISO week, also when run on the Monday morning after it
    assert resolve_week(today=dt.date(2026, 6, 29)) == resolve_week("2026-W26")
    assert resolve_week(today=dt.date(2026, 7, 5)) == resolve_week("2026-W26")
    assert resolve_week("2026-W01").start == dt.date(2025, 12, 29)
    for bad in ("2026-26", "2026-W54"):
        with pytest.raises(ValueError, match="--week"):
            resolve_week(bad)


def test_one_team(warehouse):
    with db.read(warehouse) as con:
        report = build(con, resolve_week(WEEK), teams=("checkout",))
        with pytest.raises(ValueError, match="unknown team nope"):
            build(con, resolve_week(WEEK), teams=("nope",))
    assert {r.group for r in report.service_rows} == {"checkout", "cart", "payments"}
    assert {d["service"] for d in report.failed} <= {"checkout", "cart", "payments"}
    md = render.render(report, "md")
    assert "## By team" not in md and "Checkout, production deployments" in md


def test_a_team_brings_its_own_template(report, tmp_path):
    (tmp_path / "weekly.md.j2").write_text(
        "{{ r.week.label }}: {% for c in r.org.cells %}{{ c.metric.key }}={{ c.text }};{% endfor %}"
    )
    out = render.render(report, "md", template_dir=tmp_path)
    assert out.startswith("2026-W26: deploys_per_day=")
    assert "<html" in render.render(report, "html", template_dir=tmp_path)  # the others still come from us


def test_interactive_inlines_plotly_once(report):
    page = render.render(report, "html", interactive=True)
    assert page.count("Plotly.newPlot(") == 2
    assert len(page) < 6_000_000  # plotly.js (4.8 MB) once, not per figure
    assert "<script src=" not in page


def test_cli_writes_the_report_and_names_bad_input(warehouse, tmp_path):
    out = tmp_path / "r.md"
    result = dora(
        "-w", str(warehouse), "report", "weekly", "--week", WEEK, "--format", "md", "--out", str(out)
    )
    assert out.read_text().startswith("# Weekly delivery report: week 2026-W26")
    assert f"wrote {out}" in result.stderr
    bad = cli("-w", str(warehouse), "report", "weekly", "--week", "26")
    assert bad.exit_code == 2 and "--week" in bad.stderr
    bad = cli("-w", str(warehouse), "report", "weekly", "--team", "nope", "--out", str(out))
    assert bad.exit_code == 2 and "unknown team nope" in bad.stderr
    toml = tmp_path / "dora.toml"
    toml.write_text('[report]\npr_url = "ftp://x/{repo}"\n')
    bad = cli("--config", str(toml), "-w", str(warehouse), "report", "weekly")
    assert bad.exit_code == 2 and "report.pr_url" in bad.stderr


def test_settings_are_validated_by_key():
    from doralytics.config import ConfigError
    from reports.settings import report_settings, smtp_settings

    assert report_settings({}) == ReportSettings()
    assert report_settings({"report": {"pr_url": "https://gitlab.x/{repo}/-/merge_requests/{number}"}}).pr_url
    for sections, key in (
        ({"report": {"format": "pdf"}}, "report.format"),
        ({"report": {"teams": "a"}}, None),
        ({"report": {"colour": 1}}, "report.colour"),
        ({"report": {"commit_url": "https://x/{repo}/{number}"}}, "report.commit_url"),
        ({"smtp": {"port": "25"}}, "smtp.port"),
        ({"smtp": {"starttls": "yes"}}, "smtp.starttls"),
        ({"smtp": {"password": "x"}}, "smtp.password"),
        ({"smtp": {"ssl": True, "starttls": True}}, "smtp.ssl"),
    ):
        if key is None:
            report_settings(sections)  # a single string is a one-item list
            continue
        with pytest.raises(ConfigError, match=re.escape(key)):
            (smtp_settings if "smtp" in sections else report_settings)(sections)
