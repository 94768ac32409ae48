"""The per-user client: error mapping, Retry-After back-off on reads, caching per identity."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.sandbox_support import ThreadedSandbox
from tests.services import free_port
from tests.tools_support import credentials, env_for
from tools import errors
from tools.kube.client import ClusterClients, UserCluster, api_client
from tools.security import KubeconfigCredentials


@pytest.fixture
async def flaky_api() -> AsyncIterator[tuple[str, list[str]]]:
    """An API server stand-in that rate-limits twice, then answers; and fails on writes."""
    seen: list[str] = []

    async def pods(request: web.Request) -> web.Response:
        seen.append(request.method)
        if request.method == "GET" and seen.count("GET") <= 2:
            return web.json_response({"kind": "Status", "reason": "TooManyRequests",
                                      "message": "slow down", "code": 429}, status=429,
                                     headers={"Retry-After": "2"})
        if request.method == "POST":
            return web.json_response({"kind": "Status", "reason": "TooManyRequests",
                                      "message": "slow down", "code": 429}, status=429,
                                     headers={"Retry-After": "2"})
        return web.json_response({"kind": "PodList", "items": []},
                                 headers={"Audit-Id": "abc-123"})

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/shop/pods", pods)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def _plain(url: str) -> KubeconfigCredentials:
    return KubeconfigCredentials({
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "u", "context": {"cluster": "c", "user": "u"}}]}, "u", "stub")


async def test_reads_back_off_per_retry_after_and_writes_do_not_retry(
        flaky_api: tuple[str, list[str]]) -> None:
    url, seen = flaky_api
    waits: list[float] = []
    creds = _plain(url)
    cluster = UserCluster(api_client(creds), creds, sleep=waits.append)
    listing = await cluster.call("GET", "/api/v1/namespaces/shop/pods")
    assert listing["kind"] == "PodList" and waits == [2.0, 2.0] and seen == ["GET"] * 3
    with pytest.raises(errors.RateLimited) as info:
        await cluster.call("POST", "/api/v1/namespaces/shop/pods", body={},
                           content_type="application/json")
    assert info.value.retry_after == 2.0 and seen.count("POST") == 1


async def test_api_statuses_map_to_our_errors(sandbox: ThreadedSandbox) -> None:
    carol = env_for(sandbox, "carol").cluster
    with pytest.raises(errors.NotFound) as missing:
        await carol.call("GET", "/api/v1/namespaces/shop/pods/nope")
    assert missing.value.message == 'pods "nope" not found' and missing.value.audit_id
    with pytest.raises(errors.Conflict):
        await carol.call("POST", "/api/v1/namespaces/shop/configmaps",
                         body={"metadata": {"name": "web-app-config"}},
                         content_type="application/json")
    with pytest.raises(errors.InvalidArguments, match="field label not supported"):
        await carol.call("GET", "/api/v1/namespaces/shop/pods",
                         query=[("fieldSelector", "spec.image=x")])
    unreachable = _plain("http://127.0.0.1:1")
    with pytest.raises(errors.Unavailable, match="unreachable"):
        await UserCluster(api_client(unreachable), unreachable).call("GET", "/version")


def test_one_cached_client_per_identity_and_workspace(sandbox: ThreadedSandbox) -> None:
    clients = ClusterClients(ttl=60)
    alice = env_for(sandbox, "alice", impersonate=("developers",)).ctx
    bob = env_for(sandbox, "bob").ctx
    first = clients.for_context(alice)
    assert clients.for_context(alice) is first
    assert clients.for_context(bob) is not first
    assert clients.for_context(bob).credentials == credentials(sandbox, "bob")
    clients.forget(alice.slack_id)
    assert clients.for_context(alice) is not first
    expiring = ClusterClients(ttl=0)
    assert expiring.for_context(bob) is not expiring.for_context(bob)
