"""Secret leakage (issue 17, class 5): what ``tools.redact`` lets through, and what reaches a
non-private LLM.

Corpora (``corpus/``): ``dev_secrets.txt`` / ``dev_harmless.txt`` are ours, one test id per
line; ``heldout_*.txt`` and ``heldout2_*.txt`` were written by others (the second blind to the
redactor) and are only measured, against floors.
Every secret must vanish from the text; every harmless look-alike must come back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import SecretStr

from agents.agent import UserChatAgent
from agents.gateway import Gateway, Provider
from agents.memory import Memory
from agents.types import Ask
from app.llm_compat import CompatChatOpenAI
from tests.confirm_support import Rig, rig
from tests.llm_stubs import ScriptedChatModel, WireStub, serve
from tests.sandbox_support import ThreadedSandbox
from tools.audit import AuditEvent
from tools.redact import MASK, redact
from tools.security import KubeconfigCredentials, SecurityContext

CORPUS = Path(__file__).parent / "corpus"
# Held-out floors: what the rules achieve on each held-out corpus, rounded down (see
# docs/benchmarks.md, "Redaction").  Raise them when the rules get better, never lower them.
HELDOUT_FLOORS = {"heldout": (0.98, 0.01), "heldout2": (0.99, 0.01)}


def secrets(name: str) -> list[tuple[str, str]]:
    path = CORPUS / name
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            secret, text = line.split("\t", 1)
            rows.append((secret, text))
    return rows


def harmless(name: str) -> list[str]:
    path = CORPUS / name
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


DEV_SECRETS = secrets("dev_secrets.txt")
DEV_HARMLESS = harmless("dev_harmless.txt")


def leaked(secret: str, text: str) -> bool:
    return secret in text or json.dumps(secret)[1:-1] in text


def test_the_development_corpora_are_big_enough() -> None:
    assert len(DEV_SECRETS) >= 150 and len(DEV_HARMLESS) >= 150
    assert len({text for _, text in DEV_SECRETS}) == len(DEV_SECRETS)
    assert len(set(DEV_HARMLESS)) == len(DEV_HARMLESS)


@pytest.mark.parametrize(("secret", "text"), DEV_SECRETS,
                         ids=[f"secret{i:03d}" for i in range(len(DEV_SECRETS))])
def test_a_secret_is_gone(secret: str, text: str) -> None:
    out = redact(text)
    assert secret not in out and MASK in out
    assert redact(out) == out                       # idempotent: a second pass changes nothing


@pytest.mark.parametrize("text", DEV_HARMLESS,
                         ids=[f"harmless{i:03d}" for i in range(len(DEV_HARMLESS))])
def test_a_look_alike_is_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(("text", "expected"), [
    ("DB_PASSWORD=hunter2-x", "DB_PASSWORD=[REDACTED]"),
    ('password: "correct horse battery"', 'password: "[REDACTED]"'),
    ("postgres://app:pw-1234@db:5432/orders", "postgres://app:[REDACTED]@db:5432/orders"),
    ("redis://:pw-1234@redis:6379", "redis://:[REDACTED]@redis:6379"),
    ("--password hunter2 --user bob", "--password [REDACTED] --user bob"),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
    ('{"name": "SMTP_PASSWORD", "value": "m41l pass"}',
     '{"name": "SMTP_PASSWORD", "value": "[REDACTED]"}'),
    ("mysql -uroot -pS3cret! shop", "mysql -uroot -p[REDACTED] shop"),
    ("level=info password=abc123 user=bob", "level=info password=[REDACTED] user=bob"),
], ids=["env", "quoted", "url", "redis-url", "flag", "basic", "env-entry", "mysql", "logfmt"])
def test_only_the_value_becomes_the_mask(text: str, expected: str) -> None:
    assert redact(text) == expected


MULTILINE = {
    "yaml-env-block": ("m41l-p4ss word", """        env:
        - name: LOG_LEVEL
          value: info
        - name: SMTP_PASSWORD
          value: m41l-p4ss word
        - name: DB_HOST
          value: postgres"""),
    "yaml-block-scalar": ("line-two-s3cret", "config:\n  password: |\n    line-one\n"
                                             "    line-two-s3cret\n  user: app"),
    "pem": ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "-----BEGIN RSA PRIVATE KEY-----\n"
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
            "-----END RSA PRIVATE KEY-----\nnext line"),
    "secret-yaml": ("c3VwZXItc2VjcmV0LWNvbmZpZw==", "apiVersion: v1\nkind: Secret\nmetadata:\n"
                    "  name: app\ndata:\n  config.yaml: c3VwZXItc2VjcmV0LWNvbmZpZw==\n"
                    "type: Opaque"),
    "secret-json": ("c3VwZXItc2VjcmV0LWNvbmZpZw==", json.dumps(
        {"kind": "Secret", "data": {"settings.ini": "c3VwZXItc2VjcmV0LWNvbmZpZw=="}}, indent=2)),
    "env-output": ("s3cr3t with spaces", "HOME=/root\nAPP_DB_PASSWORD=s3cr3t with spaces\n"
                                          "PATH=/usr/bin"),
}


@pytest.mark.parametrize("case", sorted(MULTILINE))
def test_multiline_secrets(case: str) -> None:
    secret, text = MULTILINE[case]
    out = redact(text)
    assert secret not in out
    assert out.count("\n") <= text.count("\n")


def test_a_kubernetes_pod_dump_keeps_everything_but_the_secret() -> None:
    pod = {"metadata": {"name": "web", "uid": "550e8400-e29b-41d4-a716-446655440000",
                        "resourceVersion": "884213",
                        "annotations": {"checksum/config": "ab" * 32}},
           "spec": {"containers": [{"name": "web", "image": "nginx@sha256:" + "cd" * 32,
                                    "env": [{"name": "DB_PASSWORD", "value": "pl4nted!"},
                                            {"name": "LOG_LEVEL", "value": "debug"}]}]}}
    text = json.dumps(pod, indent=2)
    out = redact(text)
    assert "pl4nted!" not in out
    assert out == text.replace("pl4nted!", MASK)


@pytest.mark.parametrize("attack", [
    "a" * 1_000_000, "sk-" * 333_333, "password=" * 111_111, "name: PASSWORD\n" * 70_000,
    "-----BEGIN RSA PRIVATE KEY-----" * 30_000, "http://a:" * 100_000, 'password: "' * 90_000,
    "mysql " * 160_000, "eyJabcdefgh." * 80_000, "Authorization: " * 60_000, "Bearer 1" * 125_000,
    "x_key=" * 160_000, "1234567890:" * 90_000, "value: x, name: TOKEN\n" * 45_000,
    "echo x" * 160_000 + " --password-stdin", "sqlplus a/" * 100_000,
    "process.env.X || '" * 55_000, "auth=('a', " * 90_000, "Recovery Key 1: " * 62_000,
    '"keyName": "a", ' * 62_000, "'x-api-key', " * 76_000, "пароль: " * 125_000,
], ids=["run", "sk", "assign", "pairs", "pem", "url", "quote", "mysql", "jwt", "authz",
        "bearer", "key", "telegram", "reversed", "stdin", "oracle", "fallback", "auth-pair",
        "labelled", "key-listing", "header-pair", "native"])
def test_a_megabyte_of_adversarial_text_finishes(attack: str) -> None:
    """No timing assert: a catastrophic backtrack would hang here until the suite's timeout."""
    assert isinstance(redact(attack), str)


