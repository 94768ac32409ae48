"""`hexabot doctor`: check every configured dependency and say plainly what is wrong.

Each check returns a :class:`Check` (OK / FAIL / not configured, with the reason).  Checks run
concurrently with a timeout each; a dependency that is configured but failing makes the command
exit 1, one that is not configured does not (PostgreSQL is always configured: it falls back to
the embedded server).  The doctor never raises: settings that cannot be parsed, migrations
missing from the installation and errors no check foresaw are all FAIL rows with the reason.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from app import migrate
from app.audit.clickhouse import ClickHouseUnavailable, server_version
from app.audit.shipper import OutboxMissing, backlog
from app.database import DatabaseUnavailable, open_database
from app.identity import static
from app.settings import Settings
from confirmations import rules
from confirmations.flow import WRITE_TOOLS
from tools.kube.client import ClusterUnreachable
from tools.kube.client import server_version as kube_version
from tools.security import Credentials

CHECK_TIMEOUT = 20.0


class Status(enum.Enum):
    OK = "OK"
    FAIL = "FAIL"
    NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


async def check_postgres(settings: Settings) -> Check:
    """Reachable, and the schema against the installed migrations' head."""
    try:
        async with open_database(settings) as db:
            where = db.describe()
            current = await migrate.current_revision(db.engine)
    except DatabaseUnavailable as exc:
        return Check("PostgreSQL", Status.FAIL, str(exc))
    try:
        head = migrate.head_revision()
    except migrate.MigrationsMissing as exc:
        return Check("PostgreSQL", Status.FAIL, f"{where}; {exc}")
    schema = (
        f"schema at head {head}" if current == head
        else f"schema at {current or 'nothing'}, head is {head}: run `hexabot migrate`"
    )
    return Check("PostgreSQL", Status.OK, f"{where}; {schema}")


async def check_clickhouse(settings: Settings) -> Check:
    """The audit store, and how far the outbox is behind it."""
    try:
        async with open_database(settings) as db:
            waiting, oldest = await backlog(db.engine)
    except (DatabaseUnavailable, OutboxMissing) as exc:
        waiting, oldest = -1, None
        if settings.clickhouse_url is None:
            return Check("ClickHouse", Status.NOT_CONFIGURED,
                         f"set HEXABOT_CLICKHOUSE_URL (outbox: {exc})")
    lag = (f"outbox: {waiting} unshipped" + (f", oldest {oldest:.0f}s" if oldest else "")
           if waiting >= 0 else "outbox not readable")
    if settings.clickhouse_url is None:
        return Check("ClickHouse", Status.NOT_CONFIGURED,
                     f"set HEXABOT_CLICKHOUSE_URL; events stay in Postgres ({lag})")
    try:
        version = await server_version(settings.clickhouse_url.get_secret_value())
    except ClickHouseUnavailable as exc:
        return Check("ClickHouse", Status.FAIL, f"{exc} ({lag}; nothing is lost)")
    return Check("ClickHouse", Status.OK, f"server {version}; {lag}")


async def check_kubernetes(settings: Settings) -> Check:
    """Load the static directory and ask every distinct cluster in it for its version."""
    name = "Kubernetes API"
    if settings.identity_provider == "hexabase":
        return Check(name, Status.NOT_CONFIGURED, "clusters come from each linked Hexabase "
                     "account (checked when users link, not here)")
    if settings.directory_file is None:
        return Check(name, Status.NOT_CONFIGURED,
                     "set HEXABOT_DIRECTORY_FILE (users, workspaces and their clusters)")
    try:
        directory = static.load(settings.directory_file)
    except static.DirectoryError as exc:
        return Check(name, Status.FAIL, str(exc))
    seen: dict[tuple[str, str], Credentials] = {}
    for user in directory.users:
        for workspace in user.workspaces:
            seen.setdefault(workspace.credentials.cluster_key, workspace.credentials)
    results = []
    for credentials in seen.values():
        try:
            host, version = await kube_version(credentials)
        except ClusterUnreachable as exc:
            return Check(name, Status.FAIL, str(exc))
        results.append(f"{host} {version}")
    return Check(name, Status.OK, f"{len(directory.users)} users; " + ", ".join(
        sorted(set(results))))


