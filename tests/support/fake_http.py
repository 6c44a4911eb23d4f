"""A small fake JSON API on 127.0.0.1 (HTTP or HTTPS) for the GitLab and PagerDuty fakes.

The transport is faked, not the clients: python-gitlab and the PagerDuty client talk to it over real
sockets. Faults are scripted per path (`fail(...)`), every request is logged, and `on_request` lets a
test act after the Nth request (kill a collector mid-run).
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Query = dict[str, list[str]]
Reply = tuple[int, dict[str, str], Any]


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with openssl (an EC key: quicker than RSA)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
    return cert, key


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class Logged:
    path: str  # with the query string
    status: int
    at: float


class FakeServer:
    """Subclasses implement `authorized` and `route`; `with Fake(...) as f:` serves on `f.url`."""

    name = "fake"

    def __init__(self, tls: tuple[Path, Path] | None = None, latency: float = 0.0) -> None:
        self.tls, self.latency = tls, latency
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.on_request: Callable[[int], None] | None = None
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.RLock()
        self.server: ThreadingHTTPServer | None = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body in one packet: otherwise Nagle and delayed ACKs add 40 ms a request
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                fake.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=self.name
        ).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def fail(
        self,
        path_regex: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests whose path (with query) matches get this response instead."""
        with self.lock:
            self.faults.append(Fault(re.compile(path_regex), status, headers or {}, body, times))

    def requests(self, pattern: str = "") -> list[Logged]:
        with self.lock:
            return [entry for entry in self.log if re.search(pattern, entry.path)]

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    def authorized(self, headers: Any) -> Reply | None:
        """None when the request may go on, else the error reply."""
        raise NotImplementedError

    def route(self, path: str, query: Query, base: str) -> Reply:
        raise NotImplementedError

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = urlsplit(request.path).path
        if path in ("/_fake/log", "/_fake/reset"):
            # for a fake in another process (the benchmark): hand over the log (and start a new one)
            with self.lock:
                body = {"log": [[e.path, e.status] for e in self.log], "max_in_flight": self.max_in_flight}
                if path == "/_fake/reset":
                    self.log.clear()
                    self.max_in_flight = 0
            self.send(request, 200, {}, body)
            return
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._handle(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if self.latency:
            time.sleep(self.latency)
        split = urlsplit(request.path)
        query = parse_qs(split.query)
        base = f"{'https' if self.tls else 'http'}://{request.headers.get('Host')}"
        with self.lock:
            fault = next((f for f in self.faults if f.times > 0 and f.pattern.search(request.path)), None)
            if fault:
                fault.times -= 1
        if fault:
            status, headers, body = fault.status, fault.headers, fault.body
        else:
            denied = self.authorized(request.headers)
            with self.lock:
                status, headers, body = denied or self.route(split.path, query, base)
        self.send(request, status, headers, body)
        with self.lock:
            self.log.append(Logged(request.path, status, time.time()))
            count = len(self.log)
        if self.on_request:
            self.on_request(count)

    @staticmethod
    def send(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: Any) -> None:
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def one(query: Query, name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[-1] if values else default


def number_of(text: str) -> int:
    """A stable id for a name (node and object ids in fake payloads)."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16)


def sha_of(*parts: Any) -> str:
    """A stable 40-digit sha for the parts naming a synthetic commit."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def reachable(commits: dict[str, Any], start: str | None, parents: Callable[[Any], list[str]]) -> set[str]:
    """The shas reachable from `start` in a fake repository's commits (what a compare or a log answers)."""
    seen: set[str] = set()
    todo = [start] if start else []
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in commits:
            continue
        seen.add(sha)
        todo.extend(parents(commits[sha]))
    return seen
