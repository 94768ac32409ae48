"""The agent against a real model server (issue 21, opt-in): `make llm-local` serves
SmolLM2-135M-Instruct through llama-cpp-python's OpenAI-style server; `make llm-test` runs this
with HEXABOT_LLM_LOCAL_URL set.  Wire only — a 135M model picks tools poorly, so what is checked
is that every request is accepted, every tool call is parsed and run as the user, and nothing
is executed without an approval; answers are recorded, not judged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agents.gateway import Provider
from app.llm import providers
from app.settings import load_settings
from tests.confirm_support import Rig
from tests.sandbox_support import ThreadedSandbox
from tests.test_agent import agent, ask, r

__all__ = ["r"]
URL = os.environ.get("HEXABOT_LLM_LOCAL_URL", "")
QUESTIONS = ("How is my web app doing?", "My API is slow, can you scale it up?",
             "Set up backups for my database", "My app keeps crashing", "show me the pods")
pytestmark = [pytest.mark.llm_local,
              pytest.mark.skipif(not URL, reason="HEXABOT_LLM_LOCAL_URL is not set: start a "
                                 "model server with `make llm-local`, then `make llm-test`")]


def local(tmp_path: Path) -> list[Provider]:
    return providers(load_settings(
        database_url="postgresql+asyncpg://x@127.0.0.1/x",
        directory_file=tmp_path / "directory.yaml", llm="openai", openai_api_key="sk-local",
        openai_base_url=URL, openai_model="smollm2", openai_private=True,
        llm_timeout_seconds=300, llm_max_output_tokens=256))


@pytest.mark.timeout(1800)
async def test_the_agent_end_to_end_against_a_real_model_server(
        r: Rig, sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    before = sandbox.obj("apps", "v1", "deployments", "shop", "api-service")
    bot = agent(r, *local(tmp_path))
    record = []
    for question in QUESTIONS:
        reply = await bot.handle(ask(question))
        assert "no LLM answered" not in reply.text, reply.text  # every request accepted
        refused = [c for c in reply.tools_called if not c.ok]  # a reason, never a traceback
        assert all(c.text.strip() and "Traceback" not in c.text for c in refused), refused
        record.append({"question": question, "mode": reply.mode,
                       "tools": [c.tool for c in reply.tools_called],
                       "proposals": [p.tool for p in reply.proposals],
                       "answer": reply.text[:400]})
    after = sandbox.obj("apps", "v1", "deployments", "shop", "api-service")
    assert after["spec"] == before["spec"]  # proposals only: nothing executed
    rows = await r.rows("SELECT count(*) AS n FROM pending_actions WHERE state <> 'pending'")
    assert rows[0]["n"] == 0
    audited = await r.rows("SELECT count(*) AS n FROM audit_outbox WHERE event->>'kind' IN "
                           "('tool.read', 'tool.write', 'tool.refused', 'confirmation.propose')")
    assert audited[0]["n"] >= sum(len(x["tools"]) for x in record)  # each call was audited
    save(Path(os.environ.get("HEXABOT_LLM_LOCAL_RECORD", tmp_path / "llm_local.json")), record)


def save(path: Path, record: list[dict[str, object]]) -> None:
    path.write_text(json.dumps(record, indent=2))
