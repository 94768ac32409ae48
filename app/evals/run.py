"""Running the scenarios: the demo's sandbox cluster and directory, Hexabot's own services
(embedded PostgreSQL by default), one question per scenario as its person, the checks, the
time and the model tokens of each (from the turn's audit events)."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml
from langchain_core.messages import HumanMessage, SystemMessage

from agents.types import Ask, Reply
from app.evals import Outcome, Scenario, check
from app.services import Services, open_services
from app.settings import Settings
from sandbox.directory import demo_directory
from sandbox.kube.serve import sandbox_cluster

PROVIDERS = {"command": "off", "ollama": "ollama", "openai": "openai"}
JUDGE = ("You grade a Kubernetes assistant's answer. Reply with one word, yes or no: does the "
         "answer below satisfy this requirement? Requirement: {wording}")


async def run(settings: Settings, scenarios: list[Scenario], provider: str = "command",
              judge: bool = False) -> list[Outcome]:
    """Every scenario against ``provider`` (``command``, ``ollama`` or ``openai``, as
    configured in ``settings``)."""
    async with sandbox_cluster(pod_start_delay=0.2) as sc:
        with tempfile.TemporaryDirectory(prefix="hexabot-eval-") as tmp:
            path = Path(tmp) / "directory.yaml"
            path.write_text(yaml.safe_dump(demo_directory(sc)))
            chosen = settings.model_copy(update={"directory_file": path,
                                                 "llm": PROVIDERS[provider]})
            async with open_services(chosen) as services:
                return [await _one(services, scenario, judge) for scenario in scenarios]


async def _one(services: Services, scenario: Scenario, judge: bool) -> Outcome:
    ask = Ask(scenario.who, scenario.question, f"eval:{uuid.uuid4().hex}")
    began = time.perf_counter()
    reply = await services.agent.handle(ask)
    seconds = time.perf_counter() - began
    pending = True
    for proposal in reply.proposals:
        action = await services.confirmations.store.get(proposal.id)
        pending = pending and action is not None and action.state.value == "pending"
    failures = check(scenario, reply, pending)
    if judge and scenario.expect.wording:
        failures += await _judged(services, scenario, reply)
    tokens_in, tokens_out = await _tokens(services, ask.request_id)
    return Outcome(scenario.name, not failures, failures, seconds, tokens_in, tokens_out,
                   reply.mode, [c.tool for c in reply.tools_called],
                   [p.tool for p in reply.proposals])


async def _tokens(services: Services, request_id: str) -> tuple[int, int]:
    query = sa.text("SELECT event FROM audit_outbox WHERE event->>'kind' = 'llm.call' "
                    "AND event->>'request_id' = :rid")
    async with services.database.engine.connect() as conn:
        rows = (await conn.execute(query, {"rid": request_id})).all()
    details = [(row[0] if isinstance(row[0], dict) else json.loads(row[0])).get("detail", {})
               for row in rows]
    return (sum(int(d.get("input_tokens", 0)) for d in details),
            sum(int(d.get("output_tokens", 0)) for d in details))


async def _judged(services: Services, scenario: Scenario, reply: Reply) -> list[str]:
    """The optional LLM-as-judge for the wording (the same provider grades)."""
    gateway = services.agent.gateway
    if gateway is None or not gateway.providers:
        return ["--judge needs an LLM provider; none is configured"]
    ctx = await services.identity.context(scenario.who)
    graded = await gateway.complete(ctx, [SystemMessage(JUDGE.format(
        wording=scenario.expect.wording)), HumanMessage(reply.text)], [])
    verdict = str(graded.message.content).strip().lower()
    return [] if verdict.startswith("yes") else [f"wording: the judge said {verdict[:40]!r} to "
                                                 f"{scenario.expect.wording!r}"]
