"""The whole sign-in in a real browser: `dora dashboard` with [dashboard.auth], a real OpenID Connect provider
on 127.0.0.1 (tests/support/oidc.py), headless Chromium through st.login, Authlib's token exchange and the
signed cookie. An allowed person sees the overview, someone outside the allow-list is refused, the SQL page
is only for sql_users, and an anonymous visitor gets the sign-in page and nothing else."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import oidc
from tests.support.browser import CHROMIUM_ARGS, chromium, free_port, metric_values, wait_idle
from tests.support.dashboard import demo_warehouse

COOKIE_SECRET = "c" * 16 + "0123456789abcdef0123"
ALICE = "alice@example.com"  # listed by address, and in sql_users
BOB = "bob@example.org"  # allowed by his domain, not in sql_users
MALLORY = "mallory@elsewhere.net"  # not allowed


@contextlib.contextmanager
def dashboard(config: Path, warehouse: Path, port: int, log: Path) -> Iterator[str]:
    env = dict(
        os.environ,
        DORA_OIDC_CLIENT_SECRET=oidc.CLIENT_SECRET,
        DORA_COOKIE_SECRET=COOKIE_SECRET,
    )
    env.pop("DORA_CONFIG", None)
    command = [sys.executable, "-m", "doralytics", "--config", str(config), "--warehouse", str(warehouse)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*command, "dashboard", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log.read_text()
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response,
                ):
                    if response.status == 200:
                        break
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.25)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def signed_in_dashboard(tmp_path_factory) -> Iterator[tuple[str, oidc.Provider, Path]]:
    base = tmp_path_factory.mktemp("signin")
    warehouse = demo_warehouse(tmp_path_factory.getbasetemp())
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/oauth2callback"
    with oidc.provider(redirect) as provider:
        config = base / "dora.toml"
        config.write_text(
            "[dashboard.auth]\n"
            f'server_metadata_url = "{provider.metadata_url}"\n'
            f'client_id = "{oidc.CLIENT_ID}"\n'
            f'redirect_uri = "{redirect}"\n'
            f'allow = ["{ALICE}", "example.org"]\n'
            f'sql_users = ["{ALICE}"]\n'
        )
        log = base / "dashboard.log"
        with dashboard(config, warehouse, port, log) as url:
            yield url, provider, log


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            yield chrome
        finally:
            chrome.close()


def new_page(browser):
    """A fresh browser profile: no cookie of another test's sign-in."""
    context = browser.new_context(viewport={"width": 1600, "height": 1400})
    return context.new_page()


def open_app(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=90_000)
    wait_idle(page, 90)


def sign_in(page, url: str, email: str) -> None:
    open_app(page, url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#email", timeout=30_000)  # the provider's own page
    assert page.url.startswith("http://127.0.0.1") and "/authorize?" in page.url
    page.fill("#email", email)
    page.click("#continue")
    page.wait_for_url(f"{url}/**", timeout=30_000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=90_000)
    wait_idle(page, 90)


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def nav_titles(page) -> list[str]:
    """The page names in the navigation (each link reads "icon-name\n\nTitle")."""
    return [
        t.strip().split("\n")[-1] for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    ]


def test_anonymous_gets_the_sign_in_page_only(signed_in_dashboard, browser):
    url, provider, _ = signed_in_dashboard
    page = new_page(browser)
    for path in ("", "/sql", "/overview", "/data_quality"):
        open_app(page, url + path)
        text = main_text(page)
        assert "Sign in to Doralytics" in text
        assert not page.locator('[data-testid="stMetric"]').count()
        assert not nav_titles(page)  # no navigation, so no page names either
        assert ".duckdb" not in text and "Query" not in text  # no warehouse path, no SQL editor
        assert not page.locator("textarea").count()  # no SQL editor
    page.context.close()
    # nor around the page: Streamlit's agent API, which drives an app over plain HTTP, is off
    request = urllib.request.Request(
        f"{url}/_stcore/agent/interact", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_an_allowed_person_signs_in_and_sees_the_overview_and_sql(signed_in_dashboard, browser):
    url, provider, _ = signed_in_dashboard
    page = new_page(browser)
    sign_in(page, url, ALICE)
    assert ALICE in provider.issued
    tiles = metric_values(page)
    assert len(tiles) == 5, tiles  # the five metrics
    assert f"Signed in as {ALICE}" in page.locator('[data-testid="stSidebar"]').inner_text()
    assert "SQL" in nav_titles(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="SQL").first.click()
    wait_idle(page, 60)
    assert page.locator("textarea").count() == 1  # the SQL editor is theirs
    # the cookie holds for a new tab of the same browser
    other = page.context.new_page()
    open_app(other, url)
    assert len(metric_values(other)) == 5
    page.context.close()


def test_the_sql_page_is_refused_to_a_signed_in_person_not_in_sql_users(signed_in_dashboard, browser):
    url, provider, _ = signed_in_dashboard
    page = new_page(browser)
    sign_in(page, url, BOB)  # allowed by domain
    assert len(metric_values(page)) == 5
    assert "SQL" not in nav_titles(page) and "Data quality" in nav_titles(page)
    open_app(page, f"{url}/sql")  # typed by hand
    assert not page.locator("textarea").count()
    assert "Query" not in main_text(page)
    page.context.close()


def test_a_person_outside_the_allow_list_is_refused(signed_in_dashboard, browser):
    url, provider, _ = signed_in_dashboard
    page = new_page(browser)
    sign_in(page, url, MALLORY)
    assert MALLORY in provider.issued  # the provider did sign them in
    text = main_text(page)
    assert "Not allowed" in text and MALLORY in text
    assert not page.locator('[data-testid="stMetric"]').count()
    assert not nav_titles(page)
    open_app(page, f"{url}/sql")
    assert "Not allowed" in main_text(page) and not page.locator("textarea").count()
    page.get_by_role("button", name="Sign out").click()  # st.logout: the cookie is cleared
    page.get_by_text("Sign in to Doralytics").wait_for(timeout=60_000)
    open_app(page, url)
    assert "Sign in to Doralytics" in main_text(page)
    assert not page.context.cookies() or all(c["name"] != "_streamlit_user" for c in page.context.cookies())
    page.context.close()


def test_an_unverified_address_is_not_let_in_on_its_domain(signed_in_dashboard, browser):
    url, provider, _ = signed_in_dashboard
    provider.unverified.add("eve@example.org")
    page = new_page(browser)
    sign_in(page, url, "eve@example.org")
    assert "Not allowed" in main_text(page)
    assert not page.locator('[data-testid="stMetric"]').count()
    page.context.close()


def test_no_secret_reaches_the_log(signed_in_dashboard):
    _, _, log = signed_in_dashboard
    text = log.read_text()
    assert "sign-in:" in text and "client_secret from $DORA_OIDC_CLIENT_SECRET" in text
    assert oidc.CLIENT_SECRET not in text and COOKIE_SECRET not in text
