"""Who calls the chat API: an internal token signed by the Hexabase platform, and nothing else.

``Authorization: Bearer <JWT>``, RS256/ES256 only (``app.identity.tokens``: allowlisted
algorithm, key of the right type, ``exp iat iss aud sub`` required), signed by the platform's
key (a PEM file, or its JWKS), living at most 15 minutes, with ``workspace`` and
``namespaces`` claims.  The SecurityContext is built from those verified claims, checked
against the directory: the subject must be the directory's person (by ``slack_id`` claim or
Hexabase user), the workspace theirs, and the namespaces are narrowed to the ones the token
names.  Credentials always come from the directory, never from the token.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.identity import tokens
from app.identity.service import IdentityError, IdentityService
from app.settings import Settings
from tools.security import SecurityContext

MAX_LIFETIME_SECONDS = 15 * 60


class Unauthorized(Exception):
    """401: no token, or one we do not accept (the message says why, never the token)."""


class Forbidden(Exception):
    """403: a valid token asking for what its subject does not have."""


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer, self.audience = settings.api_token_issuer, settings.api_token_audience
        self.keys: dict[str, Any] = {}
        self.jwks: tokens.JwksCache | None = None
        if settings.api_token_public_key_file is not None:
            self.keys[settings.api_token_key_id] = serialization.load_pem_public_key(
                settings.api_token_public_key_file.read_bytes())
        if settings.api_token_jwks_url:
            self.jwks = tokens.JwksCache(settings.api_token_jwks_url)

    @property
    def configured(self) -> bool:
        return bool(self.keys) or self.jwks is not None

    async def claims(self, authorization: str | None) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send Authorization: Bearer <internal token>")
        token = token.strip()
        try:
            fields = tokens.header(token)
            algorithm = tokens.check_algorithm(fields)
            kid = str(fields.get("kid") or "")
            if kid in self.keys:
                key = self.keys[kid]
                expected = "ES256" if isinstance(key, ec.EllipticCurvePublicKey) else "RS256"
                if expected != algorithm:
                    raise tokens.TokenRejected(f"key {kid!r} is not usable with {algorithm}")
                claims = tokens.decode(token, key, algorithm, self.issuer, self.audience)
            elif self.jwks is not None:
                claims = await tokens.verify(token, self.jwks, self.issuer, self.audience)
            else:
                raise tokens.TokenRejected(f"unknown signing key id {kid!r}")
        except tokens.TokenRejected as exc:
            raise Unauthorized(str(exc)) from exc
        if int(claims["exp"]) - int(claims["iat"]) > MAX_LIFETIME_SECONDS:
            raise Unauthorized("token lives longer than 15 minutes")
        missing = [c for c in ("workspace", "namespaces") if not claims.get(c)]
        if missing or not isinstance(claims.get("namespaces"), list):
            raise Unauthorized(f"token lacks claims: {', '.join(missing) or 'namespaces'}")
        return claims


async def context(identity: IdentityService, claims: dict[str, Any], session_id: str = "",
                  request_id: str = "") -> SecurityContext:
    """The SecurityContext the verified claims describe, as the directory knows the person."""
    who = str(claims.get("slack_id") or claims["sub"])
    entry = await identity.directory.lookup(who)
    if entry is None or entry.hexabase_user != claims["sub"]:
        raise Unauthorized("the token's subject is not in Hexabot's directory")
    namespace = claims.get("namespace") or None
    try:
        ctx = await identity.context(entry.slack_id, session_id=session_id,
                                     request_id=request_id, workspace=str(claims["workspace"]),
                                     namespace=str(namespace) if namespace else None)
    except IdentityError as exc:
        raise Forbidden(str(exc)) from exc
    allowed = tuple(n for n in ctx.namespaces if n in claims["namespaces"])
    if not allowed:
        raise Forbidden(f"none of the token's namespaces are yours in {ctx.workspace}")
    current = ctx.namespace if ctx.namespace in allowed else allowed[0]
    return dataclasses.replace(ctx, namespaces=allowed, namespace=current)
