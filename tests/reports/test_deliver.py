"""Delivery against real local servers: aiosmtpd for mail, http.server for the webhook, all on 127.0.0.1."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import smtplib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner, Result

from doralytics.cli import app
from reports import deliver
from reports.settings import SmtpSettings
from tests.support.browser import free_port
from tests.support.reports import WEEK, demo_warehouse


class Sink:
    """An SMTP server's handler: keeps what it is sent, or answers every DATA with `reply`."""

    def __init__(self, reply: str | None = None) -> None:
        self.reply = reply
        self.attempts = 0
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.attempts += 1
        if self.reply:
            return self.reply
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    servers = []

    def start(reply: str | None = None) -> tuple[Sink, int]:
        sink, port = Sink(reply), free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return sink, port

    yield start
    for controller in servers:
        controller.stop()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory)


def weekly(warehouse: Path, out: Path, *options: str, config: Path | None = None) -> Result:
    """`dora report weekly` of the demo's last whole week, written to `out`, delivered as `options` say."""
    first = ["--config", str(config)] if config else []
    args = [*first, "-w", str(warehouse), "report", "weekly", "--week", WEEK, "--out", str(out), *options]
    return CliRunner().invoke(app, args)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dora.toml"
    path.write_text(text)
    return path


def test_email_reaches_the_recipients_with_the_html_and_its_charts(smtp, warehouse, tmp_path):
    sink, port = smtp()
    out = tmp_path / "weekly.html"
    result = weekly(
        warehouse,
        out,
        "--email",
        "em@example.com",
        "--email",
        "director@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(port),
        "--no-smtp-starttls",
    )
    assert result.exit_code == 0, result.output
    assert len(sink.envelopes) == 1
    envelope = sink.envelopes[0]
    assert envelope.rcpt_tos == ["em@example.com", "director@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["To"] == "em@example.com, director@example.com"
    assert msg["Subject"].startswith("DORA weekly 2026-W26 (all teams): 63 deploys")
    html = msg.get_body(("html",)).get_content()
    assert "Week 2026-W26" in html and "data:image" not in html
    # the charts travel as related parts that the HTML points at by Content-ID
    images = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert len(images) == 2
    for part in images:
        assert f'src="cid:{part["Content-ID"][1:-1]}"' in html
    assert msg.get_body(("plain",)).get_content().startswith("# Weekly delivery report: week 2026-W26")
    assert out.exists()


def test_a_failing_smtp_server_is_retried_then_exits_non_zero_and_keeps_the_report(smtp, warehouse, tmp_path):
    sink, port = smtp(reply="451 4.3.0 Try again later")
    config = _config(
        tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nattempts = 3\nretry_seconds = 0.05\n'
    )
    out = tmp_path / "kept.html"
    result = weekly(warehouse, out, "--email", "em@example.com", config=config)
    assert result.exit_code == 1
    assert sink.attempts == 3
    assert "delivery failed after 3 attempt(s)" in result.stderr and f"kept at {out}" in result.stderr
    assert "Week 2026-W26" in out.read_text()


def test_a_permanent_refusal_is_not_retried(smtp):
    sink, port = smtp(reply="554 5.7.1 Relaying denied")
    msg = deliver.message("s", "<p>hi</p>", "hi", "dora@localhost", ["a@example.com"])
    outcome = deliver.send_email(msg, SmtpSettings(host="127.0.0.1", port=port, attempts=3, retry_seconds=0))
    assert (outcome.ok, outcome.attempts, sink.attempts) == (False, 1, 1)
    assert "554" in outcome.error and "permanent" in outcome.error


def test_nothing_listening_is_retried(monkeypatch):
    waits = []
    msg = deliver.message("s", "<p>hi</p>", "hi", "dora@localhost", ["a@example.com"])
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), attempts=3, retry_seconds=2, timeout=2)
    outcome = deliver.send_email(msg, settings, sleep=waits.append)
    assert (outcome.ok, outcome.attempts) == (False, 3)
    assert waits == [2, 4]  # backoff doubles
    assert not deliver.smtp_retriable(smtplib.SMTPAuthenticationError(535, b"bad password"))


class Hook(BaseHTTPRequestHandler):
    bodies: list = []
    statuses: list = []
    authorizations: list = []
    location: str | None = None  # a redirect's target, sent with a 3xx status

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.headers["Content-Type"], json.loads(body)))
        type(self).authorizations.append(self.headers["Authorization"])
        self.send_response(type(self).statuses.pop(0) if type(self).statuses else 200)
        location = type(self).location
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook():
    Hook.bodies, Hook.statuses, Hook.authorizations, Hook.location = [], [], [], None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Hook, f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000"
    server.shutdown()
    server.server_close()


def test_webhook_gets_the_summary_json_with_a_link(hook, warehouse, tmp_path):
    handler, url = hook
    config = _config(tmp_path, '[report]\npublic_url = "https://reports.example.com/dora"\n')
    out = tmp_path / "weekly-2026-W26.html"
    result = weekly(warehouse, out, "--webhook", url, config=config)
    assert result.exit_code == 0, result.output
    [(content_type, payload)] = handler.bodies
    assert content_type == "application/json"
    text = payload["text"]
    assert text.startswith("*DORA weekly 2026-W26* (22–28 Jun 2026, all teams)")
    assert "• Change failure rate: 6.3% [high]" in text and "4 of 63 failed" in text
    assert text.endswith("Full report: https://reports.example.com/dora/weekly-2026-W26.html")


