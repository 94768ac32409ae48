"""The LLM path against stubs as strict as real model servers (issue 21): every request is one
they accept (explicit tool_choice, max_tokens, content never null, schemas without keywords
llama.cpp's grammar builder rejects), answers about the cluster come from this turn's tools,
and a provider's error is one plain line for the person."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from agents.gateway import Provider
from app.api import routes
from app.llm import providers
from app.services import Services, open_services
from app.settings import load_settings
from tests.confirm_support import Rig
from tests.llm_stubs import STRICT_REFUSED, WireStub, serve
from tests.sandbox_support import ThreadedSandbox
from tests.test_agent import agent, ask, r
from tests.test_api import auth, server_sent_events
from tests.test_decision_service import _settings

__all__ = ["r"]  # the rig fixture


def built(stub: WireStub, tmp_path: Path, name: str = "openai",
          **extra: Any) -> list[Provider]:
    """The providers ``hexabot run`` builds from settings, pointed at ``stub``."""
    settings = load_settings(**{"database_url": "postgresql+asyncpg://x@127.0.0.1/x",
                                "directory_file": tmp_path / "directory.yaml", "llm": name,
                                "openai_api_key": "sk-test", "openai_base_url": f"{stub.url}/v1",
                                "openai_model": "smollm2", "ollama_url": stub.url,
                                "llm_max_output_tokens": 256, **extra})
    return providers(settings)


async def test_every_request_is_one_a_strict_server_accepts(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tool", ("list_pods", {})),
                               ("text", "checkout-worker is crash-looping.")])) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("what runs in shop?"))
    assert reply.mode == "llm" and reply.text.startswith("checkout-worker is crash-looping.")
    first, second = stub.requests
    assert first["tool_choice"] == "auto" and first["max_tokens"] == 256
    keywords = json.dumps([t["function"]["parameters"] for t in first["tools"]])
    assert not any(f'"{k}"' in keywords for k in STRICT_REFUSED)
    assistant = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant and all(m["content"] == "" for m in assistant if m.get("tool_calls"))


async def test_parallel_tool_calls_are_each_run_and_answered(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tools", [("list_pods", {}), ("list_services", {})]),
                               ("text", "Six pods behind two services.")])) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("what runs in shop?"))
    assert [c.tool for c in reply.tools_called] == ["list_pods", "list_services"]
    answered = [m["tool_call_id"] for m in stub.requests[1]["messages"] if m["role"] == "tool"]
    assert answered == ["call_1_0", "call_1_1"]
    # what the model is grounded on starts with the verdict, as command mode's answers do
    results = [m["content"] for m in stub.requests[1]["messages"] if m["role"] == "tool"]
    assert "verdict: 1 of 6 pods in shop is not healthy: checkout-worker-" in results[0]
    assert "verdict: Both Services in shop have ready endpoints." in results[1]


async def test_azure_openai_is_reached_by_deployment_and_api_version(
        r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tool", ("list_pods", {})), ("text", "all fine")])) as stub:
        azure = built(stub, tmp_path, openai_base_url=stub.url, openai_model="gpt4o-prod",
                      openai_api_version="2024-10-21")
        reply = await agent(r, *azure).handle(ask("what runs?"))
    assert reply.text.startswith("all fine")
    assert stub.paths[0] == ("/openai/deployments/gpt4o-prod/chat/completions"
                             "?api-version=2024-10-21")
    assert stub.requests[0]["tool_choice"] == "auto" and stub.requests[0]["max_tokens"] == 256


async def test_ollama_gets_an_output_cap(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tool", ("list_pods", {})), ("text", "all fine")])) as stub:
        reply = await agent(r, *built(stub, tmp_path, "ollama")).handle(ask("what runs?"))
    assert reply.text.startswith("all fine")
    assert all(body["options"]["num_predict"] == 256 for body in stub.requests)


async def test_an_answer_without_reading_the_cluster_is_asked_again_with_a_tool_required(
        r: Rig, tmp_path: Path) -> None:
    invented = "It is crashing due to a security vulnerability."
    async with serve(WireStub([("text", invented), ("tool", ("list_pods", {})),
                               ("text", "checkout-worker is OOMKilled.")])) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("why is my app crashing?"))
    assert [b["tool_choice"] for b in stub.requests] == [
        "auto", {"type": "function", "function": {"name": "troubleshoot_issues"}}, "auto"]
    assert reply.mode == "llm" and invented not in reply.text
    assert reply.tools_called[0].tool == "list_pods"


async def test_twice_ungrounded_answers_come_from_command_mode(r: Rig, tmp_path: Path) -> None:
    invented = "It is crashing due to a security vulnerability."
    async with serve(WireStub([("text", invented), ("text", invented)])) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("why is my app crashing?"))
    assert invented not in reply.text and reply.mode == "command"
    assert "answered without reading the cluster" in reply.text
    assert "OOMKilled Deployment shop/checkout-worker" in reply.text  # command mode's answer


async def test_small_talk_needs_no_tool(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("text", "Hello! Ask me about your cluster.")])) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("hi there"))
    assert reply.text.startswith("Hello!") and len(stub.requests) == 1


async def test_a_provider_error_is_one_plain_line(r: Rig, tmp_path: Path) -> None:
    dump = ("7 validation errors for CreateChatCompletionRequest\\nmessages.1.content\\n  "
            "Input should be a valid string [type=string_type] File \"/usr/lib/python3/"
            "site-packages/llama_cpp/server/app.py\", line 412")
    async with serve(WireStub([], fail=(500, dump))) as stub:
        reply = await agent(r, *built(stub, tmp_path)).handle(ask("how is my web app doing?"))
    assert "no LLM answered (openai failed with a server error (HTTP 500))" in reply.text
    assert "site-packages" not in reply.text and "validation" not in reply.text
    assert reply.mode == "command" and "deployment shop/web-app: 3/3 ready" in reply.text


async def test_small_model_mode_offers_only_the_tools_that_fit(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tool", ("analyze_performance", {"name": "api-service"})),
                               ("text", "api-service runs near its CPU limit.")])) as stub:
        bot = agent(r, *built(stub, tmp_path))
        bot.tool_routing = "routed"
        reply = await bot.handle(ask("why is api-service so slow?"))
    offered = [t["function"]["name"] for t in stub.requests[0]["tools"]]
    assert offered == ["analyze_performance"]
    assert reply.tools_called[0].tool == "analyze_performance"
    assert "analyze_performance" in stub.requests[0]["messages"][0]["content"]


async def stream_events(services: Services, message: str) -> list[tuple[str, dict[str, Any]]]:
    transport = httpx.ASGITransport(app=routes.build(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api/api/v1/ai") as api, \
            api.stream("POST", "/chat/stream", json={"message": message},
                       headers=auth("alice")) as response:
        return await server_sent_events(response)


async def test_the_chat_api_streams_the_answer_as_it_is_written_never_an_ungrounded_one(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    invented = "It is crashing due to a security vulnerability."
    async with serve(WireStub([("text", invented), ("tool", ("list_pods", {})),
                               ("text", "checkout-worker is crash-looping: OOMKilled.")])) as stub:
        settings = load_settings(**_settings(database_url, sandbox, tmp_path), llm="openai",
                                 openai_api_key="sk-test", openai_base_url=f"{stub.url}/v1",
                                 openai_model="m")
        async with open_services(settings) as services:
            events = await stream_events(services, "why is my app crashing?")
    kinds = [k for k, _ in events]
    assert kinds[0] == "session" and kinds[-1] == "answer" and "tool" in kinds
    streamed = "".join(d["text"] for k, d in events if k == "delta")
    assert streamed == "checkout-worker is crash-looping: OOMKilled."
    assert events[-1][1]["reply"].startswith(streamed)
    assert invented not in json.dumps(events)  # the first, ungrounded answer never shown
    # not streamed until a tool ran: an answer about the cluster may not be shown before
    assert [bool(body.get("stream")) for body in stub.requests] == [False, False, True]


async def test_a_turn_stops_at_its_output_budget(r: Rig, tmp_path: Path) -> None:
    async with serve(WireStub([("tool", ("list_pods", {}))] * 6)) as stub:
        bot = agent(r, *built(stub, tmp_path))
        bot.turn_output_tokens = 120  # each stub call writes 50
        reply = await bot.handle(ask("what runs in shop?"))
    assert reply.text.startswith("I stopped after 150 output tokens (the turn's budget is 120)")
    assert len(stub.requests) == 3 and [c.tool for c in reply.tools_called] == ["list_pods"] * 2
