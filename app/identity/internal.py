"""Internal AIOps tokens (the seeds' ``GenerateInternalAIOpsToken``).

A short-lived JWT carrying a SecurityContext, for calls between the Hexabase platform and
this service.  Signed with ES256 (or RS256) by a private key from settings; verified on receipt
by the same rules as Hexabase tokens (algorithm allowlist, key type, required claims, iss/aud).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.identity import tokens
from tools.security import SecurityContext

ISSUER = "hexabot"
AUDIENCE = "hexabase-internal-ops"
TTL_SECONDS = 300


@dataclass(frozen=True)
class InternalContext:
    """What an internal token asserts (no credentials travel in a token)."""
    slack_id: str
    hexabase_user: str
    groups: tuple[str, ...]
    workspace: str
    namespaces: tuple[str, ...]
    namespace: str
    request_id: str


def _algorithm(key: Any) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    raise TypeError("internal tokens need an EC P-256 or RSA key")


def issue(context: SecurityContext, private_key: Any, kid: str,
          ttl: int = TTL_SECONDS, issuer: str = ISSUER, audience: str = AUDIENCE) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer, "aud": audience, "sub": context.hexabase_user, "iat": now,
        "exp": now + ttl, "jti": uuid.uuid4().hex, "slack_id": context.slack_id,
        "groups": list(context.groups), "workspace": context.workspace,
        "namespaces": list(context.namespaces), "namespace": context.namespace,
        "request_id": context.request_id,
    }
    return jwt.encode(claims, private_key, algorithm=_algorithm(private_key),
                      headers={"kid": kid})


def verify(token: str, public_keys: dict[str, Any], issuer: str = ISSUER,
           audience: str = AUDIENCE) -> InternalContext:
    fields = tokens.header(token)
    algorithm = tokens.check_algorithm(fields)
    key = public_keys.get(str(fields.get("kid")))
    if key is None:
        raise tokens.TokenRejected(f"unknown signing key id {fields.get('kid')!r}")
    if _algorithm(key) != algorithm:
        raise tokens.TokenRejected(f"key {fields.get('kid')!r} is not usable with {algorithm}")
    claims = tokens.decode(token, key, algorithm, issuer, audience)
    return InternalContext(
        slack_id=str(claims.get("slack_id", "")), hexabase_user=str(claims["sub"]),
        groups=tuple(claims.get("groups") or ()), workspace=str(claims.get("workspace", "")),
        namespaces=tuple(claims.get("namespaces") or ()),
        namespace=str(claims.get("namespace", "")),
        request_id=str(claims.get("request_id", "")))