@pytest.mark.parametrize("corpus", sorted(HELDOUT_FLOORS))
def test_heldout_rates_stay_above_their_floors(corpus: str) -> None:
    held_secrets = secrets(f"{corpus}_secrets.txt")
    held_harmless = harmless(f"{corpus}_harmless.txt")
    assert held_secrets and held_harmless, f"the {corpus} corpus is missing or empty"
    detection_floor, false_positive_ceiling = HELDOUT_FLOORS[corpus]
    found = sum(not leaked(secret, redact(text)) for secret, text in held_secrets)
    touched = sum(redact(text) != text for text in held_harmless)
    detection, false_positives = found / len(held_secrets), touched / len(held_harmless)
    assert detection >= detection_floor, f"detection {detection:.1%}"
    assert false_positives <= false_positive_ceiling, f"false positives {false_positives:.1%}"


# --- what a non-private provider receives -------------------------------------------------

def context(sensitive: bool = False) -> SecurityContext:
    return SecurityContext(slack_id="U0ALICE", hexabase_user="hxb-alice", name="alice",
                           groups=(), workspace="shop", namespaces=("shop",), namespace="shop",
                           two_person_namespaces=(), sensitive=sensitive,
                           credentials=KubeconfigCredentials({}, "alice", "t"))


async def no_audit(event: AuditEvent) -> None:
    return None


