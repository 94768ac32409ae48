"""Attacks through the doors people use — Slack (the real Bolt app over Socket Mode against the
emulator), the chat API over HTTP, the CLI: reading the bot's disk through `/hexabot policy`,
echoes of unvalidated values, private output in shared channels or to the wrong person, and
outsiders (a like-named workspace on another cluster, a cluster-admin outside the namespace's
directory scope) listing, approving or reading the audit of our workspace."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.security.support import API_KEY, bearer, directory
from tests.services import fetch_rows
from tests.slack_support import answered, bot_messages, connected_emulator, until

MARK = "PLANTED-7f3a9c-SECRET"
EXEC_POD = "web-app-7c9d8f6b5d-x2k9p"


@pytest.fixture
def other(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    (tmp_path / "other").mkdir()
    sb = ThreadedSandbox(None, tmp_path / "other").start()
    yield sb
    sb.stop()


@pytest.fixture
async def doors(database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox,
                tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[tuple[SlackEmulator, httpx.AsyncClient]]:
    """The bot (Slack + chat API) with the attackers in its directory."""
    people = tmp_path / "people.yaml"
    people.write_text(directory(other).format(kc=sandbox.sc.kubeconfig))
    public = tmp_path / "platform.pem"
    public.write_bytes(API_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  directory_file=people, api_token_public_key_file=public,
                                  api_port=0, api_host="127.0.0.1") as (slack, services), \
            httpx.AsyncClient(base_url=f"{services.api_url}/api/v1/ai", trust_env=False,
                              timeout=30) as api:
        slack.state.add_user("U0ERIN", "erin")
        slack.state.conversations["C0SHOP"].members |= {"U0MALLORY", "U0ERIN"}
        yield slack, api


def everything_said(slack: SlackEmulator) -> str:
    """Every text the bot put anywhere: messages, ephemerals, App Home views."""
    texts = [json.dumps(m) for m in slack.state.messages.values() if m.get("bot_id")]
    texts += [json.dumps(e) for e in slack.state.ephemeral]
    texts += [json.dumps(v) for v in slack.state.home_views.values()]
    return "\n".join(texts)


def ephemerals(slack: SlackEmulator, user: str, count: int = 1) -> list[dict[str, Any]]:
    found = [e for e in slack.state.ephemeral if e["user"] == user]
    return found if len(found) >= count else []


def dm(slack: SlackEmulator, user: str) -> list[dict[str, Any]]:
    return bot_messages(slack, slack.state.im_with(user).id)


# -- 1. `/hexabot policy` never reads the bot's disk, never echoes what it did not validate --
FILE_READS = [
    "scale_deployment name=web-app replicas=@{secret}",
    "scale_deployment name=@{secret} replicas=2",
    "apply_yaml manifest=@{secret}",
    "update_configmap name=web-app-config set=@{secret}",
    "view_logs pod=@{secret}",
    "list_pods namespace=@/etc/passwd",
    "exec_command pod=web-app command=@/proc/self/environ",
    'scale_deployment "name=@{secret}" replicas=2',
    "create_cronjob name=x schedule=@{secret} image=busybox",
    "get_events namespace=shop name=@/var/run/secrets/kubernetes.io/serviceaccount/token",
]


@pytest.mark.parametrize("text", FILE_READS)
async def test_slash_policy_never_reads_a_file(doors: tuple[SlackEmulator, httpx.AsyncClient],
                                               tmp_path: Path, database_url: str,
                                               text: str) -> None:
    slack, _ = doors
    secret = tmp_path / "service-account-token"
    secret.write_text(f"token: {MARK}\n")
    await slack.slash("U0ALICE", "C0SHOP", "policy " + text.format(secret=secret))
    [reply] = await until(lambda: ephemerals(slack, "U0ALICE"))
    assert "files are read only by the hexabot CLI" in reply["text"]
    assert MARK not in everything_said(slack) and "root:x:0" not in everything_said(slack)
    assert await fetch_rows(database_url, "SELECT id FROM pending_actions") == []


ECHOES = [
    f"view_logs pod=web-app tail=5 note={MARK}",                    # unknown argument
    f"scale_deployment name=web-app replicas=3 extra={MARK}",
    f"list_pods namespace=Not_A_Namespace_{MARK}",                  # fails validation
    f"scale_deployment name=web-app replicas={MARK}",
    f"get_deployment_status name={MARK.lower()}/../../x",
]


@pytest.mark.parametrize("text", ECHOES)
async def test_slash_policy_does_not_echo_unvalidated_values(
        doors: tuple[SlackEmulator, httpx.AsyncClient], text: str) -> None:
    slack, _ = doors
    await slack.slash("U0ALICE", "C0SHOP", "policy " + text)
    [reply] = await until(lambda: ephemerals(slack, "U0ALICE"))
    assert reply["text"].startswith("I cannot explain that:"), reply["text"]
    assert MARK not in everything_said(slack) and MARK.lower() not in everything_said(slack)


async def test_slash_policy_echoes_only_validated_arguments(
        doors: tuple[SlackEmulator, httpx.AsyncClient]) -> None:
    """The control: a valid request is explained, with its (validated) arguments."""
    slack, _ = doors
    await slack.slash("U0ALICE", "C0SHOP", "policy list_pods namespace=shop-staging")
    [reply] = await until(lambda: ephemerals(slack, "U0ALICE"))
    assert reply["text"].startswith("list_pods namespace=shop-staging\nDecision: ALLOW")


# -- 6. private output never lands in a shared channel or with the wrong person -------------
def plant_event(sandbox: ThreadedSandbox) -> None:
    event = {"apiVersion": "v1", "kind": "Event",
             "metadata": {"name": "web-app.leak", "namespace": "shop"},
             "involvedObject": {"kind": "Pod", "name": EXEC_POD, "namespace": "shop"},
             "reason": "Failed", "type": "Warning", "count": 1,
             "message": f"Error: couldn't connect: password={MARK}",
             "firstTimestamp": "2026-11-23T09:00:00Z", "lastTimestamp": "2026-11-23T09:00:00Z"}
    done = sandbox.kubectl("carol", "create", "-f", "-", stdin=json.dumps(event))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("text", ["events", "troubleshoot", "what's wrong in shop",
                                  "logs checkout-worker", "events web-app",
                                  "workflow performance_review namespace=shop",
                                  "workflow debug_pod_issues name=web-app"])
async def test_private_output_goes_to_the_asker_not_the_channel(
        doors: tuple[SlackEmulator, httpx.AsyncClient], sandbox: ThreadedSandbox,
        text: str) -> None:
    """Answers (and workflow reports) that read events, logs or a diagnosis."""
    slack, _ = doors
    plant_event(sandbox)
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> {text}")
    thread = await until(lambda: [m for m in answered(slack, "C0SHOP")
                                  if m.get("thread_ts") == asked["ts"]])
    assert thread[0]["text"].startswith("I sent that to you in a direct message")
    assert all(m["text"].startswith("Approval needed") for m in thread[1:])  # fixes' cards
    assert await until(lambda: [m for m in dm(slack, "U0ALICE") if m["text"] != "working…"])
    channel = json.dumps(bot_messages(slack, "C0SHOP"))
    assert MARK not in channel and "OOMKill" not in channel
    assert "Back-off restarting" not in channel


async def test_public_answers_stay_in_the_channel(
        doors: tuple[SlackEmulator, httpx.AsyncClient]) -> None:
    """The control: a pod list is answered in the thread, not moved to a DM."""
    slack, _ = doors
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> pods")
    [reply] = await until(lambda: [m for m in answered(slack, "C0SHOP")
                                   if m.get("thread_ts") == asked["ts"]])
    assert "pods in shop" in reply["text"]


async def _exec_card(slack: SlackEmulator) -> tuple[str, str]:
    """alice proposes `df -h` in a pod of shop (two-person: a teammate must approve)."""
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> exec {EXEC_POD} -- df -h")
    [card] = await until(lambda: [m for m in bot_messages(slack, "C0SHOP")
                                  if m["text"].startswith("Approval needed")])
    value = next(e["value"] for b in card["blocks"] if b["type"] == "actions"
                 for e in b["elements"] if e["action_id"] == "approve")
    return card["ts"], value


async def test_exec_output_goes_only_to_the_requester_when_approved_in_slack(
        doors: tuple[SlackEmulator, httpx.AsyncClient]) -> None:
    slack, _ = doors
    ts, action = await _exec_card(slack)
    await slack.click("U0CAROL", "C0SHOP", ts, "approve", action)
    [output] = await until(lambda: [m for m in dm(slack, "U0ALICE") if "Filesystem" in m["text"]])
    assert "Filesystem" not in json.dumps(bot_messages(slack, "C0SHOP"))
    assert "Filesystem" not in json.dumps(dm(slack, "U0CAROL"))
    assert "Filesystem" not in json.dumps(slack.state.ephemeral)
    assert output["channel"] == slack.state.im_with("U0ALICE").id


async def test_exec_output_goes_only_to_the_requester_when_approved_through_the_api(
        doors: tuple[SlackEmulator, httpx.AsyncClient]) -> None:
    slack, api = doors
    _, action = await _exec_card(slack)
    approved = await api.post(f"/actions/{action}/approve", headers=bearer("U0CAROL"))
    assert approved.status_code == 200, approved.text
    assert "Filesystem" not in approved.text and "private to them" in approved.text
    assert await until(lambda: [m for m in dm(slack, "U0ALICE") if "Filesystem" in m["text"]])


async def test_exec_output_is_not_printed_to_a_cli_approver(
        doors: tuple[SlackEmulator, httpx.AsyncClient], clean_env: dict[str, str],
        database_url: str, tmp_path: Path) -> None:
    slack, _ = doors
    _, action = await _exec_card(slack)
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url,
           "HEXABOT_DIRECTORY_FILE": str(tmp_path / "people.yaml")}
    done = run_cli(["approve", action, "--as", "carol"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Filesystem" not in done.stdout and "private to them" in done.stdout
    [row] = await fetch_rows(database_url, f"SELECT result FROM pending_actions "
                                           f"WHERE id = '{action}'")
    assert "Filesystem" in row["result"]  # kept with the action, for the requester


# -- 2, 3. outsiders through Slack and the chat API ------------------------------------------
async def _scale_card(slack: SlackEmulator) -> tuple[str, str]:
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 5")  # shop: two people
    [card] = await until(lambda: [m for m in bot_messages(slack, "C0SHOP")
                                  if m["text"].startswith("Approval needed")])
    value = next(e["value"] for b in card["blocks"] if b["type"] == "actions"
                 for e in b["elements"] if e["action_id"] == "approve")
    return card["ts"], value


@pytest.mark.parametrize("who", ["U0MALLORY", "U0ERIN"])
@pytest.mark.parametrize("verb", ["approve", "reject"])
async def test_outsider_clicks_are_refused(doors: tuple[SlackEmulator, httpx.AsyncClient],
                                           database_url: str, sandbox: ThreadedSandbox,
                                           who: str, verb: str) -> None:
    slack, _ = doors
    ts, action = await _scale_card(slack)
    await slack.click(who, "C0SHOP", ts, verb, action)
    [refusal] = await until(lambda: ephemerals(slack, who))
    assert ("no access to workspace 'shop'" if who == "U0MALLORY"
            else "directory entry does not include namespace shop") in refusal["text"]
    [row] = await fetch_rows(database_url, f"SELECT state FROM pending_actions "
                                           f"WHERE id = '{action}'")
    assert row["state"] == "pending"
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"][
        "replicas"] != 5


@pytest.mark.parametrize("who", ["U0MALLORY", "U0ERIN"])
async def test_outsider_app_home_lists_nothing(doors: tuple[SlackEmulator, httpx.AsyncClient],
                                               who: str) -> None:
    slack, _ = doors
    _, action = await _scale_card(slack)
    await slack.open_home("U0CAROL")  # control: the teammate in scope sees it
    assert await until(lambda: action in json.dumps(slack.state.home_views.get("U0CAROL", {})))
    await slack.open_home(who)
    home = await until(lambda: slack.state.home_views.get(who))
    assert action not in json.dumps(home)


@pytest.mark.parametrize("who", ["U0MALLORY", "U0ERIN"])
async def test_outsider_through_the_chat_api(doors: tuple[SlackEmulator, httpx.AsyncClient],
                                             database_url: str, who: str) -> None:
    slack, api = doors
    _, action = await _scale_card(slack)
    claims: dict[str, Any] = {} if who == "U0MALLORY" else {"namespaces": ["data"]}
    listed = await api.get("/actions", headers=bearer(who, **claims))
    assert listed.status_code == 200 and action not in listed.text
    for verb in ("approve", "reject"):
        decided = await api.post(f"/actions/{action}/{verb}", headers=bearer(who, **claims))
        assert decided.status_code == 404, decided.text
    audit = await api.get("/audit", headers=bearer(who, **claims))  # both are in "admins"
    assert audit.status_code == 200 and action not in audit.text and "U0ALICE" not in audit.text
    [row] = await fetch_rows(database_url, f"SELECT state FROM pending_actions "
                                           f"WHERE id = '{action}'")
    assert row["state"] == "pending"


async def test_admin_of_the_workspace_reads_its_audit(
        doors: tuple[SlackEmulator, httpx.AsyncClient]) -> None:
    """The control: carol (admins, same workspace and cluster) reads alice's events."""
    slack, api = doors
    _, action = await _scale_card(slack)
    audit = await api.get("/audit", headers=bearer("U0CAROL"))
    assert audit.status_code == 200 and action in audit.text
