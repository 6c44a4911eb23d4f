"""The PagerDuty transport: the official `pagerduty` client, waiting out 429s as the server asks, with
failures turned into messages that say what to do.

The client retries 5xx as configured (`retry`), and 429s without end, ignoring Retry-After: the
subclass below waits what Retry-After asks for, and gives up after `rate_limit_retries` in a row.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx2
import pagerduty

from collectors.base import CollectorError, TokenRejected, retry_after_seconds
from collectors.pagerduty.settings import PagerdutySettings

ACCESS = (
    "use a read-only REST API key (User or General Access), or an OAuth token with the scopes "
    "incidents.read, services.read and change_events.read"
)


class UntrustedCertificate(Exception):
    """Not an httpx TransportError, so that the client does not retry it before telling the user."""


class _TlsFailsFast(httpx2.HTTPTransport):
    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return super().handle_request(request)
        except httpx2.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise UntrustedCertificate(str(exc)) from None
            raise


class Client(pagerduty.RestApiV2Client):
    """The official client, waiting out 429s as the server asks (Retry-After) instead of its own backoff."""

    def __init__(self, token: str, settings: PagerdutySettings, sleep: Callable[[float], None] = time.sleep):
        verify: Any = ssl.create_default_context(cafile=settings.ca_bundle) if settings.ca_bundle else True
        super().__init__(token, base_url=settings.api_url.rstrip("/"), transport=_TlsFailsFast(verify=verify))
        self.settings, self.sleep = settings, sleep
        self.requests = 0
        self.waited = 0.0
        self.limited_in_a_row = 0
        self.timeout = settings.timeout  # type: ignore[assignment]  # httpx takes float seconds
        self.sleep_timer = settings.backoff
        self.retry = {status: settings.retries for status in (500, 502, 503, 504)}

    def postprocess(self, response: Any, suffix: str | None = None) -> None:
        super().postprocess(response, suffix)
        self.requests += 1
        if response.status_code != 429:
            self.limited_in_a_row = 0
            return
        self.limited_in_a_row += 1
        if self.limited_in_a_row > self.settings.rate_limit_retries:
            raise CollectorError(
                f"PagerDuty still rate limits after {self.settings.rate_limit_retries} waits (429); what was "
                "fetched is saved: run again later"
            )
        wait = retry_after_seconds(response.headers.get("Retry-After"), time.time())
        if wait is None:
            return  # the client's own backoff (sleep_timer, doubled each time) applies
        if wait > self.settings.max_rate_limit_wait:
            raise CollectorError(
                f"PagerDuty asks to wait {wait:.0f} s (Retry-After), more than max_rate_limit_wait "
                f"({self.settings.max_rate_limit_wait:.0f} s): what was fetched is saved: run again later"
            )
        self.waited += wait
        self.sleep(wait)


def make_client(token: str, settings: PagerdutySettings) -> Client:
    return Client(token, settings)


def fatal(exc: Exception, what: str) -> CollectorError:
    """A message that says what to do; never the client's own 401 text, which quotes part of the key."""
    if isinstance(exc, pagerduty.HttpError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return TokenRejected(
                f"PAGERDUTY_TOKEN was rejected (401): it is wrong or revoked, or belongs to "
                f"another service region (EU: --api-url https://api.eu.pagerduty.com); {ACCESS}"
            )
        if status == 403:
            return CollectorError(f"{what}: forbidden (403): {ACCESS}")
        if status == 404:
            return CollectorError(f"{what}: not found (404): check the service id")
        if status == 429:
            return CollectorError(f"{what}: rate limited (429); run again later")
        if status is not None and status >= 500:
            return CollectorError(f"{what}: PagerDuty keeps failing ({status}); what was fetched is saved")
        return CollectorError(f"{what}: HTTP {status}: {_error_text(exc.response)}")
    if isinstance(exc, UntrustedCertificate):
        return CollectorError(
            f"{what}: the TLS certificate is not trusted; give the CA that signed it with --ca-bundle PATH "
            "(pagerduty.ca_bundle in dora.toml)"
        )
    return CollectorError(f"{what}: cannot reach PagerDuty: {type(exc).__name__}")


def _error_text(response: Any) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except Exception:
        return ""


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