def planted_conversation() -> tuple[list[Any], list[str]]:
    """A turn whose tool result, tool-call arguments and content parts all carry secrets."""
    planted = DEV_SECRETS[::3]
    result = "\n".join(text for _, text in planted)
    args_secret = "pl4nted-arg-pass"
    messages = [
        HumanMessage(content=[{"type": "text", "text": "why does login fail? my token is "
                                                       "ghp_" + "Q" * 36}]),
        AIMessage(content="", tool_calls=[{"name": "exec_command", "id": "c1", "args": {
            "command": ["psql", f"postgres://app:{args_secret}@db/orders"],
            "env": {"PGPASSWORD": args_secret}}}]),
        ToolMessage(content=result, tool_call_id="c1"),
    ]
    return messages, [secret for secret, _ in planted] + [args_secret, "ghp_" + "Q" * 36]


async def test_no_planted_secret_reaches_a_hosted_provider_over_the_wire() -> None:
    messages, planted = planted_conversation()
    async with serve(WireStub([("text", "It is the password.")])) as stub:
        hosted = Provider("openai", "gpt-4o-mini", False, make=lambda: CompatChatOpenAI(
            model="gpt-4o-mini", base_url=f"{stub.url}/v1", api_key=SecretStr("sk-test"),
            max_retries=0, max_completion_tokens=1024))
        answer = await Gateway([hosted], no_audit).complete(context(), messages, [])
    assert answer.message.content == "It is the password."
    sent = json.dumps(stub.requests[0])
    assert [s for s in planted if leaked(s, sent)] == []
    assert MASK in sent and "exec_command" in sent     # the shape is still there


async def test_a_private_provider_still_sees_the_original() -> None:
    messages, planted = planted_conversation()
    model = ScriptedChatModel(script=[AIMessage(content="ok")], seen=[])
    local = Provider("ollama", "llama", True, make=lambda: model)
    await Gateway([local], no_audit).complete(context(sensitive=True), messages, [])
    seen = json.dumps([m.model_dump() for m in model.seen[0]], default=str)
    assert all(leaked(s, seen) for s in planted)


@pytest.fixture
async def r(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(database_url, sandbox, tmp_path) as made:
        yield made


async def test_secrets_in_pod_logs_never_reach_the_model_through_the_agent(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    pod = "web-app-7c9d8f6b5d-x2k9p"
    planted = DEV_SECRETS[1::6]
    logs = "".join(f"2026-12-02T10:00:{i % 60:02d}Z {text}\n" for i, (_, text) in
                   enumerate(planted))
    sandbox.call(lambda: sandbox.sc.cluster.logs.__setitem__(("shop", pod), {"web": {
        "current": logs}}))
    async with serve(WireStub([("tool", ("view_logs", {"pod": pod})),
                               ("text", "Logs read.")])) as stub:
        hosted = Provider("openai", "gpt-4o-mini", False, make=lambda: CompatChatOpenAI(
            model="gpt-4o-mini", base_url=f"{stub.url}/v1", api_key=SecretStr("sk-test"),
            max_retries=0, max_completion_tokens=1024))
        agent = UserChatAgent(r.identity, r.flow, r.envs,
                              Gateway([hosted], r.flow.store.record), Memory(r.engine))
        reply = await agent.handle(Ask("U0ALICE", "show the web logs", "dm:U0ALICE"))
    assert reply.tools_called[0].tool == "view_logs" and reply.tools_called[0].ok
    sent = json.dumps(stub.requests[1])
    assert "2026-12-02T10:00:00Z" in sent                  # the log lines did go out …
    assert [s for s, _ in planted if leaked(s, sent)] == []  # … without their secrets
