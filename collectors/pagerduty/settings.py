"""The [pagerduty] section of dora.toml, and the settings of a `dora collect pagerduty` run.

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
from typing import Annotated, Any

from pydantic import Field, model_validator

from warehouse import settings
from warehouse.settings import Bool, Int, NonNegative, Positive, Regex, Section, Str

SERVICE_ID = r"^[A-Z0-9]{5,20}$"
ServiceId = Annotated[
    str,
    Field(strict=True),
    settings.matching(SERVICE_ID, "{value} is not a PagerDuty service id (like PIJ90N7)"),
]
Https = Annotated[
    Str, settings.matching("https://", "{value}: the PagerDuty API is only served over https://")
]

Window = Annotated[
    Int, Field(ge=1), settings.most(180, "PagerDuty accepts at most 6 months (180 days) per query")
]
PageSize = Annotated[Int, Field(ge=1), settings.most(100, "PagerDuty serves at most 100 items per page")]


class ServiceMap(Section):
    """A PagerDuty service that belongs to our `service`: by its id, or by a pattern on its name."""

    service: Str
    id: Str | None = None
    name: Regex | None = None  # regex on the PagerDuty service name

    @model_validator(mode="after")
    def _one_way(self) -> ServiceMap:
        if (self.id is None) == (self.name is None):
            raise ValueError("give either id (a PagerDuty service id) or name (a pattern), not both")
        return self

    def matches(self, pd_id: str, pd_name: str) -> bool:
        if self.id is not None:
            return self.id == pd_id
        return bool(self.name and re.search(self.name, pd_name))


class PagerdutySection(Section):
    """[pagerduty] as written in dora.toml."""

    service_ids: tuple[ServiceId, ...] = ()
    api_url: Https = "https://api.pagerduty.com"
    ca_bundle: settings.File | None = None
    services: tuple[ServiceMap, ...] = ()
    history_days: Int = Field(365, ge=1)  # a first run without --since reaches this far back
    # PagerDuty limits a list query to 6 months and to offset 10,000: history is walked in windows
    window_days: Window = 30
    overlap_minutes: Int = Field(10, ge=0)  # an incident indexed late is still found by the next run
    page_size: PageSize = 100
    timeout: Positive = 30.0
    retries: Int = Field(5, ge=1)  # of a 5xx, per request
    backoff: NonNegative = 0.5  # seconds, doubled per retry (the client's sleep_timer)
    rate_limit_retries: Int = Field(20, ge=1)  # 429s in a row before giving up
    max_rate_limit_wait: NonNegative = 600.0  # a Retry-After longer than this ends the run (saved so far)
    max_answer_mb: Positive = 64.0  # a larger answer is refused (reported, the rest goes on)
    change_events: Bool = False
    change_event_sha_fields: settings.Strings = ("commit_sha", "sha", "git_sha", "commit", "revision")
    change_event_environment: Str = "production"


class PagerdutySettings(PagerdutySection):
    """A run: [pagerduty] and the command-line options."""

    since: dt.date | None = None
    full: Bool = False


def parse(section: Any, **overrides: Any) -> PagerdutySettings:
    """Validate the [pagerduty] section; command-line values (`overrides`, None = not given) win."""
    toml = settings.parse(PagerdutySection, section, "pagerduty")
    body = toml.model_dump(exclude_unset=True)
    return settings.parse(PagerdutySettings, body, "pagerduty", **settings.overridden(overrides))
