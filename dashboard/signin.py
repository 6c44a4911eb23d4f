"""Sign-in settings as Streamlit needs them: the `[auth]` table of a secrets file, merged from dora.toml,
the environment and a Streamlit secrets file, then written where only Streamlit reads it.

Where each value comes from (a later source wins):

- `server_metadata_url`, `client_id`, `redirect_uri`: a secrets file's `[auth]`, then `[dashboard.auth]`;
- `client_secret`: the secrets file, then $DORA_OIDC_CLIENT_SECRET (never dora.toml);
- `cookie_secret`: the secrets file, then $DORA_COOKIE_SECRET; without either a random one per start
  (everyone signs in again after a restart).

The secrets file is `[dashboard.auth] secrets_file`, else the one Streamlit itself would read
(./.streamlit/secrets.toml, then ~/.streamlit/secrets.toml). No secret is ever put in a message.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from dashboard.settings import AuthSettings
from warehouse.settings import ConfigError

MODE_ENV = "DORA_DASHBOARD_AUTH"
CLIENT_SECRET_ENV = "DORA_OIDC_CLIENT_SECRET"
COOKIE_SECRET_ENV = "DORA_COOKIE_SECRET"
REQUIRED = ("server_metadata_url", "client_id", "client_secret", "redirect_uri")
MIN_COOKIE_SECRET = 32
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
HOW = (
    "set [dashboard.auth] server_metadata_url, client_id and redirect_uri in dora.toml and the client "
    f"secret in ${CLIENT_SECRET_ENV} (or all of them under [auth] in a Streamlit secrets file), see "
    "'Sign-in' in the README"
)


class Mode(StrEnum):
    """How the dashboard treats a visitor: `dora dashboard` says which in $DORA_DASHBOARD_AUTH."""

    oidc = "oidc"  # sign-in required, the allow-list applies
    open = "open"  # --no-auth on purpose: no sign-in, a banner says so
    local = "local"  # bound to loopback: this machine only


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


@dataclass(frozen=True)
class SignIn:
    """The merged `[auth]` table for Streamlit and where the secrets came from (for the start-up note)."""

    auth: dict[str, str]
    sources: dict[str, str]

    @property
    def redirect_uri(self) -> str:
        return self.auth["redirect_uri"]


def default_secrets_files() -> list[Path]:
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def _secrets_auth(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the secrets file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    auth = data.get("auth", {})
    if not isinstance(auth, Mapping):
        raise ConfigError(f"{path}: [auth] must be a table")
    for key, value in auth.items():
        if key in (*REQUIRED, "cookie_secret") and not isinstance(value, str):
            raise ConfigError(f"{path}: auth.{key}: expected a string")
    return dict(auth)


def resolve(settings: AuthSettings, environ: Mapping[str, str] | None = None) -> SignIn | None:
    """The sign-in configuration, None when none of it is given; a ConfigError naming what is missing
    when only part of it is."""
    environ = os.environ if environ is None else environ
    auth: dict[str, str] = {}
    sources: dict[str, str] = {}
    if settings.secrets_file:
        files = [Path(settings.secrets_file)]
        if not files[0].is_file():
            raise ConfigError(f"dashboard.auth.secrets_file: {files[0]}: no such file")
    else:
        files = [p for p in default_secrets_files() if p.is_file()][:1]
    for path in files:
        for key, value in _secrets_auth(path).items():
            if key in (*REQUIRED, "cookie_secret") and value:
                auth[key], sources[key] = value, str(path)
    for key in ("server_metadata_url", "client_id", "redirect_uri"):
        value = getattr(settings, key)
        if value:
            auth[key], sources[key] = value, "dora.toml [dashboard.auth]"
    for key, env in (("client_secret", CLIENT_SECRET_ENV), ("cookie_secret", COOKIE_SECRET_ENV)):
        if environ.get(env):
            auth[key], sources[key] = environ[env], f"${env}"
    if not any(key in auth for key in REQUIRED):
        return None
    missing = [key for key in REQUIRED if key not in auth]
    if missing:
        raise ConfigError(f"sign-in is configured in part: {', '.join(missing)} missing; {HOW}")
    if "cookie_secret" not in auth:
        auth["cookie_secret"], sources["cookie_secret"] = secrets.token_hex(32), "random, this start only"
    elif len(auth["cookie_secret"]) < MIN_COOKIE_SECRET:
        raise ConfigError(
            f"the cookie secret from {sources['cookie_secret']} is shorter than {MIN_COOKIE_SECRET} "
            "characters: make one with `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    if not auth["redirect_uri"].rstrip("/").endswith("/oauth2callback"):
        raise ConfigError(
            f"redirect_uri from {sources['redirect_uri']} must end with /oauth2callback "
            "(Streamlit's sign-in callback, as registered with the provider)"
        )
    return SignIn(auth, sources)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def write_secrets(sign_in: SignIn, folder: Path) -> Path:
    """The `[auth]` table written to a file only this user can read, in `folder` (a private temporary
    folder the caller removes); Streamlit is pointed at it with --secrets.files."""
    path = folder / "secrets.toml"
    lines = ["[auth]", *(f"{key} = {_toml_string(value)}" for key, value in sorted(sign_in.auth.items()))]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path


def private_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="doralytics-dashboard-"))
