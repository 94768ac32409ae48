"""What people read carries no Python: every answer command mode gives over the demo fixture —
reads, analyses, proposals, refusals — is free of reprs (``{'cpu': …}``, ``['a']``, ``None``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.agent import UserChatAgent
from agents.memory import Memory
from agents.types import Ask
from tests.confirm_support import rig
from tests.sandbox_support import ThreadedSandbox

REPR = re.compile(r"\{'|\['|'\]|'\}|', '|\bNone\b|\bTrue\b|\bFalse\b|<[\w.]+ object at 0x"
                  r"|\bdict\(|\bdatetime\.")

REQUESTS = [
    "How is my web app doing?", "My API is slow, can you scale it up?",
    "Set up backups for my database", "My app keeps crashing", "pods", "pods -n shop-staging",
    "usage", "services", "events", "events web-app", "changes", "status web-app",
    "status api-service", "status checkout-worker", "status user-db", "logs web-app",
    "logs checkout-worker --previous", "troubleshoot", "performance", "optimize",
    "backup strategy for user-db", "scale web-app 4", "restart api-service",
    "set LOG_LEVEL=debug in web-config", "delete cronjob nightly-report", "rollback web-app",
    "exec web-app -- df -h", "help", "what is going on with checkout-worker",
    "scale nothing-here 3", "status missing", "pods -n kube-system",
]


@pytest.fixture
async def agent(database_url: str, sandbox: ThreadedSandbox,
                tmp_path: Path) -> AsyncIterator[UserChatAgent]:
    async with rig(database_url, sandbox, tmp_path) as r:
        yield UserChatAgent(r.identity, r.flow, r.envs, None, Memory(r.engine))


@pytest.mark.parametrize("who", ["U0ALICE", "U0CAROL"])
async def test_no_answer_shows_python(agent: UserChatAgent, who: str) -> None:
    leaks = []
    for text in REQUESTS:
        reply = await agent.handle(Ask(who, text, f"dm:{who}"))
        shown = [reply.text, *(p.summary for p in reply.proposals),
                 *(p.diff for p in reply.proposals), *reply.suggestions]
        leaks += [(text, m.group(), part[max(0, m.start() - 40):m.end() + 40])
                  for part in shown for m in REPR.finditer(part)]
    assert not leaks, "\n".join(f"{t!r}: {g!r} in …{c}…" for t, g, c in leaks)


def test_the_detector_sees_reprs() -> None:
    for leak in ["requests {'cpu': '200m'}", "keys ['a', 'b']", "owner None", "set ['A']",
                 "ready True", "<agents.types.Reply object at 0x7f>"]:
        assert REPR.search(leak), leak
    for fine in ["requests cpu 200m, memory 256Mi", "3/3 ready", "keys a, b",
                 "image: nginx:1.27", "Nonexistent", "the namespace 'kube-system': yours"]:
        assert not REPR.search(fine), fine
