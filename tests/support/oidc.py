"""A small but real OpenID Connect provider on 127.0.0.1, for the sign-in tests.

It serves what Streamlit's st.login (Authlib) uses of a provider like Google, Entra, Okta or Keycloak:
the discovery document, the authorization endpoint (a page with a form where the test types who signs in),
the token endpoint (authorization code, client secret, PKCE S256), the signing keys (JWKS) and userinfo.
ID tokens are RS256 JWTs signed with a key made for the test (joserfc, which Authlib uses itself).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "doralytics-dashboard"
CLIENT_SECRET = "s3cret-client-" + "x" * 20
KID = "test-key-1"


@dataclass
class Provider:
    """The provider's state: registered redirect URIs, codes handed out, tokens issued (for assertions)."""

    url: str = ""
    redirect_uris: set[str] = field(default_factory=set)
    unverified: set[str] = field(default_factory=set)  # emails whose email_verified is false
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    codes: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, dict] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # emails an ID token was issued for
    refused: list[str] = field(default_factory=list)  # why a request was refused

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "email",
                "email_verified",
                "name",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
            ],
        }

    def claims(self, email: str, nonce: str | None) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": hashlib.sha256(email.encode()).hexdigest()[:16],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "email": email,
            "email_verified": email not in self.unverified,
            "name": email.split("@")[0].title(),
        }
        if nonce:
            claims["nonce"] = nonce
        return claims

    def id_token(self, claims: dict) -> str:
        return jwt.encode({"alg": "RS256", "kid": KID}, claims, self.key)


def _page(title: str, body: str) -> bytes:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>".encode()


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _refuse(self, status: int, error: str) -> None:
        self.provider.refused.append(error)
        self._json(status, {"error": error})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        p = self.provider
        if url.path == "/.well-known/openid-configuration":
            self._json(200, p.discovery())
        elif url.path == "/jwks":
            self._json(200, {"keys": [p.key.as_dict(private=False)]})
        elif url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("redirect_uri") not in p.redirect_uris:
                return self._refuse(400, "unknown client or redirect_uri")
            if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
                return self._refuse(400, "unsupported response_type or scope")
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in query.items()
            )
            form = (
                '<h1>Test identity provider</h1><form method="post" action="/authorize">'
                f'{hidden}<label>Email <input id="email" name="email" type="email"></label>'
                '<button id="continue" type="submit">Continue</button></form>'
            )
            self._send(200, _page("Sign in", form), "text/html; charset=utf-8")
        elif url.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in p.access_tokens:
                return self._refuse(401, "invalid_token")
            self._json(200, {k: v for k, v in p.access_tokens[token].items() if k not in ("aud", "nonce")})
        else:
            self._send(404, b"not found", "text/plain")

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        form = self._form()
        p = self.provider
        if url.path == "/authorize":
            if form.get("redirect_uri") not in p.redirect_uris:
                return self._refuse(400, "unknown redirect_uri")
            code = secrets.token_urlsafe(24)
            p.codes[code] = dict(form, issued_at=time.time())
            target = (
                form["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": form["state"]})
            )
            self._send(302, b"", "text/plain", {"Location": target})
        elif url.path == "/token":
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):
                pair = base64.b64decode(basic[6:]).decode()
                client_id, _, client_secret = (urllib.parse.unquote(s) for s in pair.partition(":"))
            if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
                return self._refuse(401, "invalid_client")
            grant = p.codes.pop(form.get("code", ""), None)  # a code is good once
            if form.get("grant_type") != "authorization_code" or grant is None:
                return self._refuse(400, "invalid_grant")
            if form.get("redirect_uri") != grant["redirect_uri"] or time.time() - grant["issued_at"] > 60:
                return self._refuse(400, "invalid_grant")
            if grant.get("code_challenge"):
                verifier = form.get("code_verifier", "").encode()
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if digest != grant["code_challenge"]:
                    return self._refuse(400, "invalid_grant: PKCE")
            claims = p.claims(grant["email"], grant.get("nonce"))
            access = secrets.token_urlsafe(24)
            p.access_tokens[access] = claims
            p.issued.append(grant["email"])
            self._json(
                200,
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "scope": grant.get("scope", "openid"),
                    "id_token": p.id_token(claims),
                },
            )
        else:
            self._send(404, b"not found", "text/plain")


@contextlib.contextmanager
def provider(*redirect_uris: str) -> Iterator[Provider]:
    """The provider on a free port of 127.0.0.1 until the block ends."""
    state = Provider(redirect_uris=set(redirect_uris))
    handler = type("Handler", (_Handler,), {"provider": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
