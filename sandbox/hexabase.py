"""A local stand-in for the Hexabase platform: OAuth 2.0 + PKCE sign-in and the API the bot
reads a linked user's workspaces, projects and kubeconfigs from.

It issues RS256 tokens from a key generated at start (published at the JWKS URL), checks PKCE
S256 and single-use codes like a real authorization server, and serves the API only to a valid
token of its own.  Knobs let tests make it misbehave: rate limiting (429 + Retry-After),
revoked users (401), forbidden workspaces (403).  ``login_user`` on the authorize URL picks who
signs in (there is no browser form).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import yaml
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.net import free_port

ISSUER_PATH = "/"
AUDIENCE = "hexabot"


@dataclass
class FakeUser:
    sub: str
    name: str
    groups: list[str]
    workspaces: dict[str, dict[str, Any]]  # name -> {namespaces, two_person, kubeconfig, context}


@dataclass
class Knobs:
    rate_limit: int = 0          # answer the next N API calls with 429
    retry_after: str = "1"
    revoked: set[str] = field(default_factory=set)
    forbidden_workspaces: set[str] = field(default_factory=set)


class FakeHexabase:
    def __init__(self, users: list[FakeUser], token_ttl: int = 3600) -> None:
        self.users = {u.sub: u for u in users}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "hxb-" + secrets.token_hex(4)
        self.token_ttl = token_ttl
        self.knobs = Knobs()
        self.jwks_fetches = 0
        self.api_calls: list[str] = []
        self._codes: dict[str, dict[str, str]] = {}
        self.url = ""
        self.app = web.Application()
        self.app.router.add_get("/oauth/authorize", self._authorize)
        self.app.router.add_post("/oauth/token", self._token)
        self.app.router.add_get("/oauth/jwks", self._jwks)
        self.app.router.add_get("/api/v1/workspaces", self._workspaces)
        self.app.router.add_get("/api/v1/workspaces/{ws}/projects", self._projects)
        self.app.router.add_get("/api/v1/workspaces/{ws}/kubeconfig", self._kubeconfig)

    @property
    def issuer(self) -> str:
        return self.url + ISSUER_PATH

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """A token signed with this IdP's key (tests tamper with the result)."""
        return jwt.encode(claims, self.key, algorithm="RS256",
                          headers={"kid": self.kid, **header})

    def claims_for(self, sub: str, **overrides: Any) -> dict[str, Any]:
        user, now = self.users[sub], int(time.time())
        return {"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now,
                "exp": now + self.token_ttl, "preferred_username": user.name,
                "groups": user.groups, **overrides}

    # -- OAuth ---------------------------------------------------------------------------
    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return web.json_response({"error": "invalid_request"}, status=400)
        sub = q.get("login_user", "")
        if sub not in self.users:
            return web.json_response({"error": "access_denied"}, status=403)
        code = secrets.token_urlsafe(24)
        self._codes[code] = {"sub": sub, "challenge": q["code_challenge"],
                             "redirect_uri": q["redirect_uri"], "client_id": q["client_id"]}
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        raise web.HTTPFound(target)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = self._codes.pop(str(form.get("code", "")), None)  # single use
        if grant is None:
            return web.json_response({"error": "invalid_grant"}, status=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"] \
                or form.get("client_id") != grant["client_id"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response({"access_token": self.sign(self.claims_for(grant["sub"])),
                                  "token_type": "Bearer", "expires_in": self.token_ttl})

    async def _jwks(self, _: web.Request) -> web.Response:
        self.jwks_fetches += 1
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**jwk, "kid": self.kid, "alg": "RS256",
                                            "use": "sig"}]})

    # -- API -----------------------------------------------------------------------------
    def _caller(self, request: web.Request) -> FakeUser:
        self.api_calls.append(request.path)
        if self.knobs.rate_limit > 0:
            self.knobs.rate_limit -= 1
            raise web.HTTPTooManyRequests(headers={"Retry-After": self.knobs.retry_after})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.key.public_key(), algorithms=["RS256"],
                                audience=AUDIENCE, issuer=self.issuer)
        except jwt.InvalidTokenError as exc:
            raise web.HTTPUnauthorized(text="invalid token") from exc
        if claims["sub"] in self.knobs.revoked or claims["sub"] not in self.users:
            raise web.HTTPUnauthorized(text="token revoked")
        return self.users[claims["sub"]]

    def _workspace(self, request: web.Request) -> dict[str, Any]:
        user, name = self._caller(request), request.match_info["ws"]
        if name in self.knobs.forbidden_workspaces:
            raise web.HTTPForbidden(text=f"no access to workspace {name}")
        if name not in user.workspaces:
            raise web.HTTPNotFound(text=f"no workspace {name}")
        return user.workspaces[name]

    async def _workspaces(self, request: web.Request) -> web.Response:
        user = self._caller(request)
        return web.json_response({"workspaces": [
            {"name": name, "sensitive": bool(ws.get("sensitive", False))}
            for name, ws in user.workspaces.items()]})

    async def _projects(self, request: web.Request) -> web.Response:
        ws = self._workspace(request)
        return web.json_response({
            "projects": [{"name": n, "two_person": n in ws.get("two_person", [])}
                         for n in ws["namespaces"]],
            "default": ws.get("default", ws["namespaces"][0])})

    async def _kubeconfig(self, request: web.Request) -> web.Response:
        ws = self._workspace(request)
        return web.json_response({"kubeconfig": yaml.safe_dump(ws["kubeconfig"]),
                                  "context": ws["context"]})


@contextlib.asynccontextmanager
async def serve(fake: FakeHexabase, host: str = "127.0.0.1") -> AsyncIterator[FakeHexabase]:
    port = free_port(host)
    runner = web.AppRunner(fake.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
