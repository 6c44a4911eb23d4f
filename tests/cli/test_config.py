"""dora.toml is validated on load: unknown keys and wrong types are errors naming the key."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from doralytics import config
from tests.support.builder import linear_bundle_for_config
from tests.support.cli import dora
from warehouse.metric_settings import MetricsSettings


def write(tmp_path, text: str):
    path = tmp_path / "dora.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DORA_CONFIG", raising=False)
    loaded = config.load()
    assert loaded.metrics == MetricsSettings()
    assert loaded.metrics.tiers.lead_time == {"elite": 24.0, "high": 168.0, "medium": 720.0}


def test_every_metrics_setting_is_read(tmp_path):
    path = write(
        tmp_path,
        """
[warehouse]
path = "x.duckdb"
[metrics]
production_environments = "^live$"
history_start = 2026-01-01
lead_time_start = "pr_opened"
attribution_window_hours = 48
hotfix_labels = ["hotfix", "urgent"]
hotfix_branch = "^fix/"
hotfix_title = "^URGENT"
[metrics.tiers.change_failure_rate]
elite = 0.02
""",
    )
    loaded = config.load(path)
    m = loaded.metrics
    assert loaded.warehouse == "x.duckdb"
    assert (m.production_environments, m.history_start, m.lead_time_start) == (
        "^live$",
        dt.date(2026, 1, 1),
        "pr_opened",
    )
    assert (m.attribution_window_hours, m.hotfix_labels) == (48.0, ("hotfix", "urgent"))
    assert (m.hotfix_branch, m.hotfix_title) == ("^fix/", "^URGENT")
    assert m.tiers.change_failure_rate == {"elite": 0.02, "high": 0.10, "medium": 0.15}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[metrics]\nattribution_window = 3\n", "metrics.attribution_window: unknown key"),
        (
            '[metrics]\nattribution_window_hours = "72"\n',
            "metrics.attribution_window_hours: expected a number",
        ),
        ('[metrics]\nhotfix_labels = "hotfix"\n', "metrics.hotfix_labels: expected a list of strings"),
        ('[metrics]\nhotfix_branch = "(["\n', "metrics.hotfix_branch: invalid regular expression"),
        ('[metrics]\nlead_time_start = "opened"\n', "metrics.lead_time_start: expected one of"),
        ('[metrics]\nhistory_start = "January"\n', "metrics.history_start: expected a date"),
        ('[metrics.tiers.lead_time]\nelite = "fast"\n', "metrics.tiers.lead_time.elite: expected a number"),
        ("[metrics.tiers.speed]\nelite = 1\n", "metrics.tiers.speed: unknown key"),
        (
            "[metrics.tiers.lead_time]\nelite = 200\n",
            "metrics.tiers.lead_time: expected elite < high < medium",
        ),
        (
            "[metrics.tiers.deployment_frequency]\nhigh = 6\n",
            "metrics.tiers.deployment_frequency: expected elite >= high",
        ),
        (
            "[metrics]\nattribution_window_hours = inf\n",
            "metrics.attribution_window_hours: expected a finite number",
        ),
        ('[warehouse]\nfile = "x"\n', "warehouse.file: unknown key"),
        ("[metricz]\n", "metricz: unknown section"),
        # a key TOML spells differently from Python (`from`) is known by its TOML name only
        ('[smtp]\nsender = "a@b"\n', "smtp.sender: unknown key"),
        ("[metrics\n", "dora.toml"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        config.load(write(tmp_path, text))


def test_settings_are_immutable_and_replaced_with_validation():
    settings = MetricsSettings()
    with pytest.raises(ValidationError):
        settings.attribution_window_hours = 1.0
    assert settings.replaced(attribution_window_hours=1).attribution_window_hours == 1.0
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        settings.replaced(attribution_window_hours=-1)


def test_the_dashboard_reads_its_sections_of_the_same_file(tmp_path):
    from dashboard import settings as dashboard_settings

    path = write(
        tmp_path, '[warehouse]\npath = "x.duckdb"\n[dashboard]\nlinks = "none"\n[github]\norg = "acme"\n'
    )
    loaded = dashboard_settings.load(path)
    assert loaded == config.load(path)
    assert (loaded.warehouse, loaded.sections["dashboard"]) == ("x.duckdb", {"links": "none"})
    with pytest.raises(config.ConfigError, match="dashboard.links: expected one of"):
        dashboard_settings.load(write(tmp_path, '[dashboard]\nlinks = "bitbucket"\n'))


def test_the_command_line_reports_a_bad_file_with_exit_code_2(tmp_path):
    path = write(tmp_path, "[metrics]\nwindow = 1\n")
    result = dora("--config", str(path), "--warehouse", str(tmp_path / "w.duckdb"), "transform", check=False)
    assert result.returncode == 2 and "metrics.window: unknown key" in result.stderr


def test_settings_from_dora_toml_change_the_numbers(tmp_path):
    b = linear_bundle_for_config()
    folder = b.write(tmp_path / "bundle")
    warehouse = str(tmp_path / "w.duckdb")
    dora("--warehouse", warehouse, "import", str(folder))
    args = (
        "--warehouse",
        warehouse,
        "metrics",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--format",
        "csv",
    )
    default = dora(*args).stdout
    path = write(tmp_path, '[metrics]\nproduction_environments = "^live$"\n')
    dora("--config", str(path), "--warehouse", warehouse, "transform")
    live_only = dora("--config", str(path), *args).stdout
    # group, deployments, ...: `live` is not production by default, and the only one with the setting
    assert default.splitlines()[1].startswith("svc,2,") and live_only.splitlines()[1].startswith("svc,1,")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[github]\nrepos = ["acme/checkout"]\nworkerz = 2\n', "github.workerz: unknown key"),
        ("[gitlab]\nurl = 5\n", "gitlab.url"),
        ("[pagerduty]\nservice_idz = []\n", "pagerduty.service_idz: unknown key"),
        ("[git]\npath = 3\n", "git.path: expected a string"),
        ('[dashboard]\nlinks = "bitbucket"\n', "dashboard.links: expected one of"),
        ('[report]\nformat = "pdf"\n', "report.format"),
        ('[smtp]\nport = "smtp"\n', "smtp.port"),
        ('[[schedule]]\nname = "weekly"\ncron = "every monday"\n', "schedule[0].cron"),
    ],
)
def test_every_section_is_checked_when_the_file_is_read(tmp_path, text, message):
    with pytest.raises(config.ConfigError, match=message.replace("[", r"\[")):
        config.load(write(tmp_path, text))
