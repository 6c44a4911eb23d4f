"""The GitHub transport: PyGithub's Requester with conditional requests, a shared rate budget and
failures sorted into retriable and fatal.

Why the Requester and not PyGithub's object API: its PaginatedList hides each page's ETag and Link
headers (needed to stop at the first known page and to send If-None-Match), and `raw_data` on a listed
object fetches the object again. PyGithub still does auth, base_url (GHES), Link-following URLs, and its
GithubRetry waits out primary/secondary rate limits and retries 5xx underneath.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions
from github import Auth, Github, GithubRetry
from github.GithubException import GithubException, RateLimitExceededExceedsMaxWait

from collectors.base import Cancelled, CollectorError, RateBudget, Stats, TokenRejected, classify, timestamp
from collectors.github.settings import GithubSettings

PERMISSIONS = (
    "a classic token needs the `repo` scope (`public_repo` for public repositories only); a fine-grained "
    "token needs read access to Metadata, Contents, Pull requests, Deployments, Issues and Actions"
)
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


TLS_ADVICE = (
    "if GitHub Enterprise Server uses a private or corporate CA, give its PEM file with --ca-bundle PATH "
    "(github.ca_bundle in dora.toml)"
)
PROXY_ADVICE = (
    "check HTTPS_PROXY / HTTP_PROXY / NO_PROXY; a proxy that inspects TLS needs its CA given with "
    "--ca-bundle PATH (github.ca_bundle in dora.toml)"
)


class ApiError(CollectorError):
    def __init__(self, message: str, status: int | None, kind: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class BadAnswer(CollectorError):
    """A 2xx answer the collector cannot use (not JSON, the wrong shape, too deep, too large): reported
    for its repository and endpoint; the repository's other lists go on."""


class FailFastRetry(GithubRetry):
    """GithubRetry that gives up at once on TLS and proxy failures: retrying them cannot help, and with
    backoff it took minutes to say so."""

    def increment(self, method: Any = None, url: Any = None, *args: Any, **kwargs: Any) -> Any:
        error = kwargs.get("error")
        if isinstance(error, urllib3.exceptions.SSLError | urllib3.exceptions.ProxyError):
            raise urllib3.exceptions.MaxRetryError(kwargs.get("_pool"), url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, *args, **kwargs)


@dataclass(frozen=True)
class Resource:
    """A list endpoint, newest first by `order`; `items` names the list in a wrapped response."""

    entity: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    order: str = "id"
    items: str | None = None
    lookback_hours: float = 0.0  # re-read items this much older than the last top (runs get re-run)


RESOURCES = {
    "pulls": Resource(
        "pulls",
        "/repos/{repo}/pulls",
        {"state": "closed", "sort": "updated", "direction": "desc"},
        "updated_at",
    ),
    "deployments": Resource("deployments", "/repos/{repo}/deployments"),
    "issues": Resource(
        "issues",
        "/repos/{repo}/issues",
        {"state": "all", "sort": "updated", "direction": "desc"},
        "updated_at",
    ),
    "workflow_runs": Resource(
        "workflow_runs", "/repos/{repo}/actions/runs", {}, "created_at", items="workflow_runs"
    ),
    "releases": Resource("releases", "/repos/{repo}/releases"),
}


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

    def items(self, resource: Resource) -> list[dict[str, Any]]:
        """The listed items of a page of `resource`; BadAnswer when the page is not a list of objects."""
        data: Any = self.data or ([] if resource.items is None else {})
        if resource.items:
            if not isinstance(data, dict):
                raise BadAnswer(f"expected an object holding {resource.items!r}, got {_kind(data)}")
            data = data.get(resource.items) or []
        return objects(data, "the list")


def _kind(value: Any) -> str:
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), type(value).__name__)


def objects(data: Any, what: str) -> list[dict[str, Any]]:
    """`data` as a list of JSON objects; BadAnswer naming what it is instead."""
    if not isinstance(data, list):
        raise BadAnswer(f"expected {what} to be a list, got {_kind(data)}")
    odd = next((i for i, item in enumerate(data) if not isinstance(item, dict)), None)
    if odd is not None:
        raise BadAnswer(f"expected {what} to hold objects, item {odd} is {_kind(data[odd])}")
    return data


