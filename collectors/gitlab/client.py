"""The GitLab transport: python-gitlab pages, counted, with failures turned into messages that say what to do.

python-gitlab does the HTTP: the token, TLS (a private CA through `ssl_verify`), waiting out 429s
(Retry-After, RateLimit-Reset) and retrying 5xx (`retry_transient_errors`). Pages are asked through
`http_request` because the collector needs each page's Link header to save where to resume.
"""

from __future__ import annotations

import datetime as dt
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


class UntrustedCertificate(Exception):
    """Not a requests.ConnectionError, so that python-gitlab does not retry it ten times first."""


class _TlsFailsFast(requests.adapters.HTTPAdapter):
    def send(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return super().send(*args, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise UntrustedCertificate(str(exc)) from None


def make_client(token: str | None, settings: GitlabSettings) -> gitlab.Gitlab:
    """One python-gitlab client per worker thread (its requests session is not thread-safe)."""
    session = requests.Session()
    session.mount("https://", _TlsFailsFast())
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

    def page(self, url: str, query: dict[str, Any] | None, what: str) -> tuple[Any, str | None]:
        """(the decoded body, the URL of the next page or None)."""
        with self.lock:
            self.stats.requests += 1
        try:
            response = self.client.http_request(
                "get", url, query_data=query or {}, max_retries=self.settings.retries
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
        except requests.RequestException as exc:
            raise CollectorError(f"{what}: cannot reach {self.settings.url}: {type(exc).__name__}") from None
        found = LINK_NEXT.search(response.headers.get("Link") or "")
        return response.json(), self._same_base(found.group(1)) if found else None

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
        names += [p["path_with_namespace"] for p in data or [] if not p.get("archived")]
        query = None
    return names
