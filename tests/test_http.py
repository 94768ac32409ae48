"""The one HTTP stack: `hexabot run` and `hexabot serve-api` as real processes answer the probes,
the metrics and the chat API from one server, on exactly the sockets `app.run` documents; the
chat API's drain at shutdown; `hexabot login --wait` serving the OAuth callback itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import cli_identity
from app.http.drain import Drain
from sandbox.hexabase import FakeHexabase, serve
from sandbox.slack.server import slack_emulator
from tests.confirm_support import DIRECTORY, cli_env
from tests.conftest import REPO
from tests.identity_support import hexabase_settings, hexabase_users
from tests.sandbox_support import ThreadedSandbox
from tests.services import free_port
from tests.slack_support import process_env, start_process
from tests.test_api import KEY, auth


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (its sockets, matched in its /proc net view)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def public_key(tmp_path: Path) -> Path:
    path = tmp_path / "platform.pem"
    path.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


async def answers_only_the_api(port: int) -> None:
    """The chat API's own socket: its routes, and a 404 for the probes and the metrics."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False,
                                 timeout=30) as http:
        actions = await http.get("/api/v1/ai/actions", headers=auth())
        assert actions.status_code == 200 and actions.json() == {"actions": []}, actions.text
        for path in ("/healthz", "/readyz", "/metrics", "/oauth/callback"):
            assert (await http.get(path)).status_code == 404, path


async def answers_everything(port: int, api: bool) -> None:
    """Probes, metrics and (when ``api``) a chat API route, all on ``port``."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False,
                                 timeout=30) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert "slack" in ready.json()["checks"]
        page = await http.get("/metrics")
        assert page.status_code == 200 and "hexabot_confirmations" in page.text
        assert page.headers["content-type"].startswith("text/plain")
        actions = await http.get("/api/v1/ai/actions", headers=auth())
        if api:
            assert actions.status_code == 200 and actions.json() == {"actions": []}, actions.text
        else:
            assert actions.status_code == 404
        assert (await http.get("/nothing-here")).status_code == 404


@pytest.mark.parametrize("layout", ["api on its own port", "api on the http port", "api off"])
def test_run_serves_one_app_on_the_documented_sockets(database_url: str,
                                                      sandbox: ThreadedSandbox, tmp_path: Path,
                                                      layout: str) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    http_port, api_port = free_port(), free_port()
    extra = {"HEXABOT_API_HOST": "127.0.0.1",
             "HEXABOT_API_PORT": str(http_port if layout == "api on the http port" else api_port)}
    if layout != "api off":
        extra["HEXABOT_API_TOKEN_PUBLIC_KEY_FILE"] = str(public_key(tmp_path))
    expected = {http_port, api_port} if layout == "api on its own port" else {http_port}

    async def scenario() -> int:
        async with slack_emulator() as emulator:
            env = process_env(emulator, database_url, directory, tmp_path, http_port, **extra)
            process = await start_process(env, tmp_path)
            try:
                assert listening_ports(process.pid) == expected
                await answers_everything(http_port, api=layout != "api off")
                if layout == "api on its own port":
                    await answers_only_the_api(api_port)
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.communicate(), 60)
            return process.returncode or 0

    assert asyncio.run(scenario()) == 0


def test_serve_api_serves_only_the_api_on_its_one_socket(clean_env: dict[str, str],
                                                       database_url: str,
                                                       sandbox: ThreadedSandbox,
                                                       tmp_path: Path) -> None:
    api_port, http_port = free_port(), free_port()
    env = {**cli_env(clean_env, database_url, sandbox, tmp_path),
           "HEXABOT_API_TOKEN_PUBLIC_KEY_FILE": str(public_key(tmp_path)),
           "HEXABOT_API_HOST": "127.0.0.1", "HEXABOT_API_PORT": str(api_port),
           "HEXABOT_HTTP_PORT": str(http_port), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "app", "serve-api"], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{api_port}/api/v1/ai/actions", headers=auth(),
                             trust_env=False).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("serve-api did not become ready")
        assert listening_ports(process.pid) == {api_port}  # not HEXABOT_HTTP_PORT
        asyncio.run(answers_only_the_api(api_port))
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()


async def test_a_draining_chat_api_refuses_new_requests_and_waits_for_running_ones() -> None:
    release, entered = asyncio.Event(), asyncio.Event()
    draining = False

    async def slow(_: Request) -> JSONResponse:
        entered.set()
        await release.wait()
        return JSONResponse({"done": True})

    door = Drain(Starlette(routes=[Route("/api/slow", slow)]), lambda: draining)
    transport = httpx.ASGITransport(app=door)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        running = asyncio.create_task(http.get("/api/slow"))
        await entered.wait()
        draining = True
        refused = await http.get("/api/slow")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "shutting_down"
        assert door.running == 1 and not await door.idle(0.05)
        release.set()
        assert await door.idle(5)
        assert (await running).json() == {"done": True}


async def test_login_wait_serves_the_callback_until_the_link_is_made(
        database_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    port = free_port()
    async with serve(FakeHexabase(hexabase_users())) as fake:
        settings = hexabase_settings(fake, database_url, port)
        login = asyncio.create_task(cli_identity._login(settings, "U0ALICE", wait=True))
        link = ""
        while not link.startswith("http"):
            assert not login.done(), login
            await asyncio.sleep(0.05)
            link = capsys.readouterr().out.strip() or link
        async with httpx.AsyncClient(trust_env=False) as browser:
            redirect = await browser.get(link.splitlines()[0] + "&login_user=hxb-alice")
            assert redirect.status_code == 302, redirect.text
            for _ in range(200):  # until `login --wait` listens
                with contextlib.suppress(httpx.ConnectError):
                    page = await browser.get(redirect.headers["Location"])
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("login --wait did not serve its callback")
            assert page.status_code == 200 and "Signed in as hxb-alice" in page.text
            await asyncio.wait_for(login, 30)
            assert "linked U0ALICE to hxb-alice; workspaces: shop" in capsys.readouterr().out
            with pytest.raises(httpx.ConnectError):  # the callback server closed with it
                await browser.get(f"http://127.0.0.1:{port}/oauth/callback")


def test_a_port_already_taken_is_one_line_naming_it(database_url: str, sandbox: ThreadedSandbox,
                                                    tmp_path: Path) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]

    async def scenario() -> subprocess.CompletedProcess[str]:
        async with slack_emulator() as emulator:
            env = process_env(emulator, database_url, directory, tmp_path, port)
            return await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "app", "run"], env=env, cwd=tmp_path,
                capture_output=True, text=True, timeout=120)

    try:
        done = asyncio.run(scenario())
    finally:
        taken.close()
    assert done.returncode == 2, done.stderr
    [line] = [s for s in done.stderr.splitlines() if s.startswith("configuration error")]
    assert line.startswith("configuration error: HEXABOT_HTTP_PORT / HEXABOT_API_PORT: "
                           f"cannot listen on 127.0.0.1:{port} ("), line
    assert "Traceback" not in done.stderr
