"""The GitHub transport: PyGithub's Requester with conditional requests, a shared rate budget and
failures sorted into retriable and fatal.

Why the Requester and not PyGithub's object API: its PaginatedList hides each page's ETag and Link
headers (needed to stop at the first known page and to send If-None-Match), and `raw_data` on a listed
object fetches the object again. PyGithub still does auth, base_url (GHES), Link-following URLs, and its
GithubRetry waits out primary/secondary rate limits and retries 5xx underneath.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from github import Auth, Github, GithubRetry
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait

from collectors.base import CollectorError, RateBudget, Stats, classify
from collectors.github.settings import GithubSettings

PERMISSIONS = (
    "a classic token needs the `repo` scope (`public_repo` for public repositories only); a fine-grained "
    "token needs read access to Metadata, Contents, Pull requests, Deployments, Issues and Actions"
)
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class ApiError(CollectorError):
    def __init__(self, message: str, status: int | None, kind: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class Cancelled(CollectorError):
    """Another worker hit a failure that dooms the whole run (a rejected token)."""


@dataclass
class Response:
    status: int
    headers: dict[str, Any]
    data: Any

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def next_url(self) -> str | None:
        found = LINK_NEXT.search(self.headers.get("link") or "")
        return found.group(1) if found else None


def make_client(token: str | None, settings: GithubSettings) -> Github:
    """A PyGithub client for one worker thread (PyGithub's connection object is not thread-safe)."""
    retry = GithubRetry(
        total=settings.retries,
        backoff_factor=settings.backoff,
        secondary_rate_wait=settings.secondary_rate_wait,
        max_rate_limit_wait=settings.max_rate_limit_wait,
    )
    return Github(
        base_url=settings.api_url.rstrip("/"),
        auth=Auth.Token(token) if token else None,
        per_page=settings.per_page,
        retry=retry,
        timeout=int(settings.timeout),
        # PyGithub sleeps 0.25 s between requests by default: our rate budget paces instead
        seconds_between_requests=None,
        verify=settings.ca_bundle or True,
    )


def _message(body: Any) -> str:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("data") or "")[:200]
    return ""


class Api:
    """GET with If-None-Match, counted into `stats`, paced by the shared `budget`."""

    def __init__(
        self,
        client: Github,
        budget: RateBudget,
        stats: Stats,
        cancel: threading.Event | None = None,
        attempts: int = 4,
        secondary_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.budget, self.stats = client, budget, stats
        self.cancel = cancel or threading.Event()
        self.attempts, self.secondary_wait, self.sleep = attempts, secondary_wait, sleep
        self._lock = threading.Lock()

    def get(self, url: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Response:
        """A 2xx or 304 response; raises ApiError (fatal) once retries and waits are exhausted."""
        for attempt in range(self.attempts):
            if self.cancel.is_set():
                raise Cancelled("cancelled")
            self.stats.waited_seconds += self.budget.acquire(self.sleep)
            headers = {"If-None-Match": etag} if etag else {}
            try:
                status, out_headers, body = self.client.requester.requestJson("GET", url, params, headers)
            except RateLimitExceededExceedsMaxWait as exc:
                raise ApiError(
                    f"rate limit: GitHub asks to wait {exc.wait:.0f} s, more than max_rate_limit_wait: what "
                    "was fetched is saved, run again later",
                    exc.status,
                    "rate_limit",
                ) from None
            except GithubException as exc:
                # GithubRetry gave up on a 403 it could not classify as a rate limit
                status, out_headers, body = exc.status, dict(exc.headers or {}), exc.data
            except requests.exceptions.RetryError as exc:
                reason = str(getattr(exc.args[0], "reason", exc))[:120] if exc.args else str(exc)
                raise ApiError(
                    f"GET {url}: the server kept failing after {self.client.requester.kwargs['retry'].total} "
                    f"retries ({reason}): what was fetched is saved, run again later",
                    None,
                    "server",
                ) from None
            except requests.exceptions.ConnectionError as exc:
                raise ApiError(f"cannot reach GitHub at {url}: {exc}", None, "server") from None
            out_headers = {k.lower(): v for k, v in out_headers.items()}
            self._observe(status, out_headers)
            if status == 304:
                return Response(304, out_headers, None)
            if status < 300:
                return Response(status, out_headers, json.loads(body) if body else None)
            message = _message(body)
            verdict = classify(status, out_headers, message, secondary_wait=self.secondary_wait)
            if verdict.retriable and attempt + 1 < self.attempts:
                self.stats.waited_seconds += verdict.wait
                self.sleep(verdict.wait)
                continue
            raise ApiError(f"GET {url}: {status} {message}".strip(), status, verdict.kind)
        raise AssertionError("unreachable")

    def _observe(self, status: int, headers: dict[str, Any]) -> None:
        with self._lock:
            self.stats.requests += 1
            if status == 304:
                self.stats.not_modified += 1
        remaining, limit, reset = (
            headers.get("x-ratelimit-remaining"),
            headers.get("x-ratelimit-limit"),
            headers.get("x-ratelimit-reset"),
        )
        with contextlib.suppress(ValueError):  # a malformed header only loses pacing information
            self.budget.observe(
                int(float(remaining)) if remaining is not None else None,
                int(float(limit)) if limit is not None else None,
                float(reset) if reset is not None else None,
            )


def fatal_message(exc: ApiError, repo: str, what: str) -> str:
    """The message a user can act on, naming the repo and the permission involved."""
    if exc.status == 401:
        return (
            "GITHUB_TOKEN was rejected (401 Bad credentials): create a new token and export it as "
            "GITHUB_TOKEN"
        )
    if exc.status == 404:
        return (
            f"{repo}: {what} not found (404): the repository does not exist or the token cannot see it; "
            + PERMISSIONS
        )
    if exc.status == 403:
        return f"{repo}: {what} forbidden (403: {exc}); " + PERMISSIONS
    return f"{repo}: {what}: {exc}"
