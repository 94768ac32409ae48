"""Stand-ins for LLMs: a scripted chat model at the LangChain seam, and loopback HTTP stubs of
the OpenAI chat-completions and Ollama /api/chat wire formats that record every request."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tests.services import serve_app


class ScriptedChatModel(BaseChatModel):
    """Answers with the next scripted message; records what it was sent."""
    script: list[AIMessage]
    seen: list[list[BaseMessage]] = []
    loop_forever: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        message = self.script[0] if self.loop_forever else self.script.pop(0)
        return ChatResult(generations=[ChatGeneration(message=message)])


def call(name: str, args: dict[str, Any], call_id: str = "c1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}],
                     usage_metadata={"input_tokens": 100, "output_tokens": 10,
                                     "total_tokens": 110})


def say(text: str) -> AIMessage:
    return AIMessage(content=text, usage_metadata={"input_tokens": 120, "output_tokens": 20,
                                                   "total_tokens": 140})


# What strict OpenAI-compatible servers refuse in a tool schema (llama.cpp's grammar builder
# fails on a regex ``pattern``; others reject keywords they do not know).
STRICT_REFUSED = ("pattern", "format", "$ref", "$defs", "anyOf", "title", "default")


def _keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keywords(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keywords(v)}
    return set()


def strict_openai_problems(body: dict[str, Any]) -> list[str]:
    """Why a strict server would refuse ``body``: an assistant message with null content, tools
    without an explicit ``tool_choice``, no ``max_tokens``, unsupported schema keywords."""
    messages = body.get("messages", [])
    problems = [f"messages[{i}].content is null" for i, m in enumerate(messages)
                if m.get("content") is None]
    asked = {c["id"] for m in messages for c in m.get("tool_calls") or []}
    problems += [f"messages[{i}]: tool_call_id {m.get('tool_call_id')!r} answers no call"
                 for i, m in enumerate(messages)
                 if m.get("role") == "tool" and m.get("tool_call_id") not in asked]
    if body.get("tools"):
        if "tool_choice" not in body:
            problems.append("tools without tool_choice")
        for tool in body["tools"]:
            bad = _keywords(tool["function"].get("parameters")) & set(STRICT_REFUSED)
            if bad:
                problems.append(f"{tool['function']['name']}: unsupported {sorted(bad)}")
    if not body.get("max_tokens"):
        problems.append("no max_tokens")
    return problems


@dataclass
class WireStub:
    """Scripted answers, as (tool name, args) or plain text, in either wire format.  As strict
    as real servers: a request they would refuse is answered with their kind of error."""
    script: list[tuple[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    hang: bool = False
    url: str = ""
    strict: bool = True
    fail: tuple[int, str] | None = None  # always answer this status and body
    paths: list[str] = field(default_factory=list)

    def _next(self) -> tuple[str, Any]:
        return self.script.pop(0)

    async def openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.path_qs)
        if self.hang:
            await asyncio.sleep(60)
        if self.fail is not None:
            return web.json_response({"error": {"message": self.fail[1]}}, status=self.fail[0])
        problems = strict_openai_problems(body) if self.strict else []
        if problems:
            return web.json_response({"error": {"message": "; ".join(problems),
                                                "type": "invalid_request_error"}}, status=400)
        kind, value = self._next()
        if body.get("stream"):
            return await self._openai_stream(request, body, kind, value)
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if kind in ("tool", "tools"):  # "tools": several calls at once (parallel)
            calls = [value] if kind == "tool" else value
            message["tool_calls"] = [{"id": f"call_{len(self.requests)}_{i}", "type": "function",
                                      "function": {"name": name, "arguments": json.dumps(args)}}
                                     for i, (name, args) in enumerate(calls)]
            kind = "tool"
        else:
            message["content"] = value
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if kind == "tool" else "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}})

    async def _openai_stream(self, request: web.Request, body: dict[str, Any], kind: str,
                             value: Any) -> web.StreamResponse:
        """Server-Sent Events as OpenAI streams them: text in pieces, a tool call in one
        delta, the usage last when asked for (``stream_options.include_usage``)."""
        head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                "model": body["model"]}
        if kind == "tool":
            name, args = value
            deltas = [{"role": "assistant", "tool_calls": [{
                "index": 0, "id": f"call_{len(self.requests)}", "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)}}]}]
        else:
            words = str(value).split(" ")
            deltas = [{"role": "assistant", "content": ""}] + [
                {"content": w + ("" if i == len(words) - 1 else " ")}
                for i, w in enumerate(words)]
        chunks = [{**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                  for d in deltas]
        chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason":
                                            "tool_calls" if kind == "tool" else "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**head, "choices": [], "usage": {
                "prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def ollama(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        kind, value = self._next()
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if kind == "tool":
            name, args = value
            message["tool_calls"] = [{"function": {"name": name, "arguments": args}}]
        else:
            message["content"] = value
        chunks = [{"model": body["model"], "created_at": "2026-11-23T10:00:00Z",
                   "message": message, "done": False},
                  {"model": body["model"], "created_at": "2026-11-23T10:00:01Z",
                   "message": {"role": "assistant", "content": ""}, "done": True,
                   "done_reason": "stop", "prompt_eval_count": 800, "eval_count": 40}]
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write((json.dumps(chunk) + "\n").encode())
        await response.write_eof()
        return response


@contextlib.asynccontextmanager
async def serve(stub: WireStub) -> AsyncIterator[WireStub]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", stub.openai)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", stub.openai)
    app.router.add_post("/api/chat", stub.ollama)
    async with serve_app(app) as url:
        stub.url = url
        yield stub
