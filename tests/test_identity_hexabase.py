"""Account linking against a local fake IdP + Hexabase API (real HTTP on loopback, RS256)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from app import migrate
from app.http import server
from app.identity import callback
from app.identity.crypto import Sealer
from app.identity.hexabase import HexabaseApi, HexabaseDirectory, HexabaseError, LinkFlow, Relink
from app.identity.service import IdentityService, NotAllowed, UnknownUser
from app.identity.store import IdentityStore
from app.settings import ConfigError, Settings, load_settings
from sandbox.hexabase import FakeHexabase, serve
from tests.conftest import run_cli
from tests.identity_support import KUBECONFIG, hexabase_settings, hexabase_users
from tests.services import fetch_rows, free_port
from tools.security import KubeconfigCredentials


@dataclass
class World:
    fake: FakeHexabase
    settings: Settings
    store: IdentityStore
    flow: LinkFlow
    identity: IdentityService
    callback_url: str
    database_url: str
    sleeps: list[float]

    async def rows(self, sql: str) -> list[asyncpg.Record]:
        return await fetch_rows(self.database_url, sql)

    async def sign_in(self, slack_id: str, sub: str) -> httpx.Response:
        """What a browser does: open the login link, follow the IdP's redirect."""
        url = await self.flow.start(slack_id)
        async with httpx.AsyncClient() as client:
            redirect = await client.get(url + f"&login_user={sub}")
            assert redirect.status_code == 302, redirect.text
            return await client.get(redirect.headers["Location"])


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    port = free_port()
    async with serve(FakeHexabase(hexabase_users())) as fake:
        settings = hexabase_settings(fake, database_url, port)
        assert settings.encryption_key is not None
        sealer = Sealer(settings.encryption_key.get_secret_value())
        store = IdentityStore(engine)
        sleeps: list[float] = []

        async def record_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        flow = LinkFlow(settings, store, sealer, api=HexabaseApi(settings, sleep=record_sleep))
        app = Starlette(routes=[callback.route(flow)])
        async with server.serving(app, ("127.0.0.1", port)):
            yield World(fake, settings, store, flow,
                        IdentityService(HexabaseDirectory(store, sealer), store),
                        settings.oauth_redirect_url, database_url, sleeps)
    await engine.dispose()


async def test_full_link_flow(world: World) -> None:
    with pytest.raises(UnknownUser) as info:
        await world.identity.context("U0ALICE")
    assert "/hexabot login" in str(info.value)

    page = await world.sign_in("U0ALICE", "hxb-alice")
    assert page.status_code == 200 and "Signed in as hxb-alice" in page.text

    context = await world.identity.context("U0ALICE")
    assert (context.hexabase_user, context.name) == ("hxb-alice", "alice")
    assert context.groups == ("developers", "shop-team")
    assert (context.workspace, context.namespaces, context.namespace) == (
        "shop", ("shop", "shop-staging"), "shop")
    assert context.two_person_namespaces == ("shop",)
    assert isinstance(context.credentials, KubeconfigCredentials)
    assert context.credentials.kubeconfig == KUBECONFIG
    # stored encrypted: neither the token nor the kubeconfig's secret is readable at rest
    link = (await world.rows("SELECT token_encrypted FROM identity_links"))[0]
    creds = (await world.rows("SELECT kubeconfig_encrypted FROM workspace_credentials"))[0]
    assert b"eyJ" not in bytes(link["token_encrypted"])
    assert b"token-alice" not in bytes(creds["kubeconfig_encrypted"])
    kinds = [r["event"] for r in await world.rows("SELECT event FROM audit_outbox ORDER BY id")]
    assert '"request.unknown_user"' in kinds[0] and '"identity.link"' in kinds[1]


async def test_state_is_single_use_and_expires(world: World) -> None:
    url = await world.flow.start("U0ALICE")
    async with httpx.AsyncClient() as client:
        callback_url = (await client.get(url + "&login_user=hxb-alice")).headers["Location"]
        assert (await client.get(callback_url)).status_code == 200
        replay = await client.get(callback_url)
    assert replay.status_code == 400 and "expired or was already used" in replay.text

    url = await world.flow.start("U0BOB")
    await world.rows("UPDATE oauth_states SET expires_at = now() - interval '1 second' "
                     "WHERE used_at IS NULL")
    async with httpx.AsyncClient() as client:
        callback_url = (await client.get(url + "&login_user=hxb-bob")).headers["Location"]
        late = await client.get(callback_url)
    assert late.status_code == 400 and "expired or was already used" in late.text
    assert [r["slack_id"] for r in await world.rows("SELECT slack_id FROM identity_links")] \
        == ["U0ALICE"]


