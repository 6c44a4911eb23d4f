"""Deliver a rendered report: email over SMTP, or a chat webhook; retried, and every outcome reported.

Delivery never owns the report: the caller has written it to disk before, so a failure loses nothing.
Errors are sorted like HTTP ones elsewhere in the project: temporary ones (connection refused, timeouts,
SMTP 4xx, HTTP 429/5xx) are retried with backoff; permanent ones (SMTP 5xx, authentication, HTTP 4xx)
fail at once, since repeating them only delays the message that says what to fix.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.policy
import email.utils
import json
import logging
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from reports.settings import SmtpSettings

log = logging.getLogger("doralytics.deliver")
DATA_IMAGE = re.compile(r'src="data:image/(png|jpeg|gif|svg\+xml);base64,([A-Za-z0-9+/=]+)"')


@dataclass(frozen=True)
class Outcome:
    target: str  # "email to a@x, b@y" or "webhook https://..."
    ok: bool
    attempts: int
    error: str | None = None


def with_retries(
    action: Callable[[], None],
    target: str,
    attempts: int,
    delay: float,
    classify: Callable[[Exception], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Run `action` up to `attempts` times, waiting delay, 2*delay, ... between tries of retriable errors."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            action()
            log.info("delivered: %s (attempt %d)", target, attempt)
            return Outcome(target, True, attempt)
        except Exception as exc:  # classified below: nothing escapes unreported
            error = f"{type(exc).__name__}: {exc}"
            retriable = classify(exc)
            log.warning("%s: attempt %d of %d failed: %s", target, attempt, attempts, error)
            if not retriable:
                return Outcome(target, False, attempt, f"{error} (permanent, not retried)")
            if attempt < attempts:
                sleep(delay * 2 ** (attempt - 1))
    return Outcome(target, False, attempts, error)


def message(
    subject: str, html: str, text: str, sender: str, recipients: list[str], now: dt.datetime | None = None
) -> EmailMessage:
    """multipart/alternative: the Markdown as text/plain, the HTML with its charts as inline cid: parts.

    Many mail clients (Gmail among them) do not show data: images; the file on disk keeps them, the mail
    carries them as related parts instead.
    """
    # Python folds an 80-character subject as "Subject:<newline> text", which some clients show with a
    # leading space: allow longer header lines (RFC 5322 permits up to 998).
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=200))
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = email.utils.format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = email.utils.make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    msg.set_content(text)
    images: list[tuple[str, str, bytes]] = []

    def to_cid(match: re.Match) -> str:
        cid = email.utils.make_msgid(idstring=f"chart{len(images) + 1}")
        images.append((cid, match[1], base64.b64decode(match[2])))
        return f'src="cid:{cid[1:-1]}"'

    msg.add_alternative(DATA_IMAGE.sub(to_cid, html), subtype="html")
    html_part = list(msg.iter_parts())[1]  # multipart/alternative: the text, then the HTML
    for n, (cid, subtype, data) in enumerate(images, 1):
        html_part.add_related(
            data, maintype="image", subtype=subtype, cid=cid, filename=f"chart{n}.{subtype[:3]}"
        )
    return msg


def smtp_retriable(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):  # e.g. STARTTLS not offered: the server will not change
        return False
    return isinstance(exc, OSError)  # refused, reset, timed out, DNS


def send_email(
    msg: EmailMessage,
    settings: SmtpSettings,
    password: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    recipients = [a for _, a in email.utils.getaddresses([msg["To"]])]
    target = f"email to {', '.join(recipients)} via {settings.host}:{settings.port}"

    def send() -> None:
        client: smtplib.SMTP
        if settings.ssl:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.starttls:
                client.starttls(context=ssl.create_default_context())
            if settings.user:
                if password is None:
                    raise smtplib.SMTPAuthenticationError(
                        530, b"smtp.user is set but DORA_SMTP_PASSWORD is not"
                    )
                client.login(settings.user, password)
            refused = client.send_message(msg, to_addrs=recipients)
            if refused:  # some accepted: retrying would send them a second copy
                log.warning("%s: refused by the server: %s", target, refused)

    return with_retries(send, target, settings.attempts, settings.retry_seconds, smtp_retriable, sleep)


def webhook_payload(summary: str) -> dict:
    """The JSON Slack, Mattermost and Teams (incoming webhook) all accept: a `text` in Markdown."""
    return {"text": summary}


def http_retriable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code >= 500
    return isinstance(exc, OSError)


def post_webhook(
    url: str,
    payload: dict,
    *,
    attempts: int = 3,
    delay: float = 5.0,
    timeout: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    body = json.dumps(payload).encode()
    # the URL is a secret for most chat tools (anyone holding it can post): log only its host
    target = f"webhook {urllib.parse.urlsplit(url).netloc}"

    def post() -> None:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "doralytics"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    return with_retries(post, target, attempts, delay, http_retriable, sleep)
