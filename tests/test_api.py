"""The chat API over real HTTP (uvicorn in the bot's process, the bot connected to the Slack
emulator, Postgres and the sandbox): chat, sessions, actions, audit; the token attack set;
cross-user access; bad input; rate limiting; streaming order; a Slack card updated by a
decision made through the API."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.conftest import REPO
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import bot_messages, connected_emulator, until

KEY = ec.generate_private_key(ec.SECP256R1())
PEOPLE = {"alice": ("U0ALICE", "hxb-alice"), "bob": ("U0BOB", "hxb-bob"),
          "carol": ("U0CAROL", "hxb-carol")}


def token(who: str = "alice", key: Any = KEY, algorithm: str = "ES256", kid: str = "platform",
          **override: Any) -> str:
    slack_id, hexabase = PEOPLE[who]
    now = int(time.time())
    claims = {"iss": "hexabase", "aud": "hexabot-ai", "sub": hexabase, "slack_id": slack_id,
              "iat": now, "exp": now + 300, "workspace": "shop",
              "namespaces": ["shop", "shop-staging"], "namespace": "shop", **override}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


async def server_sent_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """A streamed chat reply's events as (event name, its JSON data), in order."""
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


def auth(who: str = "alice", **override: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(who, **override)}"}


@pytest.fixture
async def api(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch,
              request: pytest.FixtureRequest) -> AsyncIterator[tuple[httpx.AsyncClient,
                                                                     SlackEmulator]]:
    public = tmp_path / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    rate = getattr(request, "param", 1000)
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  api_token_public_key_file=public, api_port=0,
                                  api_host="127.0.0.1", api_rate_per_minute=rate) as (
            slack, services), httpx.AsyncClient(base_url=f"{services.api_url}/api/v1/ai",
                                                trust_env=False, timeout=30) as client:
        yield client, slack


async def test_chat_sessions_and_forgetting(api: tuple[httpx.AsyncClient, SlackEmulator]
                                            ) -> None:
    client, _ = api
    first = await client.post("/chat", json={"message": "pods"}, headers=auth())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["mode"] == "command" and body["session_id"].startswith("api:")
    assert [c["tool"] for c in body["tools_called"]] == ["list_pods"]
    assert "6 pods in shop" in body["reply"]
    session = body["session_id"]
    again = await client.post("/chat", json={"message": "events", "session_id": session},
                              headers=auth())
    assert again.status_code == 200 and again.json()["session_id"] == session
    history = (await client.get(f"/sessions/{session}", headers=auth())).json()
    assert [t["role"] for t in history["turns"]] == ["user", "assistant", "user", "assistant"]
    assert history["turns"][0]["content"] == "pods"
    # another person's session does not exist for them
    for method, path in (("GET", f"/sessions/{session}"), ("DELETE", f"/sessions/{session}")):
        other = await client.request(method, path, headers=auth("bob"))
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    stolen = await client.post("/chat", json={"message": "pods", "session_id": session},
                               headers=auth("bob"))
    assert stolen.status_code == 404
    assert (await client.delete(f"/sessions/{session}", headers=auth())).status_code == 204
    assert (await client.get(f"/sessions/{session}", headers=auth())).status_code == 404


def _tampered() -> str:
    head, payload, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"], claims["slack_id"] = "hxb-carol", "U0CAROL"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{forged}.{signature}"


def _hs_with_public_key() -> str:
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"platform"}')
    body = base64.urlsafe_b64encode(json.dumps({"sub": "hxb-alice"}).encode())
    import hashlib
    import hmac
    signing = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    mac = base64.urlsafe_b64encode(hmac.new(pem, signing, hashlib.sha256).digest())
    return (signing + b"." + mac.rstrip(b"=")).decode()


def _none() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(b'{"sub":"hxb-alice","workspace":"shop"}').rstrip(b"=")
    return (header + b"." + body + b".").decode()


ATTACKS = {
    "no header": None,
    "not bearer": "Basic YWxpY2U6c2VjcmV0",
    "alg none": f"Bearer {_none()}",
    "HS256 signed with the public key": f"Bearer {_hs_with_public_key()}",
    "RS256 by another key": "Bearer " + token(key=rsa.generate_private_key(65537, 2048),
                                               algorithm="RS256"),
    "ES256 by another key": "Bearer " + token(key=ec.generate_private_key(ec.SECP256R1())),
    "unknown kid": "Bearer " + token(kid="someone-else"),
    "expired": "Bearer " + token(iat=int(time.time()) - 900, exp=int(time.time()) - 300),
    "lives an hour": "Bearer " + token(exp=int(time.time()) + 3600),
    "wrong audience": "Bearer " + token(aud="another-service"),
    "wrong issuer": "Bearer " + token(iss="evil"),
    "tampered": f"Bearer {_tampered()}",
    "no workspace claim": "Bearer " + token(workspace=None),
    "subject not in the directory": "Bearer " + token(sub="hxb-mallory", slack_id="U0MALLORY"),
    "subject and slack id disagree": "Bearer " + token(sub="hxb-bob"),
}


