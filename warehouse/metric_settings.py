"""The warehouse's sections of dora.toml: `[warehouse]` (where the file is) and `[metrics]` (how the marts
are derived, and the tier thresholds applied when metrics are read). The rules are in docs/metrics.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from warehouse.settings import NonNegative, Section, SharedRegex, SqlRegex, Str, Strings, parse

TIER_NAMES = ("elite", "high", "medium")


class WarehouseSettings(Section):
    """[warehouse]: the warehouse every command uses unless --warehouse names another."""

    path: Str | None = None
    # where a DuckLake warehouse (--warehouse ducklake:postgres:...) keeps its data files;
    # DORA_DATA_PATH overrides it
    data_path: Str | None = None


class Tiers(Section):
    """Thresholds of the tier table in docs/metrics.md; each tier is the first whose test passes.
    A dora.toml table overrides some of a metric's thresholds; the rest keep their defaults."""

    # deploy_days_per_week_median >= elite/high; medium: deployment_days * 30 / days >= medium
    deployment_frequency: dict[str, NonNegative] = Field(
        default_factory=lambda: {"elite": 5.0, "high": 1.0, "medium": 1.0}
    )
    # lead_time_median_hours < threshold
    lead_time: dict[str, NonNegative] = Field(
        default_factory=lambda: {"elite": 24.0, "high": 168.0, "medium": 720.0}
    )
    # change_failure_rate <= threshold
    change_failure_rate: dict[str, NonNegative] = Field(
        default_factory=lambda: {"elite": 0.05, "high": 0.10, "medium": 0.15}
    )
    # recovery_time_median_hours < threshold
    recovery_time: dict[str, NonNegative] = Field(
        default_factory=lambda: {"elite": 1.0, "high": 24.0, "medium": 168.0}
    )

    @field_validator("*", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "table_type", "expected a table of {tiers}", {"tiers": ", ".join(TIER_NAMES)}
            )
        for tier in value:
            if tier not in TIER_NAMES:
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key (known: {known})",
                    {"key": tier, "known": ", ".join(TIER_NAMES)},
                )
        assert info.field_name is not None
        return {**cls.model_fields[info.field_name].get_default(call_default_factory=True), **value}

    @field_validator("*")
    @classmethod
    def _ordered(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        """Elite is better than high, high better than medium: fewer hours and failures, more deploy days.
        Deployment frequency's medium counts deployment days a month, not a week: only elite >= high."""
        elite, high, medium = (value[tier] for tier in TIER_NAMES)
        if info.field_name == "deployment_frequency":
            if not elite >= high:
                raise ValueError(f"expected elite >= high, got {elite:g}, {high:g}")
        elif not elite < high < medium:
            raise ValueError(f"expected elite < high < medium, got {elite:g}, {high:g}, {medium:g}")
        return {tier: value[tier] for tier in TIER_NAMES}


def _history_start(value: Any) -> dt.date | None:
    """A TOML date, its ISO text, or "" for no limit."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    got = repr(value) if isinstance(value, str) else type(value).__name__
    raise PydanticCustomError("history_start", "expected a date YYYY-MM-DD or empty, got {got}", {"got": got})


class MetricsSettings(Section):
    # Run by the SQL (DuckDB's RE2) and, for --dry-run and --since baselines, by the collectors (Python).
    production_environments: SharedRegex = r"^(prod|production)([-_].*)?$"
    history_start: Annotated[dt.date | None, BeforeValidator(_history_start)] = None
    lead_time_start: Literal["first_commit", "pr_opened", "merged"] = "first_commit"
    attribution_window_hours: NonNegative = 72.0
    hotfix_labels: Strings = ("hotfix",)
    # Run by the SQL only: checked by DuckDB's regex engine, which is not Python's.
    hotfix_branch: SqlRegex = r"^hotfix[-/]"
    hotfix_title: SqlRegex = r"(?i)^hotfix\b"
    tiers: Tiers = Field(default_factory=Tiers)


@dataclass(frozen=True)
class Config:
    """dora.toml as read: the warehouse's sections checked, the others as written for their owners."""

    path: Path | None = None
    warehouse: str | None = None
    data_path: str | None = None
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    sections: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, data: dict[str, Any], path: Path | None = None) -> Config:
        ws = parse(WarehouseSettings, data.get("warehouse"), "warehouse")
        return cls(
            path=path,
            warehouse=ws.path,
            data_path=ws.data_path,
            metrics=parse(MetricsSettings, data.get("metrics"), "metrics"),
            sections={name: body for name, body in data.items() if name not in ("warehouse", "metrics")},
        )
