"""The hexabase directory: accounts linked by OAuth 2.0 authorization code + PKCE.

``/hexabot login`` (or ``hexabot login --as U``) calls :meth:`LinkFlow.start`: a single-use
``state`` bound to the Slack user, valid 10 minutes, with its PKCE verifier stored encrypted.
The callback route calls :meth:`LinkFlow.complete`: the state is claimed atomically, the code
exchanged, the token validated (``tokens.verify``), and the user's workspaces, projects
(namespaces) and per-workspace kubeconfigs fetched from the Hexabase API *with the user's own
token*.  Tokens and kubeconfigs are stored encrypted and expire.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml

from app.identity import tokens
from app.identity.crypto import Sealer
from app.identity.model import UserEntry, Workspace
from app.identity.store import IdentityStore, Link, StoredWorkspace
from app.settings import Settings
from tools import retry
from tools.audit import AuditEvent
from tools.errors import HexabotError
from tools.security import KubeconfigCredentials

STATE_TTL = timedelta(minutes=10)
MAX_RETRY_WAIT_SECONDS = 30.0


class LinkFailed(HexabotError):
    """Linking did not complete; the message is meant for the user."""

    code = "link_failed"


class HexabaseError(HexabotError):
    """The Hexabase API refused or failed; the message is meant for the user."""

    code = "hexabase"


class Relink(HexabaseError):
    pass


class _RateLimited(HexabaseError):
    """A 429, retried after ``retry_after`` seconds; never leaves :class:`HexabaseApi`."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("the Hexabase API is rate-limiting")
        self.retry_after = retry_after


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class FetchedWorkspace:
    name: str
    namespaces: tuple[str, ...]
    default_namespace: str
    two_person_namespaces: tuple[str, ...]
    sensitive: bool
    context: str
    kubeconfig: dict[str, Any]

    def sealed(self, sealer: Sealer) -> StoredWorkspace:
        return StoredWorkspace(
            workspace=self.name, namespaces=self.namespaces,
            default_namespace=self.default_namespace,
            two_person_namespaces=self.two_person_namespaces, sensitive=self.sensitive,
            context=self.context, kubeconfig_encrypted=sealer.seal(self.kubeconfig))


