"""The one retry helper: Retry-After in both forms, and each place that retries (the Hexabase
API, the per-user Kubernetes client, recording an outcome in Postgres) under injected faults."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from app.identity.hexabase import MAX_RETRY_WAIT_SECONDS, HexabaseApi, HexabaseError
from app.settings import load_settings
from confirmations.model import PendingAction, State
from confirmations.store import ConfirmationStore, Lease
from sandbox.hexabase import FakeHexabase, FakeUser, serve
from tests.identity_support import KUBECONFIG
from tests.services import fetch_rows, serve_app
from tools import errors, retry
from tools.audit import AuditEvent
from tools.kube.client import MAX_RETRY_WAIT, READ_RETRIES, UserCluster, api_client
from tools.security import KubeconfigCredentials
from tools.spec import ActionPlan, Risk, Target


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


# -- Retry-After -------------------------------------------------------------------------------

def test_retry_after_in_seconds() -> None:
    assert retry.retry_after("120", 1.0) == 120.0
    assert retry.retry_after(" 2.5 ", 1.0) == 2.5
    assert retry.retry_after("0", 1.0) == 0.0


def test_retry_after_as_an_http_date() -> None:
    assert 118.0 <= retry.retry_after(http_date(120), 1.0) <= 120.0
    assert retry.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1.0) == 0.0  # in the past
    assert retry.retry_after("Sun, 06 Nov 1994 08:49:37 -0000", 1.0) == 0.0


def test_retry_after_garbage_or_missing_falls_back_to_the_default() -> None:
    for value in (None, "", "  ", "soon", "nan", "0x10", "Mon, 32 Jan 2030 00:00:00 GMT"):
        assert retry.retry_after(value, 7.5) == 7.5, value


def test_retry_after_negative_is_zero() -> None:
    assert retry.retry_after("-5", 1.0) == 0.0
    assert retry.retry_after("-inf", 1.0) == 0.0


def test_retry_after_huge_is_capped() -> None:
    assert retry.MAX_RETRY_AFTER == 3600.0
    for value in ("1e12", "inf", "86400", "Fri, 31 Dec 9999 23:59:59 GMT", http_date(7200)):
        assert retry.retry_after(value, 1.0) == retry.MAX_RETRY_AFTER, value


# -- the policies ------------------------------------------------------------------------------

def test_backoff_doubles_between_its_bounds_and_gives_up_with_the_last_error() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError(f"attempt {len(calls)}")

    policy = retry.retrying(OSError, retry.backoff(0.1, 0.5), attempts=6, sleep=waits.append)
    with pytest.raises(ConnectionRefusedError, match="attempt 6"):
        policy(refused)
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_errors_not_worth_retrying_are_raised_at_once() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        retry.retrying(OSError, retry.backoff(0.1, 1.0), attempts=5, sleep=waits.append)(broken)
    assert calls == [1] and waits == []


def test_a_policy_must_end() -> None:
    with pytest.raises(ValueError, match="attempts, patience or both"):
        retry.retrying(OSError, retry.backoff(0.1, 1.0))


# -- the Hexabase API --------------------------------------------------------------------------

@pytest.fixture
async def hexabase() -> AsyncIterator[tuple[FakeHexabase, HexabaseApi, list[float]]]:
    """The fake Hexabase and an API client of it that records its waits instead of waiting."""
    user = FakeUser("hxb-alice", "alice", ["developers"], {
        "shop": {"namespaces": ["shop"], "kubeconfig": KUBECONFIG, "context": "alice"}})
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with serve(FakeHexabase([user])) as fake:
        settings = load_settings(hexabase_api_url=f"{fake.url}/api")
        yield fake, HexabaseApi(settings, sleep=record_sleep), sleeps


async def test_hexabase_rate_limiting_once_is_retried_after_its_retry_after(
        hexabase: tuple[FakeHexabase, HexabaseApi, list[float]]) -> None:
    fake, api, sleeps = hexabase
    fake.knobs.rate_limit, fake.knobs.retry_after = 1, http_date(120)  # capped at 30 s
    [workspace] = await api.workspaces(fake.sign(fake.claims_for("hxb-alice")))
    assert workspace.name == "shop" and workspace.namespaces == ("shop",)
    assert sleeps == [MAX_RETRY_WAIT_SECONDS]
    assert fake.api_calls[:2] == ["/api/v1/workspaces"] * 2


async def test_hexabase_rate_limiting_for_good_gives_up_as_today(
        hexabase: tuple[FakeHexabase, HexabaseApi, list[float]]) -> None:
    fake, api, sleeps = hexabase
    fake.knobs.rate_limit, fake.knobs.retry_after = 100, "2"
    with pytest.raises(HexabaseError) as info:
        await api.workspaces(fake.sign(fake.claims_for("hxb-alice")))
    assert type(info.value) is HexabaseError
    assert str(info.value) == ("the Hexabase API kept rate-limiting /v1/workspaces; try again "
                               "later")
    assert len(fake.api_calls) == api.retries + 1
    assert sleeps == [2.0] * api.retries  # no pointless wait after the last attempt


# -- the per-user Kubernetes client ------------------------------------------------------------

@contextlib.asynccontextmanager
async def pods_server(answers: list[int], retry_after: str) -> AsyncIterator[str]:
    """An API server stand-in whose pod list answers the statuses in ``answers`` first."""

    async def pods(_: web.Request) -> web.Response:
        if answers:
            status = answers.pop(0)
            return web.json_response({"kind": "Status", "reason": "TooManyRequests",
                                      "message": "slow down", "code": status}, status=status,
                                     headers={"Retry-After": retry_after})
        return web.json_response({"kind": "PodList", "items": []})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/shop/pods", pods)
    async with serve_app(app) as url:
        yield url


def cluster_at(url: str, waits: list[float]) -> UserCluster:
    creds = KubeconfigCredentials({
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "u", "context": {"cluster": "c", "user": "u"}}]}, "u", "stub")
    return UserCluster(api_client(creds), creds, sleep=waits.append)


async def test_kube_read_rate_limited_once_is_retried_after_its_retry_after() -> None:
    waits: list[float] = []
    async with pods_server([429], http_date(60)) as url:  # capped at MAX_RETRY_WAIT
        cluster = cluster_at(url, waits)
        listing = await cluster.call("GET", "/api/v1/namespaces/shop/pods")
        assert listing["kind"] == "PodList" and cluster.calls == 2
        cluster.close()
    assert waits == [MAX_RETRY_WAIT]


async def test_kube_read_rate_limited_for_good_raises_rate_limited() -> None:
    waits: list[float] = []
    async with pods_server([429] * 10, "3") as url:
        cluster = cluster_at(url, waits)
        with pytest.raises(errors.RateLimited) as info:
            await cluster.call("GET", "/api/v1/namespaces/shop/pods")
        assert cluster.calls == READ_RETRIES and info.value.retry_after == 3.0
        cluster.close()
    assert waits == [3.0] * (READ_RETRIES - 1)


async def test_kube_other_errors_are_not_retried() -> None:
    waits: list[float] = []
    async with pods_server([503, 503], "1") as url:
        cluster = cluster_at(url, waits)
        with pytest.raises(errors.Unavailable):
            await cluster.call("GET", "/api/v1/namespaces/shop/pods")
        assert cluster.calls == 1
        cluster.close()
    assert waits == []


# -- recording an outcome in Postgres ----------------------------------------------------------

Transition = Callable[..., Awaitable[PendingAction | None]]


def blip() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("UPDATE pending_actions", None,
                                   ConnectionResetError("connection reset by peer"))


@pytest.fixture
async def executing(database_url: str) -> AsyncIterator[tuple[ConfirmationStore, str]]:
    """A store with short patience and one action executing."""
    engine = create_async_engine(database_url)
    store = ConfirmationStore(engine, finish_patience=1.0, retry_backoff=(0.01, 0.1))
    now = datetime.now(UTC)
    plan = ActionPlan(tool="scale_deployment", args={"name": "web"}, workspace="shop",
                      namespace="shop", requester="U0ALICE", summary="s", diff="d",
                      risk=Risk.LOW, payload={}, targets=(Target("Deployment", "shop", "web"),))
    lease = Lease("this-replica", now + timedelta(minutes=1))
    await store.create(plan, "hxb-alice", False, now, now + timedelta(minutes=10))
    await store.claim(plan.id, "U0CAROL", "hxb-carol", now, lease=lease)
    await store.start(plan.id, now, step(plan.id), lease=lease)
    yield store, plan.id
    await engine.dispose()


def step(action_id: str) -> AuditEvent:
    return AuditEvent(kind="test.step", actor="test", outcome="ok", confirmation_id=action_id)


def failing(store: ConfirmationStore, failures: int, error: Callable[[], Exception]
            ) -> list[int]:
    """Make the store's next ``failures`` transitions fail with ``error()``; counts calls."""
    real: Transition = store._transition
    calls: list[int] = []

    async def flaky(*args: Any, **kw: Any) -> PendingAction | None:
        calls.append(1)
        if len(calls) <= failures:
            raise error()
        return await real(*args, **kw)

    store._transition = flaky  # type: ignore[method-assign]
    return calls


