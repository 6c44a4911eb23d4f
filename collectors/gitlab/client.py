"""The GitLab transport: python-gitlab pages, counted, with failures turned into messages that say what to do.

python-gitlab does the HTTP: the token, TLS (a private CA through `ssl_verify`), waiting out 429s
(Retry-After, RateLimit-Reset) and retrying 5xx (`retry_transient_errors`). Pages are asked through
`http_request` because the collector needs each page's Link header to save where to resume. Each answer
is read no further than `max_answer_mb` and must be JSON of the expected shape, at most MAX_DEPTH deep:
anything else is a BadAnswer naming the project and endpoint. Certificate and proxy failures are raised at
once instead of being retried as connection errors.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any
from urllib.parse import quote

import gitlab
import requests
import requests.adapters

from collectors.base import CollectorError, Stats, TokenRejected
from collectors.gitlab.settings import GitlabSettings

SCOPES = (
    "the token needs the `read_api` scope (a personal, group or project access token) and at least "
    "Reporter access to the project"
)


# an answer nested deeper is refused: GitLab's own are about 5 levels deep
MAX_DEPTH = 64


class UntrustedCertificate(Exception):
    """Not a requests.ConnectionError, so that python-gitlab does not retry it ten times first."""


class ProxyFailed(Exception):
    """The proxy refused or could not be reached: no retry helps, the settings do."""


class BadAnswer(CollectorError):
    """A 2xx answer the collector cannot use (not JSON, the wrong shape, too deep, too large): that
    endpoint of that project is reported, the rest goes on."""


class _TlsFailsFast(requests.adapters.HTTPAdapter):
    def send(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(*args, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise UntrustedCertificate(str(exc)) from None
        except requests.exceptions.ProxyError as exc:
            raise ProxyFailed(str(exc)) from None


def make_client(token: str | None, settings: GitlabSettings) -> gitlab.Gitlab:
    """One python-gitlab client per worker thread (its requests session is not thread-safe)."""
    session = requests.Session()
    session.mount("https://", _TlsFailsFast())
    session.mount("http://", _TlsFailsFast())
    return gitlab.Gitlab(
        session=session,
        url=settings.url.rstrip("/"),
        private_token=token,
        per_page=settings.per_page,
        timeout=settings.timeout,
        ssl_verify=settings.ca_bundle or True,
        # 5xx and timeouts are retried with python-gitlab's backoff; 429s are waited out by default
        retry_transient_errors=True,
        # Link headers may name another host (a proxy in front of a self-managed instance)
        keep_base_url=True,
    )


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_STATS_LOCK = threading.Lock()  # MR details of one project are fetched from several threads
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class Api:
    """GET one page through python-gitlab, counted; failures turned into messages that say what to do."""

    def __init__(self, client: gitlab.Gitlab, settings: GitlabSettings, stats: Stats) -> None:
        self.client, self.settings, self.stats = client, settings, stats
        self.lock = _STATS_LOCK

    def page(
        self, url: str, query: dict[str, Any] | None, what: str, shape: type = list
    ) -> tuple[Any, str | None]:
        """(the decoded body, the URL of the next page or None); a body that is not JSON of `shape`
        (list or dict) raises BadAnswer naming `what`."""
        with self.lock:
            self.stats.requests += 1
        try:
            response = self.client.http_request(
                "get", url, query_data=query or {}, max_retries=self.settings.retries, streamed=True
            )
        except gitlab.exceptions.GitlabAuthenticationError:
            raise TokenRejected(
                f"GITLAB_TOKEN was rejected by {self.settings.url} (401): it is wrong, expired or revoked; "
                + SCOPES
            ) from None
        except gitlab.exceptions.GitlabHttpError as exc:
            raise CollectorError(self.explain(exc.response_code, what, exc.error_message)) from None
        except UntrustedCertificate:
            raise CollectorError(
                f"{self.settings.url}: TLS certificate not trusted; give the CA that signed it with "
                "--ca-bundle PATH (gitlab.ca_bundle in dora.toml)"
            ) from None
        except ProxyFailed:
            raise CollectorError(
                f"{self.settings.url}: the proxy (HTTPS_PROXY / HTTP_PROXY) refused or cannot be reached: "
                "check it, or NO_PROXY; behind a TLS-inspecting proxy use --ca-bundle PATH with its CA"
            ) from None
        except requests.RequestException as exc:
            raise CollectorError(f"{what}: cannot reach {self.settings.url}: {type(exc).__name__}") from None
        try:
            body = decode(read_capped(response, self.settings.max_answer_mb), shape)
        except BadAnswer as exc:
            raise BadAnswer(f"{what}: unusable answer from GitLab: {exc}") from None
        except requests.RequestException as exc:
            raise CollectorError(f"{what}: the answer broke off: {type(exc).__name__}") from None
        finally:
            response.close()
        found = LINK_NEXT.search(response.headers.get("Link") or "")
        return body, self._same_base(found.group(1)) if found else None

    def _same_base(self, url: str) -> str:
        # keep_base_url, done here because pages are fetched one by one, not through GitlabList
        api = self.client.api_url
        if url.startswith(api) or "/api/v4/" not in url:
            return url
        return api + "/" + url.split("/api/v4/", 1)[1]

    def all(self, url: str, query: dict[str, Any] | None, what: str) -> list[Any]:
        """Every page of a small list (an MR's commits or notes, the environments)."""
        out: list[Any] = []
        next_url: str | None = url
        query = {"per_page": self.settings.per_page, **(query or {})}
        while next_url:
            data, next_url = self.page(next_url, query, what)
            out.extend(data or [])
            query = None
        return out

    def one(self, url: str, what: str) -> dict[str, Any]:
        """One object (a project, a branch)."""
        data, _ = self.page(url, None, what, dict)
        return dict(data)

    def explain(self, status: int | None, what: str, message: Any) -> str:
        if status == 403:
            return f"{what}: forbidden (403): {SCOPES}"
        if status == 404:
            return f"{what}: not found (404): check the path, or {SCOPES}"
        if status == 429:
            return f"{what}: still rate limited after {self.settings.retries} waits (429); run again later"
        if status is not None and status >= 500:
            retries = self.settings.retries
            return f"{what}: GitLab keeps failing ({status}) after {retries} retries; run again later"
        return f"{what}: HTTP {status}: {str(message)[:200]}"


def read_capped(response: requests.Response, limit_mb: float) -> bytes:
    """The body, refused past `limit_mb` MiB (read no further than that)."""
    limit = int(limit_mb * 2**20)
    accepted = f"the {limit_mb:g} MiB accepted (gitlab.max_answer_mb)"
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadAnswer(f"{int(declared) / 2**20:.1f} MiB, more than {accepted}")
    chunks, size = [], 0
    for chunk in response.iter_content(1 << 16):
        size += len(chunk)
        if size > limit:
            raise BadAnswer(f"more than {accepted}")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(data: bytes, shape: type) -> Any:
    """JSON of the expected shape (a list of objects, or an object), at most MAX_DEPTH levels deep."""
    try:
        body = json.loads(data)
    except RecursionError:
        raise BadAnswer(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        start = data[:60].decode("utf-8", "replace").strip()
        raise BadAnswer(f"not JSON ({len(data)} bytes: {start!r})") from None
    if not isinstance(body, shape):
        expected = "a list" if shape is list else "an object"
        raise BadAnswer(
            f"{type(body).__name__ if body is not None else 'null'} where {expected} was expected"
        )
    if depth(body) > MAX_DEPTH:
        raise BadAnswer(f"nested deeper than {MAX_DEPTH} levels")
    return body


def depth(value: Any) -> int:
    """How deep lists and objects nest in a decoded answer (iteratively: no recursion limit)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            todo.extend((child, level + 1) for child in item if isinstance(child, (dict, list)))
    return deepest


def group_projects(api: Api, group: str, per_page: int) -> list[str]:
    """Every non-archived project of a group and its subgroups, by keyset pages (stable under inserts)."""
    names: list[str] = []
    url: str | None = f"/groups/{quote(group, safe='')}/projects"
    query: dict[str, Any] | None = {
        "include_subgroups": "true",
        "archived": "false",
        "pagination": "keyset",
        "order_by": "id",
        "sort": "asc",
        "per_page": per_page,
    }
    while url:
        data, url = api.page(url, query, f"group {group}")
        names += [
            str(p["path_with_namespace"])
            for p in data
            if isinstance(p, dict) and p.get("path_with_namespace") and not p.get("archived")
        ]
        query = None
    return names
