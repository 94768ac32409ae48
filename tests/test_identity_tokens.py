"""JWT attack set against a real JWKS endpoint on loopback, and internal AIOps tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.identity import internal, tokens
from app.identity.tokens import JwksCache, TokenRejected
from sandbox.hexabase import AUDIENCE, FakeHexabase, FakeUser, serve
from tools.security import KubeconfigCredentials, SecurityContext


@pytest.fixture
async def idp() -> AsyncIterator[FakeHexabase]:
    async with serve(FakeHexabase([FakeUser("hxb-alice", "alice", ["dev"], {})])) as fake:
        yield fake


async def _verify(fake: FakeHexabase, token: str, jwks: JwksCache | None = None) -> dict:
    return await tokens.verify(token, jwks or JwksCache(f"{fake.url}/oauth/jwks"),
                               fake.issuer, AUDIENCE)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_good_token_is_accepted(idp: FakeHexabase) -> None:
    claims = await _verify(idp, idp.sign(idp.claims_for("hxb-alice")))
    assert claims["sub"] == "hxb-alice" and claims["groups"] == ["dev"]


async def test_alg_none_is_refused(idp: FakeHexabase) -> None:
    token = f"{_b64({'alg': 'none', 'kid': idp.kid})}.{_b64(idp.claims_for('hxb-alice'))}."
    with pytest.raises(TokenRejected, match="algorithm 'none' is not allowed"):
        await _verify(idp, token)


async def test_hs256_signed_with_the_public_key_is_refused(idp: FakeHexabase) -> None:
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT refuses to make this token, so forge it by hand: HMAC keyed with the public PEM
    signing_input = f"{_b64({'alg': 'HS256', 'kid': idp.kid, 'typ': 'JWT'})}." \
                    f"{_b64(idp.claims_for('hxb-alice'))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(TokenRejected, match="algorithm 'HS256' is not allowed"):
        await _verify(idp, forged)


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"nbf": int(time.time()) + 3600}, "not yet valid"),
    ({"iat": int(time.time()) + 3600}, "not yet valid"),
    ({"aud": "someone-else"}, "Audience"),
    ({"iss": "https://evil.example/"}, "issuer"),
])
async def test_bad_claims_are_refused(idp: FakeHexabase, overrides: dict, reason: str) -> None:
    with pytest.raises(TokenRejected, match=reason):
        await _verify(idp, idp.sign(idp.claims_for("hxb-alice", **overrides)))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
async def test_required_claims(idp: FakeHexabase, missing: str) -> None:
    claims = idp.claims_for("hxb-alice")
    del claims[missing]
    with pytest.raises(TokenRejected):
        await _verify(idp, idp.sign(claims))


async def test_tampered_payload_is_refused(idp: FakeHexabase) -> None:
    header, _, signature = idp.sign(idp.claims_for("hxb-alice")).split(".")
    evil = _b64({**idp.claims_for("hxb-alice"), "sub": "hxb-admin"})
    with pytest.raises(TokenRejected, match="Signature verification failed"):
        await _verify(idp, f"{header}.{evil}.{signature}")


async def test_a_token_from_another_key_is_refused(idp: FakeHexabase) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(idp.claims_for("hxb-alice"), other, algorithm="RS256",
                       headers={"kid": idp.kid})
    with pytest.raises(TokenRejected, match="Signature verification failed"):
        await _verify(idp, token)


async def test_unknown_kid_flood_fetches_the_jwks_at_most_once_a_minute(
        idp: FakeHexabase) -> None:
    jwks = JwksCache(f"{idp.url}/oauth/jwks")
    await _verify(idp, idp.sign(idp.claims_for("hxb-alice")), jwks)
    assert idp.jwks_fetches == 1
    for i in range(50):
        token = idp.sign(idp.claims_for("hxb-alice"), kid=f"made-up-{i}")
        with pytest.raises(TokenRejected, match="unknown signing key id"):
            await _verify(idp, token, jwks)
    assert idp.jwks_fetches == 1  # the first fetch was < 60 s ago: no refetch at all
    jwks._last_fetch -= 61  # a minute later, one unknown kid may refresh the set once
    for i in range(10):
        with pytest.raises(TokenRejected):
            await _verify(idp, idp.sign(idp.claims_for("hxb-alice"), kid=f"again-{i}"), jwks)
    assert idp.jwks_fetches == 2


def _context() -> SecurityContext:
    return SecurityContext(
        slack_id="U0ALICE", hexabase_user="hxb-alice", name="alice", groups=("dev",),
        workspace="shop", namespaces=("shop",), namespace="shop", two_person_namespaces=(),
        sensitive=False, credentials=KubeconfigCredentials({}, "alice", "test"))


def test_internal_token_round_trip_and_refusals() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = {"k1": key.public_key()}
    token = internal.issue(_context(), key, "k1")
    asserted = internal.verify(token, public)
    assert (asserted.slack_id, asserted.hexabase_user, asserted.workspace) == (
        "U0ALICE", "hxb-alice", "shop")
    with pytest.raises(TokenRejected, match="unknown signing key id"):
        internal.verify(token, {"k2": key.public_key()})
    with pytest.raises(TokenRejected, match="Audience"):
        internal.verify(internal.issue(_context(), key, "k1", audience="other"), public)
    with pytest.raises(TokenRejected, match="expired"):
        internal.verify(internal.issue(_context(), key, "k1", ttl=-3600), public)
    header, payload, signature = token.split(".")
    evil = _b64({**json.loads(base64.urlsafe_b64decode(payload + "==")), "workspace": "data"})
    with pytest.raises(TokenRejected):
        internal.verify(f"{header}.{evil}.{signature}", public)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs_token = internal.issue(_context(), rsa_key, "k1")  # RS256 presented for an EC key id
    with pytest.raises(TokenRejected, match="not usable with RS256"):
        internal.verify(rs_token, public)