async def state_of(database_url: str, action_id: str) -> str:
    rows = await fetch_rows(database_url, "SELECT state FROM pending_actions WHERE id = "
                                          f"'{action_id}'")
    return str(rows[0]["state"])


async def test_finish_outlasts_a_database_blip(
        executing: tuple[ConfirmationStore, str], database_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    store, action_id = executing
    calls = failing(store, 2, blip)
    with caplog.at_level(logging.INFO, logger="hexabot.confirmations"):
        done = await store.finish(action_id, State.SUCCEEDED, datetime.now(UTC),
                                  step(action_id), result="scaled")
    assert done is not None and done.state is State.SUCCEEDED and len(calls) == 3
    assert await state_of(database_url, action_id) == "succeeded"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("database unavailable, retrying" in m for m in messages) == 1
    assert any("landed after 2 failed attempts" in m for m in messages)


async def test_finish_gives_up_after_its_patience_with_the_blip(
        executing: tuple[ConfirmationStore, str], database_url: str) -> None:
    store, action_id = executing
    store.finish_patience = 0.3
    calls = failing(store, 1000, blip)
    began = datetime.now(UTC)
    with pytest.raises(sa.exc.OperationalError):
        await store.finish(action_id, State.SUCCEEDED, began, step(action_id))
    assert 1 < len(calls) < 20
    assert datetime.now(UTC) - began < timedelta(seconds=2)
    assert await state_of(database_url, action_id) == "executing"


async def test_finish_does_not_retry_a_wrong_statement(
        executing: tuple[ConfirmationStore, str]) -> None:
    store, action_id = executing
    calls = failing(store, 1000, lambda: sa.exc.IntegrityError("UPDATE", None,
                                                               ValueError("duplicate key")))
    with pytest.raises(sa.exc.IntegrityError):
        await store.finish(action_id, State.SUCCEEDED, datetime.now(UTC), step(action_id))
    assert calls == [1]
