"""Settings are checked by what will use them: a regex by the engine that runs it, numbers finite, tiers in
order, crons that can fire; a config that cannot be read is a one-line error, never a traceback."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from doralytics import config
from tests.support.builder import linear_bundle_for_config
from tests.support.cli import dora
from warehouse.metric_settings import MetricsSettings
from warehouse.settings import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dora.toml"
    path.write_text(text)
    return path


def _bad(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    return str(info.value)


@pytest.mark.parametrize(
    ("key", "pattern", "why"),
    [
        ("production_environments", r"(?<=x)prod", "invalid perl operator: (?<"),
        ("production_environments", r"^(?!staging)", "invalid perl operator: (?!"),
        ("hotfix_branch", r"(a)\1", r"invalid escape sequence: \1"),
        ("hotfix_title", r"(?i)^hotfix(?=:)", "invalid perl operator: (?="),
        ("hotfix_title", r"a{1001}", "invalid repetition size: {1001}"),
        ("hotfix_branch", r"(?>atomic)", "invalid perl operator: (?>"),
    ],
)
def test_regexes_sql_runs_are_checked_by_duckdb(tmp_path: Path, key: str, pattern: str, why: str) -> None:
    # Python's re accepts every one of these; DuckDB's RE2 would fail in the middle of the transform.
    import re

    re.compile(pattern)
    toml_value = pattern.replace("\\", "\\\\")
    message = _bad(tmp_path, f'[metrics]\n{key} = "{toml_value}"\n')
    assert message.startswith(f"{tmp_path / 'dora.toml'}: metrics.{key}: invalid regular expression ")
    assert "for DuckDB, which runs it in SQL" in message and why in message
    assert "\n" not in message


def test_a_regex_only_duckdb_runs_may_use_re2_syntax_a_shared_one_may_not(tmp_path: Path) -> None:
    assert (
        config.load(write(tmp_path, '[metrics]\nhotfix_title = "fix\\\\z"\n')).metrics.hotfix_title
        == r"fix\z"
    )
    # production_environments is also run by the collectors (Python): both engines must accept it
    message = _bad(tmp_path, '[metrics]\nproduction_environments = "prod\\\\z"\n')
    assert "metrics.production_environments: invalid regular expression 'prod\\\\z': bad escape" in message


def test_the_defaults_compile_in_both_engines() -> None:
    from warehouse.settings import duckdb_regex_error

    defaults = MetricsSettings()
    for pattern in (defaults.production_environments, defaults.hotfix_branch, defaults.hotfix_title):
        assert duckdb_regex_error(pattern) is None


def test_a_transform_never_meets_a_regex_duckdb_cannot_run(tmp_path: Path) -> None:
    folder = linear_bundle_for_config().write(tmp_path / "bundle")
    path = write(tmp_path, '[metrics]\nproduction_environments = "(?<=x)prod"\n')
    result = dora(
        "--config", str(path), "--warehouse", str(tmp_path / "w.duckdb"), "import", str(folder), check=False
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "metrics.production_environments: invalid regular expression" in result.stderr
    assert not (tmp_path / "w.duckdb").exists()  # nothing half-loaded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[metrics]\nattribution_window_hours = nan\n",
            "metrics.attribution_window_hours: expected a finite number",
        ),
        (
            "[metrics]\nattribution_window_hours = -inf\n",
            "metrics.attribution_window_hours: expected a finite",
        ),
        (
            "[metrics.tiers.lead_time]\nmedium = nan\n",
            "metrics.tiers.lead_time.medium: expected a finite number",
        ),
        (
            "[metrics.tiers.recovery_time]\nhigh = inf\n",
            "metrics.tiers.recovery_time.high: expected a finite",
        ),
        (
            "[metrics.tiers.change_failure_rate]\nelite = 0.2\n",
            "expected elite < high < medium, got 0.2, 0.1",
        ),
        (
            "[metrics.tiers.recovery_time]\nhigh = 1\n",
            "metrics.tiers.recovery_time: expected elite < high < medium",
        ),
        ("[metrics.tiers.deployment_frequency]\nelite = 0.5\n", "expected elite >= high, got 0.5, 1"),
        ("[smtp]\ntimeout = nan\n", "smtp.timeout: expected a finite number"),
    ],
)
def test_numbers_are_finite_and_tiers_in_order(tmp_path: Path, text: str, message: str) -> None:
    assert message in _bad(tmp_path, text)


def test_nan_cannot_reach_the_settings_from_python_either() -> None:
    for value in (math.nan, math.inf):
        with pytest.raises(ValueError, match="expected a finite number"):
            MetricsSettings(attribution_window_hours=value)
        with pytest.raises(ValueError, match="expected a finite number"):
            MetricsSettings().replaced(attribution_window_hours=value)


@pytest.mark.parametrize("cron", ["0 8 31 2 *", "0 8 30 2 *", "0 8 31 4,6,9,11 *", "0 0 8 31 2 *"])
def test_a_cron_that_never_fires_is_refused(tmp_path: Path, cron: str) -> None:
    message = _bad(tmp_path, f'[[schedule]]\nname = "weekly"\ncron = "{cron}"\n')
    assert f"schedule[0].cron: '{cron}' never fires" in message


@pytest.mark.parametrize("cron", ["0 8 29 2 *", "0 8 * * 1", "0 8 31 * *", "*/5 * * * * *"])
def test_a_rare_cron_still_fires(tmp_path: Path, cron: str) -> None:
    loaded = config.load(write(tmp_path, f'[[schedule]]\nname = "weekly"\ncron = "{cron}"\n'))
    assert loaded.sections["schedule"][0]["cron"] == cron


def _one_line_error(tmp_path: Path, config_path: str) -> str:
    result = dora(
        "--config", config_path, "--warehouse", str(tmp_path / "w.duckdb"), "sql", "select 1", check=False
    )
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_a_folder_given_as_the_config_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    assert (
        _one_line_error(tmp_path, str(tmp_path / "conf"))
        == f"error: {tmp_path / 'conf'}: is a folder, not a file"
    )


def test_a_config_that_is_not_utf8_is_a_one_line_error_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "dora.toml"
    path.write_bytes('[report]\ntitle = "Qualit\xe9"\n'.encode("latin-1"))
    assert _one_line_error(tmp_path, str(path)) == (
        f"error: {path}: line 2, column 16: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    )


def test_an_unreadable_config_is_a_one_line_error(tmp_path: Path) -> None:
    # /proc/self/mem is a regular file that no one can read from its start (root included).
    assert (
        _one_line_error(tmp_path, "/proc/self/mem")
        == "error: /proc/self/mem: cannot read it: Input/output error"
    )


def test_a_device_or_a_huge_file_is_no_config(tmp_path: Path) -> None:
    assert _one_line_error(tmp_path, "/dev/zero") == "error: /dev/zero: is not a regular file"
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 << 20) + "\n")
    assert _one_line_error(tmp_path, str(big)) == f"error: {big}: more than 1024 KB: not a dora.toml"
