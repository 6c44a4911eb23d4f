"""Who may see the dashboard: the gate every script run passes before any data is read.

`dora dashboard` says in $DORA_DASHBOARD_AUTH how it was started (dashboard/signin.py): with sign-in
(OpenID Connect through st.login; then the allow-list of [dashboard.auth] applies and the SQL page is only
for `sql_users`), on loopback only, or with --no-auth (a banner says so). Started any other way (plain
`streamlit run`), the dashboard signs people in when Streamlit has an [auth] secret, serves a loopback
address (or, bound to every address, visitors from this machine) as before, and otherwise shows nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from dashboard import queries
from dashboard.settings import AuthSettings, dashboard_section, matches
from dashboard.signin import MODE_ENV, Mode, is_loopback

SIGN_IN_TITLE = "Sign in to Doralytics"
ACCESS_KEY = "dora-access"


@dataclass(frozen=True)
class Access:
    """What this visitor may do: `email` when signed in; `sql` whether the SQL page is theirs."""

    mode: Mode
    email: str | None
    sql: bool


def _auth_settings() -> AuthSettings:
    return dashboard_section(queries.settings()).auth


def _has_auth_secret() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


def mode() -> Mode | None:
    """How this server was started; None when it must not serve data at all."""
    named = os.environ.get(MODE_ENV, "")
    if named in Mode.__members__:
        return Mode(named)
    if _has_auth_secret():
        return Mode.oidc
    address = str(st.get_option("server.address") or "")
    if address:
        return Mode.local if is_loopback(address) else None
    # bound to every interface (plain `streamlit run`) or no server at all (AppTest): this machine only
    # (Streamlit gives no address for a loopback visitor, and AppTest a stand-in that is not text)
    return None if isinstance(st.context.ip_address, str) else Mode.local


def _user_email() -> str | None:
    email = st.user.get("email")
    if not isinstance(email, str):
        return None
    # A provider that says the address is not verified does not vouch for it.
    return None if st.user.get("email_verified") is False else email


def _sign_in_page() -> None:
    st.title(SIGN_IN_TITLE)
    st.write("The DORA metrics of your organisation. Sign in with your work account to see them.")
    if st.button("Sign in", type="primary", icon=":material/login:", key="auth-sign-in"):
        st.login()


def _refused(email: str | None) -> None:
    st.title("Not allowed")
    who = f"`{email}`" if email else "This account (its provider gave no verified email address)"
    st.error(
        f"{who} may not see this dashboard. Ask its administrator to add you to `allow` in "
        "`[dashboard.auth]` of dora.toml, or sign in with another account.",
        icon=":material/block:",
    )
    if st.button("Sign out", icon=":material/logout:", key="auth-sign-out"):
        st.logout()


def gate() -> Access:
    """Let the visitor through, or show the sign-in (or the refusal) and stop the run: no data is read
    before this returns."""
    st.session_state.pop(ACCESS_KEY, None)
    how = mode()
    if how is None:
        st.title("Doralytics")
        st.error(
            "This dashboard is reachable beyond this machine and sign-in is not configured, so it shows "
            "nothing. Start it with `dora dashboard`, which says how to configure sign-in.",
            icon=":material/lock:",
        )
        st.stop()
    settings = _auth_settings()
    if how is Mode.open:
        st.warning(
            "Sign-in is off (`--no-auth`): anyone who reaches this address sees the data and may run SQL.",
            icon=":material/lock_open:",
        )
        return _remember(Access(how, None, True))
    if how is Mode.local:
        return _remember(Access(how, None, True))
    if not st.user.is_logged_in:
        _sign_in_page()
        st.stop()
    email = _user_email()
    if not (matches(email, settings.allow) if settings.allow else email):
        _refused(email)
        st.stop()
    access = Access(how, email, matches(email, settings.sql_users))
    with st.sidebar:
        st.caption(f"Signed in as {email}")
        if st.button("Sign out", icon=":material/logout:", key="auth-sign-out"):
            st.logout()
    return _remember(access)


def require_sql() -> None:
    """For the SQL page itself: stop unless the gate of this run let the visitor use SQL (app.py also
    leaves the page out of the navigation for them)."""
    access = st.session_state.get(ACCESS_KEY)
    if not (isinstance(access, Access) and access.sql):
        st.error("The SQL page is not open to you: ask to be added to `sql_users`.", icon=":material/block:")
        st.stop()


def _remember(access: Access) -> Access:
    st.session_state[ACCESS_KEY] = access
    return access
