"""PagerDuty payloads -> canonical rows: incidents, and change events as deployments. Pure functions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from collectors.base import parse_ts, require


def severity(incident: dict[str, Any]) -> str | None:
    priority = (incident.get("priority") or {}).get("summary")
    found = priority or incident.get("urgency")
    return str(found).lower() if found else None


def incident_row(service: str, incident: dict[str, Any], resolved: dt.datetime | None) -> dict[str, Any]:
    ident = require(incident, "id", "PagerDuty incident")
    return {
        "incident_id": f"pagerduty:{ident}",
        "service": service,
        "title": incident.get("title") or incident.get("summary"),
        "severity": severity(incident),
        "created_at": parse_ts(require(incident, "created_at", f"PagerDuty incident {ident}")),
        "resolved_at": resolved,
        "deployment_id": None,
        "commit_sha": None,
    }


def change_sha(event: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    details = event.get("custom_details") or {}
    for name in fields:
        value = details.get(name)
        if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", value.strip()):
            return value.strip().lower()
    return None


def change_event_row(
    event: dict[str, Any], pd_id: str, service: str, sha: str, environment: str
) -> dict[str, Any]:
    """A change event with a commit sha, as a successful deployment of `service`."""
    when = parse_ts(event.get("timestamp"))
    return {
        "deployment_id": f"pagerduty:change:{event.get('id')}:{pd_id}",
        "service": service,
        "environment": (event.get("custom_details") or {}).get("environment") or environment,
        "environment_tier": None,
        "commit_sha": sha,
        "started_at": when,
        "finished_at": when,
        "status": "success",
    }