async def test_the_token_attack_set_gets_401(api: tuple[httpx.AsyncClient, SlackEmulator]
                                             ) -> None:
    client, _ = api
    for name, header in ATTACKS.items():
        answer = await client.post("/chat", json={"message": "pods"},
                                   headers={"Authorization": header} if header else {})
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized", name
        assert "eyJ" not in answer.text  # the token is never echoed
    other = await client.post("/chat", json={"message": "pods"},
                              headers=auth(workspace="payments"))
    assert other.status_code == 403 and "no workspace 'payments'" in other.text
    narrowed = await client.post("/chat", json={"message": "pods"},
                                 headers=auth(namespaces=["shop-staging"], namespace=None))
    assert narrowed.status_code == 200 and "in shop-staging" in narrowed.json()["reply"]


async def test_bad_input_names_the_field(api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, _ = api
    broken = await client.post("/chat", content=b'{"message": "po', headers={
        **auth(), "Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["field"] == "body"
    unknown = await client.post("/chat", json={"message": "pods", "colour": "red"},
                                headers=auth())
    assert unknown.status_code == 400 and unknown.json()["error"] == {
        "code": "bad_request", "message": "colour: unknown field", "field": "colour"}
    missing = await client.post("/chat", json={}, headers=auth())
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "message"
    big = await client.post("/chat", json={"message": "x" * (8 * 1024 + 1)}, headers=auth())
    assert big.status_code == 413 and big.json()["error"]["field"] == "message"
    nul = await client.post("/chat", json={"message": "pods\u0000"}, headers=auth())
    assert nul.status_code == 400 and nul.json()["error"]["message"] == \
        "message: contains control characters"
    wrong_verb = await client.put("/chat", json={"message": "pods"}, headers=auth())
    assert wrong_verb.status_code == 405 and wrong_verb.json()["error"]["code"] == \
        "method_not_allowed"
    bad_session = await client.post("/chat", json={"message": "pods", "session_id": "dm:U0BOB"},
                                    headers=auth())
    assert bad_session.status_code == 400 and bad_session.json()["error"]["field"] == \
        "session_id"


@pytest.mark.parametrize("api", [3], indirect=True)
async def test_rate_limit_per_user(api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, _ = api
    codes = [(await client.get("/actions", headers=auth())).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = await client.get("/actions", headers=auth())
    assert int(limited.headers["Retry-After"]) in range(1, 61)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert (await client.get("/actions", headers=auth("bob"))).status_code == 200  # per user


async def test_streaming_reports_tools_then_the_answer(
        api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, _ = api
    async with client.stream("POST", "/chat/stream", json={
            "message": "How is my web app doing?"}, headers=auth()) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = await server_sent_events(response)
    assert [k for k, _ in events] == ["session", *["tool"] * 6, "answer"]
    assert [d["tool"] for k, d in events if k == "tool"] == [
        "get_deployment_status", "list_pods", "get_resource_usage", *["view_logs"] * 3]
    assert "deployment shop/web-app: 3/3 ready" in events[-1][1]["reply"]
    assert events[-1][1]["verdict"].startswith("web-app is healthy: 3/3 ready")
    assert {"label": "Ready", "value": "3/3"} in events[-1][1]["facts"]
    assert events[-1][1]["session_id"] == events[0][1]["session_id"]


async def test_a_card_posted_in_slack_is_decided_through_the_api(
        api: tuple[httpx.AsyncClient, SlackEmulator], sandbox: ThreadedSandbox) -> None:
    client, slack = api
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 4")
    card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                     if m["text"].startswith("Approval needed")), None))
    action = card["blocks"][-1]["elements"][0]["value"]
    listed = (await client.get("/actions", headers=auth("carol"))).json()["actions"]
    assert [a["id"] for a in listed] == [action]  # the same row Slack shows
    mallory = await client.post(f"/actions/{action}/approve",
                                headers=auth("alice", namespaces=["shop-staging"]))
    assert mallory.status_code == 404  # not in the namespaces the token allows
    own = await client.post(f"/actions/{action}/approve", headers=auth("alice"))
    assert own.status_code == 403 and "second person" in own.json()["error"]["message"]
    approved = await client.post(f"/actions/{action}/approve", headers=auth("carol"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["action"]["state"] == "succeeded"
    updated = slack.state.messages[("C0SHOP", card["ts"])]
    assert updated["blocks"][-1]["type"] != "actions"  # the buttons are gone …
    assert "*Succeeded* by <@U0CAROL>" in updated["blocks"][-1]["text"]["text"]  # … decided
    assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "replicas"] == 4
    again = await client.post(f"/actions/{action}/approve", headers=auth("carol"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


async def test_audit_is_your_own_unless_you_administer(
        api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, _ = api
    assert (await client.post("/chat", json={"message": "pods"}, headers=auth())).is_success
    assert (await client.post("/chat", json={"message": "pods"},
                              headers=auth("bob"))).is_success
    mine = (await client.get("/audit", headers=auth("bob"))).json()["events"]
    assert mine and {e["actor"] for e in mine} == {"U0BOB"}
    everyone = (await client.get("/audit?since=1h", headers=auth("carol"))).json()["events"]
    assert {"U0ALICE", "U0BOB"} <= {e["actor"] for e in everyone}
    wrong = await client.get("/audit?since=yesterday", headers=auth())
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "since"


async def test_a_proposal_made_through_the_api_is_approved_in_slack(
        api: tuple[httpx.AsyncClient, SlackEmulator], sandbox: ThreadedSandbox) -> None:
    client, slack = api
    made = await client.post("/chat", json={"message": "scale web-app 5"}, headers=auth())
    [proposal] = made.json()["proposals"]
    await slack.open_home("U0CAROL")  # carol's App Home lists it, with buttons
    view = await until(lambda: slack.state.home_views.get("U0CAROL"))
    assert f"home-{proposal['id']}" in [b.get("block_id") for b in view["blocks"]]
    await slack.click_home("U0CAROL", "approve", proposal["id"])
    await until(lambda: sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"][
        "replicas"] == 5)
    await until(lambda: f"home-{proposal['id']}" not in [
        b.get("block_id") for b in slack.state.home_views["U0CAROL"]["blocks"]])
    assert (await client.get("/actions", headers=auth())).json()["actions"] == []
    await slack.click_home("U0CAROL", "approve", proposal["id"])  # once more: refused in a DM
    dm = slack.state.im_with("U0CAROL").id
    note = await until(lambda: [m for m in slack.state.history(dm) if m.get("bot_id")])
    assert "Already approved by U0CAROL" in note[-1]["text"]


async def test_the_served_spec_is_the_checked_in_one(
        api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, _ = api
    served = (await client.get(client.base_url.join("/api/v1/openapi.json"))).json()
    checked_in = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert served == checked_in, "docs/openapi.json is out of date: python .ci/openapi.py"
    assert {"/api/v1/ai/chat", "/api/v1/ai/chat/stream", "/api/v1/ai/sessions/{session_id}",
            "/api/v1/ai/actions", "/api/v1/ai/actions/{action_id}/approve",
            "/api/v1/ai/audit"} <= set(served["paths"])
    assert served["components"]["schemas"]["ErrorOut"]["properties"] == {
        "error": {"$ref": "#/components/schemas/ErrorBody"}}


async def test_a_proposal_rejected_through_the_api(
        api: tuple[httpx.AsyncClient, SlackEmulator], sandbox: ThreadedSandbox) -> None:
    client, _ = api
    made = await client.post("/chat", json={"message": "restart web-app"}, headers=auth())
    [proposal] = made.json()["proposals"]
    rejected = await client.post(f"/actions/{proposal['id']}/reject", headers=auth("carol"))
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["action"]["state"] == "rejected"
    assert (await client.post(f"/actions/{proposal['id']}/approve",
                              headers=auth("carol"))).status_code == 409
    unknown = await client.post("/actions/0123456789abcdef/reject", headers=auth("carol"))
    assert unknown.status_code == 404


def test_serve_api_alone(clean_env: dict[str, str], database_url: str,
                         sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from tests.confirm_support import cli_env
    from tests.conftest import run_cli
    from tests.services import free_port

    env = cli_env(clean_env, database_url, sandbox, tmp_path)
    refused = run_cli(["serve-api"], env, tmp_path)
    assert refused.returncode == 2 and "HEXABOT_API_TOKEN_PUBLIC_KEY_FILE" in refused.stderr
    public = tmp_path / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    port = free_port()
    env.update({"HEXABOT_API_TOKEN_PUBLIC_KEY_FILE": str(public), "HEXABOT_API_PORT": str(port),
                "HEXABOT_API_HOST": "127.0.0.1", "PYTHONPATH": str(REPO)})
    process = subprocess.Popen([sys.executable, "-m", "app", "serve-api"], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/ai/chat", trust_env=False,
                                    json={"message": "pods"}, headers=auth(), timeout=30)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("serve-api did not start")
        assert answer.status_code == 200 and "6 pods in shop" in answer.json()["reply"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