def decode(body: str | bytes | None, limit_mb: float) -> Any:
    """A JSON body, or BadAnswer saying why it cannot be used."""
    if not body:
        return None
    size = len(body)
    if size > limit_mb * 1e6:
        raise BadAnswer(f"the answer is {size / 1e6:.1f} MB, more than max_answer_mb = {limit_mb:g}")
    try:
        return json.loads(body)
    except RecursionError:
        raise BadAnswer("the answer is nested too deeply to decode") from None
    except ValueError:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        start = " ".join(text[:60].split())
        raise BadAnswer(f"the answer is not JSON (it starts {start!r})") from None


def make_client(token: str | None, settings: GithubSettings) -> Github:
    """A PyGithub client for one worker thread (PyGithub's connection object is not thread-safe)."""
    retry = FailFastRetry(
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
        max_answer_mb: float = 64.0,
    ) -> None:
        self.client, self.budget, self.stats = client, budget, stats
        self.cancel = cancel or threading.Event()
        self.attempts, self.secondary_wait, self.sleep = attempts, secondary_wait, sleep
        self.max_answer_mb = max_answer_mb
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
            except requests.exceptions.SSLError as exc:
                raise ApiError(f"GET {url}: TLS failed ({_reason(exc)}); {TLS_ADVICE}", None, "tls") from None
            except requests.exceptions.ProxyError as exc:
                raise ApiError(
                    f"GET {url}: the proxy failed ({_reason(exc)}); {PROXY_ADVICE}", None, "proxy"
                ) from None
            except requests.exceptions.ConnectionError as exc:
                raise ApiError(f"cannot reach GitHub at {url}: {_reason(exc)}", None, "server") from None
            out_headers = {k.lower(): v for k, v in out_headers.items()}
            self._observe(status, out_headers)
            if status == 304:
                return Response(304, out_headers, None)
            if status < 300:
                try:
                    return Response(status, out_headers, decode(body, self.max_answer_mb))
                except BadAnswer as exc:
                    raise BadAnswer(f"{exc} (GET {url.split('?')[0]})") from None
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


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests/urllib3 failure, in one line (not the whole chain)."""
    inner: BaseException = exc
    while True:
        nxt = getattr(inner, "reason", None) or (inner.args[0] if inner.args else None)
        if not isinstance(nxt, BaseException) or nxt is inner:
            break
        inner = nxt
    text = str(inner.args[-1] if isinstance(inner, OSError) and inner.args else inner)
    return " ".join(text.split())[:200]


def fatal(exc: ApiError, repo: str, what: str) -> CollectorError:
    """The error a user can act on, naming the repo and the permission involved."""
    if exc.status == 401:
        return TokenRejected(
            "GITHUB_TOKEN was rejected (401 Bad credentials): create a new token and export it as "
            "GITHUB_TOKEN"
        )
    if exc.status == 404:
        return CollectorError(
            f"{repo}: {what} not found (404): the repository does not exist or the token cannot see it; "
            + PERMISSIONS
        )
    if exc.status == 403:
        return CollectorError(f"{repo}: {what} forbidden (403: {exc}); " + PERMISSIONS)
    return CollectorError(f"{repo}: {what}: {exc}")


def org_repos(api: Api, org: str) -> list[str]:
    """The non-archived repositories of an organization."""
    names: list[str] = []
    url: str | None = f"/orgs/{org}/repos"
    query: dict[str, Any] | None = {"per_page": 100, "type": "all"}
    while url:
        try:
            response = api.get(url, query)
        except ApiError as exc:
            raise fatal(exc, org, "organization") from None
        names += [r["full_name"] for r in response.data or [] if not r.get("archived")]
        url, query = response.next_url, None
    return names


@dataclass
class Page:
    items: list[dict[str, Any]]
    state: dict[str, Any]  # the cursor to save when walking on
    done_state: dict[str, Any]  # the cursor to save when stopping after this page
    last: bool


def _shift(value: str, hours: float) -> str:
    return (timestamp(value) - dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


class RepoApi:
    """The requests of one repository: failures named after it, lists walked page by page from a cursor."""

    def __init__(self, api: Api, repo: str, per_page: int) -> None:
        self.api, self.repo, self.per_page = api, repo, per_page

    def get(
        self, url: str, what: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Response:
        try:
            return self.api.get(url, params, etag)
        except ApiError as exc:
            raise fatal(exc, self.repo, what) from None
        except BadAnswer as exc:
            raise BadAnswer(f"{self.repo}: {what}: {exc}") from None

    def get_object(
        self, url: str, what: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Response:
        """A GET whose answer must be one JSON object (or a 304)."""
        response = self.get(url, what, params, etag)
        if response.status != 304 and not isinstance(response.data, dict):
            raise BadAnswer(f"{self.repo}: {what}: expected an object, got {_kind(response.data)}")
        return response

    def items(self, response: Response, resource: Resource) -> list[dict[str, Any]]:
        try:
            return response.items(resource)
        except BadAnswer as exc:
            raise BadAnswer(f"{self.repo}: {resource.entity} list: {exc}") from None

    def get_all(self, url: str, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every page of a small list (a PR's commits or reviews)."""
        out: list[Any] = []
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": self.per_page, **(params or {})}
        while next_url:
            response = self.get(next_url, what, query)
            try:
                out.extend(objects(response.data or [], "the list"))
            except BadAnswer as exc:
                raise BadAnswer(f"{self.repo}: {what}: {exc}") from None
            next_url, query = response.next_url, None
        return out

    def walk(
        self, resource: Resource, state: dict[str, Any], params: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        """Pages of new items, newest first, from the cursor `state`, with the cursor to save after each.

        Lists come newest first, so an incremental run walks from the top and stops at the first item it
        already has; page 1 is asked with If-None-Match, so "nothing new" costs one 304 (free of rate
        limit) per repo and entity.
        """
        mark, mark_keys = state.get("mark"), set(state.get("mark_keys") or [])
        walked = ("mark", "mark_keys", "etag", "resume", "top", "top_keys", "complete")
        keep = {k: v for k, v in state.items() if k not in walked}
        stop_at = _shift(mark, resource.lookback_hours) if mark and resource.lookback_hours else mark
        fresh = not state.get("resume")
        if fresh:
            url: str | None = resource.path.format(repo=self.repo)
            query: dict[str, Any] | None = {
                **resource.params,
                "per_page": self.per_page,
                **(params or {}),
            }
            etag = state.get("etag") if state.get("complete") else None
            top, first_etag = None, None
            top_keys: list[str] = []
        else:
            url, query, etag = state["resume"], None, None
            top, top_keys, first_etag = state.get("top"), state.get("top_keys") or [], None
        while url:
            response = self.get(url, f"{resource.entity} list", query, etag)
            if response.status == 304:
                done = {**state, "resume": None}
                yield Page([], done, done, True)
                return
            items = self.items(response, resource)
            if fresh and top is None:
                first_etag = response.etag
                top = items[0].get(resource.order) if items else mark
                top_keys = (
                    [str(i.get("id")) for i in items if i.get(resource.order) == top]
                    if items
                    else list(mark_keys)
                )
            new: list[dict[str, Any]] = []
            reached = False
            for item in items:
                value = item.get(resource.order)
                if stop_at is not None and value is not None:
                    older = value < stop_at or (
                        value == stop_at and not resource.lookback_hours and str(item.get("id")) in mark_keys
                    )
                    if older:
                        reached = True
                        break
                new.append(item)
            next_url = response.next_url
            done_state = {
                **keep,
                "mark": top,
                "mark_keys": top_keys,
                "etag": first_etag,
                "resume": None,
                "complete": True,
            }
            go_on = {
                **keep,
                "mark": mark,
                "mark_keys": sorted(mark_keys),
                "etag": None,
                "resume": next_url,
                "top": top,
                "top_keys": top_keys,
                "complete": False,
            }
            last = reached or next_url is None
            yield Page(new, done_state if last else go_on, done_state, last)
            if last:
                return
            url, query, etag = next_url, None, None
