"""JWT validation for Hexabase tokens and our internal tokens (PyJWT >= 2.14).

Rules, the same for every token we accept:
- the algorithm comes from an allowlist (RS256, ES256) checked before anything else, so
  ``alg: none`` and HS256 signed with a public key are refused outright;
- the key must be of the algorithm's type (an RSA key for RS256, an EC P-256 key for ES256);
- ``exp iat iss aud sub`` are required, ``iss`` and ``aud`` must match, with a small leeway;
- keys come from a JWKS URL, cached; an unknown ``kid`` refreshes the set at most once per
  minute (a flood of made-up kids costs one fetch), and fetches run off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError

ALLOWED_ALGORITHMS = ("RS256", "ES256")
KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
LEEWAY_SECONDS = 30
REFRESH_INTERVAL_SECONDS = 60.0


class TokenRejected(Exception):
    """The token is not acceptable; the message says why (never echoes the token)."""


class JwksCache:
    def __init__(self, url: str, refresh_interval: float = REFRESH_INTERVAL_SECONDS,
                 timeout: float = 10.0) -> None:
        self.url = url
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self.fetches = 0
        self._keys: dict[str, PyJWK] = {}
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    def _fetch(self) -> dict[str, PyJWK]:
        response = httpx.get(self.url, timeout=self.timeout)
        response.raise_for_status()
        keyset = PyJWKSet.from_dict(response.json())
        return {key.key_id: key for key in keyset.keys if key.key_id}

    async def key(self, kid: str) -> PyJWK:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and (
                    time.monotonic() - self._last_fetch >= self.refresh_interval):
                self._last_fetch = time.monotonic()
                self.fetches += 1
                try:
                    self._keys = await asyncio.to_thread(self._fetch)
                except (httpx.HTTPError, ValueError, PyJWKSetError) as exc:
                    raise TokenRejected(f"cannot fetch signing keys from {self.url}: "
                                        f"{exc}") from exc
        if kid not in self._keys:
            raise TokenRejected(f"unknown signing key id {kid!r}")
        return self._keys[kid]


def header(token: str) -> dict[str, Any]:
    try:
        return dict(jwt.get_unverified_header(token))
    except InvalidTokenError as exc:
        raise TokenRejected(f"malformed token: {exc}") from exc


def check_algorithm(header: dict[str, Any]) -> str:
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise TokenRejected(f"algorithm {algorithm!r} is not allowed "
                            f"(only {', '.join(ALLOWED_ALGORITHMS)})")
    return str(algorithm)


def decode(token: str, key: Any, algorithm: str, issuer: str, audience: str) -> dict[str, Any]:
    try:
        return dict(jwt.decode(
            token, key, algorithms=[algorithm], issuer=issuer, audience=audience,
            leeway=LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS}))
    except InvalidTokenError as exc:
        raise TokenRejected(f"token refused: {exc}") from exc


async def verify(token: str, jwks: JwksCache, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of a valid token signed by a key of ``jwks``; else :class:`TokenRejected`."""
    fields = header(token)
    algorithm = check_algorithm(fields)
    kid = fields.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("token has no key id (kid)")
    jwk = await jwks.key(kid)
    if jwk.key_type != KEY_TYPES[algorithm]:
        raise TokenRejected(f"key {kid!r} is a {jwk.key_type} key, not usable with {algorithm}")
    try:
        key = jwk.key
    except PyJWKError as exc:
        raise TokenRejected(f"key {kid!r} is unusable: {exc}") from exc
    return decode(token, key, algorithm, issuer, audience)