class HexabaseApi:
    """The Hexabase API, called with the user's token; 401/403/429 mapped for the user."""

    def __init__(self, settings: Settings, retries: int = 3,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        assert settings.hexabase_api_url is not None
        self.base = settings.hexabase_api_url.rstrip("/")
        self.settings, self.retries, self.sleep = settings, retries, sleep

    async def _get(self, path: str, token: str) -> Any:
        """GET ``path``; a 429 is retried after its Retry-After (at most
        ``MAX_RETRY_WAIT_SECONDS``), ``retries`` times."""
        policy = retry.async_retrying(_RateLimited,
                                      retry.honour_retry_after(MAX_RETRY_WAIT_SECONDS),
                                      attempts=self.retries + 1, sleep=self.sleep)
        async with httpx.AsyncClient(timeout=15) as client:
            try:
                return await policy(self._get_once, client, path, token)
            except _RateLimited:
                raise HexabaseError(f"the Hexabase API kept rate-limiting {path}; try again "
                                    f"later") from None

    async def _get_once(self, client: httpx.AsyncClient, path: str, token: str) -> Any:
        try:
            response = await client.get(self.base + path, headers={
                "Authorization": f"Bearer {token}", "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise HexabaseError(f"the Hexabase API at {self.base} is unreachable: "
                                f"{exc}") from exc
        if response.status_code == 429:
            raise _RateLimited(retry.retry_after(response.headers.get("Retry-After"), 1.0))
        if response.status_code == 401:
            raise Relink("Your Hexabase session has expired or was revoked: link your "
                         "account again with `/hexabot login`.")
        if response.status_code == 403:
            raise HexabaseError(f"Hexabase denied access to {path}: {response.text[:200]}")
        if response.status_code >= 400:
            raise HexabaseError(f"the Hexabase API answered {response.status_code} for {path}")
        return response.json()

    async def workspaces(self, token: str) -> list[FetchedWorkspace]:
        settings = self.settings
        listing = await self._get(settings.hexabase_workspaces_path, token)
        result = []
        for item in listing.get("workspaces", []):
            name = str(item["name"])
            projects = await self._get(settings.hexabase_namespaces_path.format(
                workspace=name), token)
            names = [str(p["name"]) for p in projects.get("projects", [])]
            if not names:
                continue
            config = await self._get(settings.hexabase_kubeconfig_path.format(
                workspace=name), token)
            kubeconfig = yaml.safe_load(config["kubeconfig"])
            result.append(FetchedWorkspace(
                name=name, namespaces=tuple(names),
                default_namespace=str(projects.get("default") or names[0]),
                two_person_namespaces=tuple(str(p["name"]) for p in projects["projects"]
                                            if p.get("two_person")),
                sensitive=bool(item.get("sensitive", False)),
                context=str(config.get("context") or kubeconfig.get("current-context")),
                kubeconfig=kubeconfig))
        return result


@dataclass(frozen=True)
class Linked:
    slack_id: str
    hexabase_user: str
    workspaces: tuple[str, ...]


class LinkFlow:
    def __init__(self, settings: Settings, store: IdentityStore, sealer: Sealer,
                 jwks: tokens.JwksCache | None = None, api: HexabaseApi | None = None) -> None:
        assert settings.hexabase_jwks_url and settings.hexabase_issuer
        self.settings, self.store, self.sealer = settings, store, sealer
        self.jwks = jwks or tokens.JwksCache(settings.hexabase_jwks_url)
        self.api = api or HexabaseApi(settings)

    async def start(self, slack_id: str) -> str:
        """A login URL for ``slack_id``: single-use state, PKCE S256, 10-minute expiry."""
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        await self.store.add_state(state, slack_id, self.sealer.seal(verifier),
                                   datetime.now(UTC) + STATE_TTL)
        query = urlencode({
            "response_type": "code", "client_id": self.settings.hexabase_client_id,
            "redirect_uri": self.settings.oauth_redirect_url, "scope": "openid profile",
            "state": state, "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256"})
        return f"{self.settings.hexabase_authorize_url}?{query}"

    async def _exchange(self, code: str, verifier: str) -> str:
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": self.settings.oauth_redirect_url,
                "client_id": self.settings.hexabase_client_id}
        if self.settings.hexabase_client_secret is not None:
            form["client_secret"] = self.settings.hexabase_client_secret.get_secret_value()
        assert self.settings.hexabase_token_url is not None
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.post(self.settings.hexabase_token_url, data=form)
        except httpx.HTTPError as exc:
            raise LinkFailed(f"the Hexabase sign-in service is unreachable: {exc}") from exc
        if response.status_code != 200:
            raise LinkFailed(f"the Hexabase sign-in service refused the code "
                             f"({response.status_code})")
        token = response.json().get("access_token")
        if not isinstance(token, str):
            raise LinkFailed("the Hexabase sign-in service returned no access token")
        return token

    async def complete(self, state: str, code: str) -> Linked:
        claimed = await self.store.claim_state(state)
        if claimed is None:
            await self.store.record(AuditEvent(kind="identity.link", actor="", outcome="denied",
                                               detail={"reason": "unknown, used or expired "
                                                                 "state"}))
            raise LinkFailed("This login link has expired or was already used. Run "
                             "`/hexabot login` again.")
        slack_id, sealed_verifier = claimed
        token = await self._exchange(code, str(self.sealer.open(sealed_verifier)))
        assert self.settings.hexabase_issuer is not None
        try:
            claims = await tokens.verify(token, self.jwks, self.settings.hexabase_issuer,
                                         self.settings.hexabase_audience)
        except tokens.TokenRejected as exc:
            await self.store.record(AuditEvent(kind="identity.link", actor=slack_id,
                                               outcome="denied", detail={"reason": str(exc)}))
            raise LinkFailed(f"Hexabase's token was not accepted: {exc}") from exc
        workspaces = await self.api.workspaces(token)
        sealed = [ws.sealed(self.sealer) for ws in workspaces]
        expires = min(datetime.fromtimestamp(int(claims["exp"]), UTC),
                      datetime.now(UTC) + timedelta(minutes=self.settings.credentials_ttl_minutes))
        link = Link(slack_id=slack_id, hexabase_user=str(claims["sub"]),
                    name=str(claims.get("preferred_username") or claims["sub"]),
                    groups=tuple(str(g) for g in claims.get("groups") or ()),
                    token_encrypted=self.sealer.seal(token), expires_at=expires)
        await self.store.save_link(link, sealed, expires, AuditEvent(
            kind="identity.link", actor=slack_id, outcome="ok", hexabase_user=link.hexabase_user,
            detail={"workspaces": [w.name for w in workspaces]}))
        return Linked(slack_id, link.hexabase_user, tuple(w.name for w in workspaces))


class HexabaseDirectory:
    """Users are whoever has linked an unexpired Hexabase account."""

    def __init__(self, store: IdentityStore, sealer: Sealer) -> None:
        self.store, self.sealer = store, sealer

    async def lookup(self, who: str) -> UserEntry | None:
        found = await self.store.get_link(who)
        if found is None:
            return None
        link, stored = found
        workspaces = tuple(Workspace(
            name=ws.workspace, namespaces=ws.namespaces, default_namespace=ws.default_namespace,
            two_person_namespaces=ws.two_person_namespaces, sensitive=ws.sensitive,
            credentials=KubeconfigCredentials(self.sealer.open(ws.kubeconfig_encrypted),
                                              ws.context, "hexabase"))
            for ws in stored)
        if not workspaces:
            return None
        return UserEntry(slack_id=link.slack_id, name=link.name,
                         hexabase_user=link.hexabase_user, groups=link.groups,
                         workspaces=workspaces)

    def how_to_join(self) -> str:
        return ("Your Slack account is not linked to Hexabase yet (or the link expired). "
                "Run `/hexabot login` and follow the link to sign in.")
