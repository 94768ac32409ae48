"""`hexabot doctor` against real services and loopback stand-ins of Slack and the LLM APIs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from app import doctor
from app.settings import load_settings
from tests.conftest import REPO, run_cli
from tests.identity_support import directory, write
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse, free_port


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("HEXABOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {check.name: check for check in checks}


def test_nothing_configured_embedded_postgres_ok(clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["doctor"], clean_env, tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
            if line.count("│") >= 3}
    assert "OK" in rows["PostgreSQL"] and "embedded" in rows["PostgreSQL"]
    for name in ("ClickHouse", "Kubernetes API", "Slack", "LLM: Ollama", "LLM: OpenAI-compatible"):
        assert "not configured" in rows[name], rows[name]


async def test_clickhouse_ok_and_fail(database_url: str, clickhouse: ClickHouse) -> None:
    good = load_settings(database_url=database_url, clickhouse_url=clickhouse.url)
    checks = _by_name(await doctor.run_checks(good))
    assert checks["ClickHouse"].status is doctor.Status.OK
    assert checks["ClickHouse"].detail.startswith("server ")
    dead = load_settings(database_url=database_url,
                         clickhouse_url=f"clickhouse://default@127.0.0.1:{free_port()}/default")
    checks = _by_name(await doctor.run_checks(dead))
    assert checks["ClickHouse"].status is doctor.Status.FAIL
    assert checks["PostgreSQL"].status is doctor.Status.OK


def test_failing_dependency_exits_1(
    database_url: str, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url,
           "HEXABOT_CLICKHOUSE_URL": f"clickhouse://default@127.0.0.1:{free_port()}/default"}
    result = run_cli(["doctor"], env, tmp_path)
    assert result.returncode == 1
    assert "FAIL" in result.stdout


@pytest.fixture
async def stub_apis() -> AsyncIterator[str]:
    """Slack Web API, Ollama and OpenAI wire formats on one loopback port."""
    async def auth_test(request: web.Request) -> web.Response:
        ok = request.headers.get("Authorization") == "Bearer xoxb-good"
        body = ({"ok": True, "user": "hexabot", "user_id": "UBOT", "team": "Acme", "bot_id": "B1"}
                if ok else {"ok": False, "error": "invalid_auth"})
        return web.json_response(body)

    async def connections_open(request: web.Request) -> web.Response:
        ok = request.headers.get("Authorization", "").startswith("Bearer xapp-")
        return web.json_response({"ok": True, "url": "ws://127.0.0.1:1/link/?ticket=t"} if ok
                                 else {"ok": False, "error": "invalid_auth"})

    async def tags(_: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": "llama3.1:latest"}]})

    async def models(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer sk-good":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        return web.json_response({"data": [{"id": "gpt-4o-mini"}]})

    app = web.Application()
    app.router.add_post("/api/auth.test", auth_test)
    app.router.add_post("/api/apps.connections.open", connections_open)
    app.router.add_get("/api/tags", tags)
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_slack_and_llm_endpoints(database_url: str, stub_apis: str) -> None:
    settings = load_settings(
        database_url=database_url, slack_bot_token="xoxb-good", slack_app_token="xapp-good",
        slack_api_url=f"{stub_apis}/api/", ollama_url=stub_apis, ollama_model="llama3.1",
        openai_base_url=f"{stub_apis}/v1", openai_api_key="sk-good",
    )
    checks = _by_name(await doctor.run_checks(settings))
    assert checks["Slack"].status is doctor.Status.OK
    assert "UBOT" in checks["Slack"].detail
    assert checks["LLM: Ollama"].status is doctor.Status.OK
    assert checks["LLM: OpenAI-compatible"].status is doctor.Status.OK

    wrong = load_settings(
        database_url=database_url, slack_bot_token="xoxb-bad", slack_app_token="xapp-good",
        slack_api_url=f"{stub_apis}/api/", ollama_url=stub_apis, ollama_model="mistral",
        openai_base_url=f"{stub_apis}/v1", openai_api_key="sk-bad",
    )
    checks = _by_name(await doctor.run_checks(wrong))
    assert checks["Slack"].status is doctor.Status.FAIL
    assert "invalid_auth" in checks["Slack"].detail
    assert checks["LLM: Ollama"].status is doctor.Status.FAIL
    assert "'mistral' is not pulled" in checks["LLM: Ollama"].detail
    assert checks["LLM: OpenAI-compatible"].status is doctor.Status.FAIL
    assert "401" in checks["LLM: OpenAI-compatible"].detail


async def test_half_configured_slack_is_a_failure(database_url: str) -> None:
    settings = load_settings(database_url=database_url, slack_bot_token="xoxb-only")
    checks = _by_name(await doctor.run_checks(settings))
    assert checks["Slack"].status is doctor.Status.FAIL
    assert "HEXABOT_SLACK_APP_TOKEN" in checks["Slack"].detail


async def test_kubernetes_from_the_directory(database_url: str, sandbox: ThreadedSandbox,
                                             tmp_path: Path) -> None:
    path = write(tmp_path, directory(tmp_path, kubeconfig=sandbox.sc.kubeconfig))
    checks = _by_name(await doctor.run_checks(load_settings(database_url=database_url,
                                                            directory_file=path)))
    assert checks["Kubernetes API"].status is doctor.Status.OK, checks["Kubernetes API"].detail
    assert checks["Kubernetes API"].detail == f"2 users; {sandbox.sc.url} v1.33.0-hexabot-sandbox"
    broken = directory(tmp_path, kubeconfig=sandbox.sc.kubeconfig)
    broken["users"][0]["workspaces"][0]["context"] = "nobody"
    checks = _by_name(await doctor.run_checks(load_settings(
        database_url=database_url, directory_file=write(tmp_path, broken, "broken.yaml"))))
    assert checks["Kubernetes API"].status is doctor.Status.FAIL
    assert "users[0].workspaces[0].context" in checks["Kubernetes API"].detail


def _rows(stdout: str) -> dict[str, str]:
    return {line.split("│")[1].strip(): line.split("│")[2].strip() + " " + line.split("│")[3]
            for line in stdout.splitlines() if line.count("│") >= 3}


@pytest.mark.parametrize(("setting", "value", "row", "reason"), [
    ("HEXABOT_DATABASE_URL", "postgresql://hexabot@127.0.0.1:{port}/hexabot", "PostgreSQL",
     "cannot connect"),
    ("HEXABOT_DATABASE_URL", "postgresql://hexabot@127.0.0.1:notaport/hexabot", "Settings",
     "port is not a number"),
    ("HEXABOT_APPROVAL_TTL_MINUTES", "soon", "Settings", "valid integer"),
    ("HEXABOT_DIRECTORY_FILE", "{tmp}/missing.yaml", "Settings", "missing.yaml"),
    ("HEXABOT_DIRECTORY_FILE", "{tmp}/bad.yaml", "Kubernetes API", "users[0].slack_id"),
])
def test_a_broken_dependency_or_setting_is_a_fail_row_never_a_traceback(
    clean_env: dict[str, str], tmp_path: Path, setting: str, value: str, row: str, reason: str
) -> None:
    # an unreachable PostgreSQL rather than the embedded one, unless the case says otherwise
    env = {**clean_env, "HEXABOT_DATABASE_URL": f"postgresql://x@127.0.0.1:{free_port()}/x"}
    env[setting] = value.format(port=free_port(), tmp=tmp_path)
    (tmp_path / "bad.yaml").write_text("users: [{slack_id: 1}]\n")
    result = run_cli(["doctor"], env, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    status, detail = _rows(result.stdout)[row].split(" ", 1)
    assert status == "FAIL" and reason in detail, result.stdout


def test_migrations_missing_from_the_installation_is_a_fail_row(
    database_url: str, clean_env: dict[str, str], tmp_path: Path
) -> None:
    """What a wheel without its hexabot_migrations package did: now a FAIL row, exit 1."""
    probe = ("import sys; from app import migrate; migrate.PACKAGE = 'hexabot_nothing_here'; "
             "from app.cli import main; sys.argv = ['hexabot', 'doctor']; main()")
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=90,
        env={**clean_env, "HEXABOT_DATABASE_URL": database_url, "PYTHONPATH": str(REPO),
             "COLUMNS": "250"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    status, detail = _rows(result.stdout)["PostgreSQL"].split(" ", 1)
    assert status == "FAIL" and "'hexabot_nothing_here'" in detail and "not installed" in detail
    assert _rows(result.stdout)["Guardrail policy"].startswith("OK")