async def check_slack(settings: Settings) -> Check:
    bot, app_token = settings.slack_bot_token, settings.slack_app_token
    if bot is None and app_token is None:
        return Check("Slack", Status.NOT_CONFIGURED,
                     "set HEXABOT_SLACK_BOT_TOKEN and HEXABOT_SLACK_APP_TOKEN")
    if bot is None or app_token is None:
        missing = "HEXABOT_SLACK_BOT_TOKEN" if bot is None else "HEXABOT_SLACK_APP_TOKEN"
        return Check("Slack", Status.FAIL, f"{missing} is not set; socket mode needs both tokens")
    try:
        client = AsyncWebClient(token=bot.get_secret_value(), base_url=settings.slack_api_url,
                                timeout=10)
        auth = await client.auth_test()
        await client.apps_connections_open(app_token=app_token.get_secret_value())
    except SlackApiError as exc:
        return Check("Slack", Status.FAIL, f"{settings.slack_api_url}: {exc.response.get('error')}")
    except (TimeoutError, SlackClientError, OSError) as exc:
        return Check("Slack", Status.FAIL, f"{settings.slack_api_url}: {exc or type(exc).__name__}")
    return Check("Slack", Status.OK,
                 f"bot {auth.get('user')} ({auth.get('user_id')}) in team {auth.get('team')}; "
                 "app token accepted")


async def check_ollama(settings: Settings) -> Check:
    if settings.ollama_url is None:
        return Check("LLM: Ollama", Status.NOT_CONFIGURED, "set HEXABOT_OLLAMA_URL")
    url = settings.ollama_url.rstrip("/") + "/api/tags"
    try:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            response = await client.get(url)
            response.raise_for_status()
            models = [m.get("name", "") for m in response.json().get("models", [])]
    except (httpx.HTTPError, ValueError) as exc:
        return Check("LLM: Ollama", Status.FAIL, f"{url}: {exc or type(exc).__name__}")
    wanted = settings.ollama_model
    if not any(name == wanted or name.split(":")[0] == wanted for name in models):
        return Check("LLM: Ollama", Status.FAIL,
                     f"model {wanted!r} is not pulled; the server has {models or 'no models'}")
    return Check("LLM: Ollama", Status.OK, f"{settings.ollama_url} serves {wanted}")


async def check_openai(settings: Settings) -> Check:
    if settings.openai_api_key is None:
        return Check("LLM: OpenAI-compatible", Status.NOT_CONFIGURED,
                     "set HEXABOT_OPENAI_API_KEY (and HEXABOT_OPENAI_BASE_URL)")
    url = settings.openai_base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {settings.openai_api_key.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url, headers=headers)
            response.raise_for_status()
            models = [m.get("id", "") for m in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError) as exc:
        return Check("LLM: OpenAI-compatible", Status.FAIL, f"{url}: {exc or type(exc).__name__}")
    if settings.openai_model not in models:
        return Check("LLM: OpenAI-compatible", Status.FAIL,
                     f"model {settings.openai_model!r} is not offered by {url}")
    return Check("LLM: OpenAI-compatible", Status.OK,
                 f"{settings.openai_base_url} serves {settings.openai_model}")


async def check_policy(settings: Settings) -> Check:
    try:
        policy = rules.load(settings.policy_file, WRITE_TOOLS)
    except rules.PolicyError as exc:
        return Check("Guardrail policy", Status.FAIL, str(exc).replace("\n", "; "))
    return Check("Guardrail policy", Status.OK, f"{policy.source}: {len(policy.rules)} rule(s), "
                                                f"{len(policy.protected)} protected")


CHECKS: tuple[Callable[[Settings], Awaitable[Check]], ...] = (
    check_postgres, check_clickhouse, check_kubernetes, check_slack, check_ollama, check_openai,
    check_policy,
)


TITLES: dict[Callable[[Settings], Awaitable[Check]], str] = {
    check_postgres: "PostgreSQL", check_clickhouse: "ClickHouse",
    check_kubernetes: "Kubernetes API", check_slack: "Slack", check_ollama: "LLM: Ollama",
    check_openai: "LLM: OpenAI-compatible", check_policy: "Guardrail policy"}  # for _bounded


def _name(check: Callable[[Settings], Awaitable[Check]]) -> str:
    return TITLES.get(check, check.__name__.removeprefix("check_"))


async def _bounded(check: Callable[[Settings], Awaitable[Check]], settings: Settings) -> Check:
    """One check, never raising: the doctor exists to report, so this is its one broad catch.

    Each check translates the failures it expects into a readable FAIL; anything it did not
    foresee (a library's own error on a malformed value, say) still becomes a FAIL row that
    names the exception, so the operator sees every other row instead of a traceback.
    """
    try:
        return await asyncio.wait_for(check(settings), CHECK_TIMEOUT)
    except TimeoutError:
        return Check(_name(check), Status.FAIL, f"no answer within {CHECK_TIMEOUT:.0f} s")
    except Exception as exc:  # noqa: BLE001 — reported, not swallowed: see the docstring
        return Check(_name(check), Status.FAIL,
                     f"unexpected {type(exc).__name__}: {exc}".rstrip(": "))


async def run_checks(settings: Settings) -> list[Check]:
    return list(await asyncio.gather(*(_bounded(check, settings) for check in CHECKS)))


def settings_failure(problems: list[str]) -> list[Check]:
    """The report when the settings themselves cannot be built: one FAIL row per problem."""
    return [Check("Settings", Status.FAIL, problem) for problem in problems]