async def test_users_never_see_each_others_workspaces(world: World) -> None:
    await world.sign_in("U0ALICE", "hxb-alice")
    await world.sign_in("U0BOB", "hxb-bob")
    alice = await world.identity.context("U0ALICE")
    bob = await world.identity.context("U0BOB")
    assert alice.workspace == "shop" and bob.workspace == "bob-lab" and bob.sensitive
    with pytest.raises(NotAllowed) as info:
        await world.identity.switch_workspace("U0ALICE", "bob-lab")
    assert "Yours: shop." in str(info.value)
    assert (await world.identity.context("U0ALICE")).workspace == "shop"


async def test_logout_wipes_link_credentials_and_context(world: World) -> None:
    await world.sign_in("U0ALICE", "hxb-alice")
    await world.sign_in("U0BOB", "hxb-bob")
    await world.identity.switch_namespace("U0ALICE", "shop-staging")
    deleted = await world.identity.logout("U0ALICE")
    assert deleted == {"identity_links": 1, "oauth_states": 1, "workspace_credentials": 1,
                       "user_context": 1, "conversation_messages": 0, "workflow_runs": 0}
    for table in ("identity_links", "workspace_credentials", "oauth_states", "user_context"):
        owners = {r["slack_id"] for r in await world.rows(f"SELECT slack_id FROM {table}")}
        assert "U0ALICE" not in owners, table
    assert (await world.identity.context("U0BOB")).workspace == "bob-lab"
    with pytest.raises(UnknownUser):
        await world.identity.context("U0ALICE")


async def test_api_rate_limit_is_honoured(world: World) -> None:
    world.fake.knobs.rate_limit, world.fake.knobs.retry_after = 2, "3"
    page = await world.sign_in("U0ALICE", "hxb-alice")
    assert page.status_code == 200
    assert world.sleeps == [3.0, 3.0]


async def test_api_401_asks_to_relink_and_403_is_a_clear_denial(world: World) -> None:
    token = world.fake.sign(world.fake.claims_for("hxb-alice"))
    world.fake.knobs.revoked.add("hxb-alice")
    with pytest.raises(Relink) as relink:
        await world.flow.api.workspaces(token)
    assert "link your account again with `/hexabot login`" in str(relink.value)
    world.fake.knobs.revoked.clear()
    world.fake.knobs.forbidden_workspaces.add("shop")
    with pytest.raises(HexabaseError) as denied:
        await world.flow.api.workspaces(token)
    assert "Hexabase denied access to /v1/workspaces/shop/projects" in str(denied.value)
    page = await world.sign_in("U0ALICE", "hxb-alice")
    assert page.status_code == 400 and "Hexabase denied access" in page.text
    assert await world.rows("SELECT * FROM identity_links") == []


def test_hexabase_mode_needs_an_encryption_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(identity_provider="hexabase", hexabase_authorize_url="http://x/a",
                      hexabase_token_url="http://x/t", hexabase_jwks_url="http://x/j",
                      hexabase_issuer="http://x/", hexabase_api_url="http://x/api")
    assert info.value.problems == ["HEXABOT_IDENTITY_PROVIDER: the hexabase identity provider "
                                   "needs HEXABOT_ENCRYPTION_KEY"]
    with pytest.raises(ConfigError) as info:
        load_settings(encryption_key="not-a-key")
    assert info.value.problems[0].startswith("HEXABOT_ENCRYPTION_KEY: expected a Fernet key")


async def test_cli_login_prints_a_pkce_link(tmp_path: Path, clean_env: dict[str, str],
                                            database_url: str) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url,
           "HEXABOT_IDENTITY_PROVIDER": "hexabase",
           "HEXABOT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "HEXABOT_HEXABASE_AUTHORIZE_URL": "https://id.example/oauth/authorize",
           "HEXABOT_HEXABASE_TOKEN_URL": "https://id.example/oauth/token",
           "HEXABOT_HEXABASE_JWKS_URL": "https://id.example/oauth/jwks",
           "HEXABOT_HEXABASE_ISSUER": "https://id.example/",
           "HEXABOT_HEXABASE_API_URL": "https://api.example/"}
    result = run_cli(["login", "--as", "U0ALICE"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    link = result.stdout.splitlines()[0]
    query = parse_qs(urlsplit(link).query)
    assert link.startswith("https://id.example/oauth/authorize?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        row = await conn.fetchrow("SELECT slack_id, expires_at - created_at AS ttl "
                                  "FROM oauth_states WHERE state = $1", query["state"][0])
    finally:
        await conn.close()
    assert row["slack_id"] == "U0ALICE" and 590 <= row["ttl"].total_seconds() <= 610
    static_mode = run_cli(["login", "--as", "U0ALICE"], clean_env, tmp_path)
    assert static_mode.returncode == 1
    assert "HEXABOT_IDENTITY_PROVIDER=hexabase" in static_mode.stdout
