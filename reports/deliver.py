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
    redact: Callable[[str], str] = str,
) -> Outcome:
    """Run `action` up to `attempts` times, waiting delay, 2*delay, ... between tries of retriable errors.
    `redact` takes the secrets out of an error's text before it is logged or reported."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            action()
            log.info("delivered: %s (attempt %d)", target, attempt)
            return Outcome(target, True, attempt)
        except Exception as exc:  # classified below: nothing escapes unreported
            error = redact(f"{type(exc).__name__}: {exc}")
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


WEBHOOK_SCHEMES = ("http", "https")


def webhook_host(url: str) -> str:
    """What may be shown of a webhook URL: its host (and port). The rest is a credential for most chat
    tools (anyone holding the URL can post), and a user:password in it certainly is."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number, say
        return "(an unreadable URL)"
    return f"{host}:{port}" if port else host or "(no host)"


def _secrets_of(url: str) -> list[str]:
    found = [url]
    # user:password before the host, read by hand: the URL may be one urllib cannot parse
    userinfo = re.match(r"^[^:/?#]*://([^/?#]*)@", url)
    if userinfo:
        found += [userinfo[1], *userinfo[1].split(":", 1)]
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [s for s in found if len(s) > 1]
    return [s for s in [*found, parts.netloc, parts.path, parts.query] if len(s) > 1]


def redactor(url: str) -> Callable[[str], str]:
    """A function that replaces the URL's secret parts (user:password, path, query) in a text by ***."""
    secrets = sorted(set(_secrets_of(url)), key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
            quoted = urllib.parse.quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "***")
        return text

    return redact


def webhook_problem(url: str) -> str | None:
    """Why `url` is no webhook this delivers to (only http:// and https:// ones with a host), or None."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # an unclosed [ of an IPv6 address, say
        return f"not a URL urllib can read: {exc}"
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return "not a URL: its port is not a number"
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
        return f"only http:// and https:// webhook URLs are delivered to, got {scheme}"
    if not parts.hostname:
        return "the URL has no host"
    return None


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
    target = f"webhook {webhook_host(url)}"
    redact = redactor(url)
    problem = webhook_problem(url)
    if problem is not None:  # file:///etc/hostname is no chat tool: never opened
        log.warning("%s: not delivered: %s", target, problem)
        return Outcome(target, False, 0, redact(problem))
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "doralytics"}
    if parts.username is not None or parts.password is not None:
        # user:password@ in the URL is HTTP Basic authentication, sent as a header (urllib would read it
        # as part of the host); the URL that is opened carries no credentials
        user, password = (urllib.parse.unquote(p or "") for p in (parts.username, parts.password))
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def post() -> None:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()

    return with_retries(post, target, attempts, delay, http_retriable, sleep, redact)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook answers; it does not send the message on elsewhere (perhaps to a file: or ftp: URL, which
    urllib would follow): a redirect is an HTTPError, reported like any other answer."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


# Only http(s), and no redirects: the scheme checked above is the one used.
_OPENER = urllib.request.build_opener(_NoRedirect)