def test_webhook_retries_server_errors_not_client_errors(hook):
    handler, url = hook
    handler.statuses = [502, 503]
    outcome = deliver.post_webhook(url, {"text": "hi"}, attempts=3, delay=0)
    assert (outcome.ok, outcome.attempts, len(handler.bodies)) == (True, 3, 3)
    handler.bodies.clear()
    handler.statuses = [404]
    outcome = deliver.post_webhook(url, {"text": "hi"}, attempts=3, delay=0)
    assert (outcome.ok, outcome.attempts, len(handler.bodies)) == (False, 1, 1)
    assert "T000" not in outcome.target  # the URL is a credential: only its host is reported


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/hostname", "only http:// and https:// webhook URLs are delivered to, got file:"),
        ("FILE:///etc/hostname", "got file:"),
        ("ftp://example.com/x", "got ftp:"),
        ("data:text/plain,hi", "got data:"),
        ("/etc/hostname", "got no scheme"),
        ("http:///no-host", "the URL has no host"),
    ],
)
def test_only_http_webhooks_are_posted_to(url, problem, caplog):
    outcome = deliver.post_webhook(url, {"text": "hi"}, attempts=3, delay=0)
    assert (outcome.ok, outcome.attempts) == (False, 0)
    assert outcome.error is not None and problem in outcome.error
    assert "hostname" not in outcome.error + outcome.target + caplog.text  # the path is never shown


def test_a_file_webhook_given_on_the_command_line_is_not_delivered(warehouse, tmp_path):
    out = tmp_path / "weekly.md"
    result = weekly(warehouse, out, "--format", "md", "--webhook", "file:///etc/hostname")
    assert result.exit_code == 1, result.output
    assert "delivered:" not in result.stderr
    assert "only http:// and https:// webhook URLs are delivered to, got file:" in result.stderr
    assert out.exists()  # the report is kept


def test_a_redirect_is_not_followed(hook):
    handler, url = hook
    handler.statuses, handler.location = [302], "file:///etc/hostname"
    outcome = deliver.post_webhook(url, {"text": "hi"}, attempts=3, delay=0)
    assert (outcome.ok, outcome.attempts, len(handler.bodies)) == (False, 1, 1)
    assert outcome.error is not None and "302" in outcome.error and "permanent" in outcome.error


def test_a_password_in_the_url_authenticates_and_is_never_printed(hook, caplog):
    handler, url = hook
    secret_url = url.replace("http://", "http://dora:s3cret%21pw@")
    outcome = deliver.post_webhook(secret_url, {"text": "hi"}, attempts=1, delay=0)
    assert outcome.ok, outcome.error
    assert handler.authorizations == ["Basic " + base64.b64encode(b"dora:s3cret!pw").decode()]
    handler.statuses = [500, 500]
    failed = deliver.post_webhook(secret_url, {"text": "hi"}, attempts=2, delay=0)
    assert not failed.ok and failed.error is not None and "500" in failed.error
    for text in (outcome.target, failed.target, str(failed.error), caplog.text):
        assert "s3cret" not in text and "dora:" not in text and "T000" not in text, text
    assert failed.target == f"webhook 127.0.0.1:{url.split(':')[2].split('/')[0]}"


@pytest.mark.parametrize(
    "url",
    [
        "http://dora:s3cret@127.0.0.1:notaport/hooks/T000",
        "http://dora:s3cret@[::1/hooks",
        "https://dora:s3cret@127.0.0.1:1/hooks/T000/B000",  # nothing listens: refused
    ],
)
def test_a_password_is_not_printed_in_errors(url, caplog):
    outcome = deliver.post_webhook(url, {"text": "hi"}, attempts=1, delay=0)
    assert not outcome.ok
    for text in (outcome.target, str(outcome.error), caplog.text):
        assert "s3cret" not in text and "T000" not in text, text


def test_a_password_is_not_printed_by_the_command(warehouse, tmp_path):
    url = f"http://dora:s3cret@127.0.0.1:{free_port()}/hooks/T000"
    result = weekly(warehouse, tmp_path / "w.md", "--format", "md", "--webhook", url)
    assert result.exit_code == 1
    assert "delivery failed" in result.stderr and "s3cret" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("file:///etc/hostname", "report.webhook: expected an http:// or https:// URL, got a file: URL"),
        (
            "ftp://dora:s3cret@example.com/x",
            "report.webhook: expected an http:// or https:// URL, got a ftp: URL",
        ),
        ("example.com/hook", "report.webhook: expected an http:// or https:// URL, got one without a scheme"),
        ("https://dora:s3cret@example.com:port/x", "got one whose port is not a number"),
        ("https:///x", "got one without a host"),
    ],
)
def test_webhook_settings_are_http_urls_and_errors_hide_them(tmp_path, value, message):
    config = _config(tmp_path, f'[report]\nwebhook = "{value}"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "schedule", "--list"])
    assert result.exit_code == 2
    assert message in result.stderr and "s3cret" not in result.stderr
