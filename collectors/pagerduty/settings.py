"""The [pagerduty] section of dora.toml, validated here (config.py passes it through verbatim).

```toml
[pagerduty]
service_ids = ["PIJ90N7", "PQX1A2B"]        # default: every service the token can see
api_url = "https://api.eu.pagerduty.com"    # the EU service region; default https://api.pagerduty.com
ca_bundle = "/etc/ssl/certs/corp-ca.pem"    # a TLS-inspecting proxy's CA
change_events = true                        # change events with a commit sha are deployments

# A PagerDuty service belongs to our service of the same name (case-insensitive), unless mapped here:
[[pagerduty.services]]
id = "PIJ90N7"                              # by PagerDuty service id ...
service = "checkout"
[[pagerduty.services]]
name = '(?i)^payments\b'                    # ... or by a pattern on its name
service = "payments"
```
Errors name the key (`pagerduty.services[1].name: ...`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doralytics.config import ConfigError, typed

SERVICE_ID = re.compile(r"^[A-Z0-9]{5,20}$")


@dataclass(frozen=True)
class ServiceMap:
    service: str
    id: str | None = None
    name: str | None = None  # regex on the PagerDuty service name

    def matches(self, pd_id: str, pd_name: str) -> bool:
        if self.id is not None:
            return self.id == pd_id
        return bool(self.name and re.search(self.name, pd_name))


@dataclass(frozen=True)
class PagerdutySettings:
    service_ids: tuple[str, ...] = ()
    api_url: str = "https://api.pagerduty.com"
    ca_bundle: str | None = None
    services: tuple[ServiceMap, ...] = ()
    since: dt.date | None = None
    full: bool = False
    history_days: int = 365  # a first run without --since reaches this far back
    # PagerDuty limits a list query to 6 months and to offset 10,000: history is walked in windows
    window_days: int = 30
    overlap_minutes: int = 10  # an incident indexed late is still found by the next run
    page_size: int = 100
    timeout: float = 30.0
    retries: int = 5  # of a 5xx, per request
    backoff: float = 0.5  # seconds, doubled per retry (the client's sleep_timer)
    rate_limit_retries: int = 20  # 429s in a row before giving up
    max_rate_limit_wait: float = 600.0  # a Retry-After longer than this ends the run (saved so far)
    change_events: bool = False
    change_event_sha_fields: tuple[str, ...] = ("commit_sha", "sha", "git_sha", "commit", "revision")
    change_event_environment: str = "production"


TOP_KEYS: dict[str, Any] = {
    "service_ids": list,
    "api_url": str,
    "ca_bundle": str,
    "services": list,
    "history_days": int,
    "window_days": int,
    "overlap_minutes": int,
    "page_size": int,
    "timeout": (int, float),
    "retries": int,
    "backoff": (int, float),
    "rate_limit_retries": int,
    "max_rate_limit_wait": (int, float),
    "change_events": bool,
    "change_event_sha_fields": list,
    "change_event_environment": str,
}


def _typed(key: str, value: Any, expected: Any) -> Any:
    return typed(key, value, expected)


def _service_map(where: str, body: Any) -> ServiceMap:
    if not isinstance(body, dict):
        raise ConfigError(f'{where}: expected a table like {{ id = "PIJ90N7", service = "checkout" }}')
    for key, value in body.items():
        if key not in ("id", "name", "service"):
            raise ConfigError(f"{where}.{key}: unknown key (known: id, name, service)")
        _typed(f"{where}.{key}", value, str)
    if "service" not in body:
        raise ConfigError(f"{where}.service: required (our service this PagerDuty service belongs to)")
    if ("id" in body) == ("name" in body):
        raise ConfigError(f"{where}: give either id (a PagerDuty service id) or name (a pattern), not both")
    if "name" in body:
        try:
            re.compile(body["name"])
        except re.error as exc:
            raise ConfigError(f"{where}.name: invalid regular expression {body['name']!r}: {exc}") from exc
    return ServiceMap(body["service"], body.get("id"), body.get("name"))


def parse(section: Any, **overrides: Any) -> PagerdutySettings:
    """Validate the [pagerduty] section; command-line values (`overrides`, None = not given) win."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ConfigError("pagerduty: expected a table")
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key not in TOP_KEYS:
            raise ConfigError(f"pagerduty.{key}: unknown key (known: {', '.join(sorted(TOP_KEYS))})")
        values[key] = _typed(f"pagerduty.{key}", value, TOP_KEYS[key])
    for key in ("history_days", "window_days", "page_size", "retries", "rate_limit_retries"):
        if key in values and values[key] < 1:
            raise ConfigError(f"pagerduty.{key}: must be at least 1")
    if values.get("window_days", 30) > 180:
        raise ConfigError("pagerduty.window_days: PagerDuty accepts at most 6 months (180 days) per query")
    if values.get("page_size", 100) > 100:
        raise ConfigError("pagerduty.page_size: PagerDuty serves at most 100 items per page")
    values["services"] = tuple(
        _service_map(f"pagerduty.services[{i}]", body) for i, body in enumerate(values.get("services", []))
    )
    for key in ("service_ids", "change_event_sha_fields"):
        items = values.get(key, [])
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ConfigError(f"pagerduty.{key}[{i}]: expected a string")
        if key in values:
            values[key] = tuple(items)
    for key, value in overrides.items():
        if value is not None:
            values[key] = tuple(value) if isinstance(value, list) else value
    for i, ident in enumerate(values.get("service_ids", ())):
        if not SERVICE_ID.match(ident):
            raise ConfigError(
                f"pagerduty.service_ids[{i}]: {ident!r} is not a PagerDuty service id (like PIJ90N7)"
            )
    url = values.get("api_url")
    if url is not None and not url.startswith("https://"):
        raise ConfigError(f"pagerduty.api_url: {url!r}: the PagerDuty API is only served over https://")
    ca = values.get("ca_bundle")
    if ca is not None and not Path(ca).is_file():
        raise ConfigError(f"pagerduty.ca_bundle: {ca}: no such file")
    return PagerdutySettings(**values)
