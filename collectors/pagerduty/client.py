"""The PagerDuty transport: the official `pagerduty` client, waiting out 429s as the server asks, with
failures turned into messages that say what to do.

The client retries 5xx as configured (`retry`), and 429s without end, ignoring Retry-After: the
subclass below waits what Retry-After asks for, and gives up after `rate_limit_retries` in a row.
"""

from __future__ import annotations

import datetime as dt
import ssl
import time
import urllib.parse
import urllib.request
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


class ProxyFailed(Exception):
    """The proxy refused or cannot be reached: no retry helps, the settings do."""


class AnswerTooLarge(Exception):
    """An answer past max_answer_mb: refused before it is read whole."""


class BadAnswer(CollectorError):
    """An answer the collector cannot use (not JSON, the wrong shape, too deep, too large): reported, and
    the other steps go on."""


class _TlsFailsFast(httpx2.HTTPTransport):
    """Certificate and proxy failures raised at once; answers read no further than `limit` bytes."""

    def __init__(self, limit: int, proxy: str | None, **kwargs: Any) -> None:
        super().__init__(proxy=proxy, **kwargs)
        self.limit, self.proxied = limit, proxy is not None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = super().handle_request(request)
        except httpx2.ProxyError as exc:
            raise ProxyFailed(str(exc)) from None
        except httpx2.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise UntrustedCertificate(str(exc)) from None
            if self.proxied:
                raise ProxyFailed(str(exc)) from None
            raise
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response.close()
            raise AnswerTooLarge(f"{int(declared) / 2**20:.1f} MiB, more")
        chunks, size = [], 0
        for chunk in response.stream:  # type: ignore[union-attr]  # a sync transport's stream
            size += len(chunk)
            if size > self.limit:
                response.close()
                raise AnswerTooLarge("more")
            chunks.append(chunk)
        response.close()
        # the raw bytes with their headers, as a stream: the client decodes and times them as it would have
        stream = httpx2.ByteStream(b"".join(chunks))
        return httpx2.Response(response.status_code, headers=response.headers, stream=stream, request=request)


def env_proxy(url: str) -> str | None:
    """The proxy HTTPS_PROXY (or ALL_PROXY) names for `url`, unless NO_PROXY exempts its host: the client's
    own transport is replaced here, so its reading of them is done here."""
    host = urllib.parse.urlsplit(url).hostname or ""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urllib.parse.urlsplit(url).scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


class Client(pagerduty.RestApiV2Client):
    """The official client, waiting out 429s as the server asks (Retry-After) instead of its own backoff."""

    def __init__(self, token: str, settings: PagerdutySettings, sleep: Callable[[float], None] = time.sleep):
        verify: Any = ssl.create_default_context(cafile=settings.ca_bundle) if settings.ca_bundle else True
        transport = _TlsFailsFast(
            int(settings.max_answer_mb * 2**20), env_proxy(settings.api_url), verify=verify
        )
        super().__init__(token, base_url=settings.api_url.rstrip("/"), transport=transport)
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


# every failure of a call to the client, sorted by `fatal`; TypeError, KeyError and AttributeError come from
# the client reading an answer of the wrong shape (`{"incidents": null}`), RecursionError from absurd nesting
FAILURES = (
    pagerduty.Error,
    pagerduty.HttpError,
    UntrustedCertificate,
    ProxyFailed,
    AnswerTooLarge,
    RecursionError,
    TypeError,
    KeyError,
    AttributeError,
)


def fatal(exc: BaseException, what: str, settings: PagerdutySettings | None = None) -> CollectorError:
    """A message that says what to do; never the client's own 401 text, which quotes part of the key."""
    unusable = f"{what}: unusable answer from PagerDuty: "
    if isinstance(exc, RecursionError):
        return BadAnswer(unusable + "nested too deep")
    if isinstance(exc, AnswerTooLarge):
        limit = f"{settings.max_answer_mb:g}" if settings else "the"
        return BadAnswer(unusable + f"{exc} than the {limit} MiB accepted (pagerduty.max_answer_mb)")
    if isinstance(exc, (TypeError, KeyError, AttributeError)):
        return BadAnswer(unusable + f"not the expected shape ({type(exc).__name__}: {str(exc)[:200]})")
    if isinstance(exc, ProxyFailed):
        return CollectorError(
            f"{what}: the proxy (HTTPS_PROXY) refused or cannot be reached: check it, or NO_PROXY; behind "
            "a TLS-inspecting proxy use --ca-bundle PATH with its CA"
        )
    if isinstance(exc, pagerduty.HttpError):
        status = exc.response.status_code if exc.response is not None else None
        if status is not None and 200 <= status < 300:
            return BadAnswer(unusable + _body_start(exc.response))
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


def _body_start(response: Any) -> str:
    try:
        text = str(response.text)
    except Exception:
        return "unreadable"
    if text.strip() == "null":
        return "null where an object was expected"
    return f"not JSON ({len(text)} characters: {text[:60].strip()!r})"


def _error_text(response: Any) -> str:
    try:
        return str(response.json().get("error", {}).get("message", ""))[:200]
    except Exception:
        return ""


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
