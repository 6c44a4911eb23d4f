"""The [dashboard] section of dora.toml: where the links of pull requests and commits point, and who may
sign in (OpenID Connect through Streamlit's st.login).

```toml
[dashboard]
links = "gitlab"                         # github, gitlab or none; default: gitlab if only [gitlab] is set
web_url = "https://gitlab.example.com"   # default: github.com, or [gitlab] url

[dashboard.auth]                         # sign-in: any OpenID Connect provider
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"
client_id = "1234-abc.apps.googleusercontent.com"
redirect_uri = "https://dora.example.com/oauth2callback"
secrets_file = "/etc/doralytics/secrets.toml"   # optional: a Streamlit secrets file with [auth]
allow = ["alice@example.com", "example.org"]    # emails or domains; default: anyone the provider signs in
sql_users = ["alice@example.com"]               # who gets the SQL page; default: nobody once sign-in is on
```

The client secret and the cookie secret never go in dora.toml: see dashboard/signin.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from warehouse import settings
from warehouse.metric_settings import Config
from warehouse.settings import Section, Str, Strings

__all__ = ["AuthSettings", "Config", "DashboardSettings", "load", "matches"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"@?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _people(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if value != "*" and not (_EMAIL.fullmatch(value) or _DOMAIN.fullmatch(value)):
            raise PydanticCustomError(
                "person",
                "{value} is not an email address, a domain (example.com) or *",
                {"value": repr(value)},
            )
    return tuple(v.lower() for v in values)


People = Annotated[Strings, AfterValidator(_people)]


def _absolute_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise PydanticCustomError("url", "{value} is not an http(s) URL", {"value": repr(value)})
    return value


def _callback(value: str) -> str:
    _absolute_url(value)
    if not value.rstrip("/").endswith("/oauth2callback"):
        raise PydanticCustomError(
            "callback",
            "{value} must end with /oauth2callback (Streamlit's sign-in callback)",
            {"value": repr(value)},
        )
    return value.rstrip("/")


class AuthSettings(Section):
    """[dashboard.auth]: the provider, this app's client, and who is let in."""

    unknown_hint: ClassVar[str] = (
        "client_secret and cookie_secret never go in dora.toml: set DORA_OIDC_CLIENT_SECRET and "
        "DORA_COOKIE_SECRET, or put them in the secrets_file"
    )
    server_metadata_url: Annotated[Str, AfterValidator(_absolute_url)] | None = None
    client_id: Str | None = None
    redirect_uri: Annotated[Str, AfterValidator(_callback)] | None = None
    secrets_file: Str | None = None
    allow: People = ()
    sql_users: People = ()


class DashboardSettings(Section):
    links: Literal["github", "gitlab", "none"] | None = None
    web_url: Str | None = None
    auth: AuthSettings = AuthSettings()


def matches(email: str | None, people: tuple[str, ...]) -> bool:
    """Whether `email` is one of `people`: an address (any case), a domain (`example.com` or `@example.com`,
    the address's own domain, not a subdomain) or `*` (everyone)."""
    if not email or not _EMAIL.fullmatch(email):
        return False
    email = email.lower()
    domain = email.rpartition("@")[2]
    return any(person in ("*", email, domain, f"@{domain}") for person in people)


def dashboard_section(config: Config) -> DashboardSettings:
    return settings.parse(DashboardSettings, config.sections.get("dashboard"), "dashboard")


def _checked(data: dict[str, Any], path: Path) -> Config:
    settings.parse(DashboardSettings, data.get("dashboard"), "dashboard")
    return Config.of(data, path)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """What the dashboard reads of dora.toml (found as `dora` finds it): the warehouse, the metrics settings,
    [dashboard], and the other sections as written. `dora dashboard` has checked all of it on start."""
    return settings.read(path, _checked) or Config()
