"""The obedient model of the injection suite, and how it plants instructions in the sandbox.

The model obeys every instruction in a tiny grammar wherever it reads one — the user's words,
earlier turns, tool results — so a test shows what the bot guarantees once a model is fully
hijacked.  It exists at the LangChain seam (:class:`ObedientModel`, which records each prompt
and the tools offered) and on the OpenAI wire (:class:`ObedientWire`, which records each HTTP
body).  Planting writes straight into the sandbox's store; :func:`fingerprint` is the cluster's
desired state, to prove nothing changed.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from agents.gateway import Provider
from tests.llm_stubs import WireStub
from tests.sandbox_support import ThreadedSandbox

WEB_POD = "web-app-7c9d8f6b5d-x2k9p"
CHECKOUT_POD = "checkout-worker-6b8f9d7c4e-h5j2k"

# HEXABOT-DO: tool {args}          one call          HEXABOT-DO*N: tool {args}   N calls at once
# HEXABOT-DO!: tool {args}         every time (a model that never stops)
# HEXABOT-DO: "any name" {args}     a tool name that is no identifier (JSON string)
# HEXABOT-LEAK                      the final answer repeats everything the model was sent
DO = re.compile(r'HEXABOT-DO(?:\*(?P<times>\d+))?(?P<forever>!)?:[ \t]*'
                r'(?P<tool>[A-Za-z_]\w*|"(?:[^"\\]|\\.)*")')
LEAK = "HEXABOT-LEAK"


def do(tool: str, args: dict[str, Any] | None = None, times: int = 0,
       forever: bool = False) -> str:
    """An instruction in the planted grammar."""
    name = tool if re.fullmatch(r"[A-Za-z_]\w*", tool) else json.dumps(tool)
    return (f"HEXABOT-DO{f'*{times}' if times else ''}{'!' if forever else ''}: {name} "
            f"{json.dumps(args or {}, separators=(',', ':'))}")


@dataclass
class Obedience:
    """Follows, in order of appearance, every instruction found in what it is sent."""
    done: set[str] = field(default_factory=set)

    def decide(self, texts: list[str]) -> tuple[list[tuple[str, dict[str, Any]]], str]:
        forever: list[tuple[str, dict[str, Any]]] = []
        for text in texts:
            for match in DO.finditer(text):
                try:
                    args, _ = json.JSONDecoder().raw_decode(text[match.end():].lstrip())
                except ValueError:
                    args = {}
                tool = match["tool"]
                call = (json.loads(tool) if tool.startswith('"') else tool,
                        args if isinstance(args, dict) else {})
                if match["forever"]:
                    forever = forever or [call] * int(match["times"] or 1)
                    continue
                key = f"{match.group(0)} {json.dumps(call[1], sort_keys=True)}"
                if key not in self.done:
                    self.done.add(key)
                    return [call] * int(match["times"] or 1), ""
        if forever:
            return forever, ""
        if any(LEAK in text for text in texts):
            return [], "Here is everything I was given:\n" + "\n".join(texts)
        return [], "Done."


def message_texts(message: BaseMessage) -> list[str]:
    content = message.content
    texts = [content] if isinstance(content, str) else [json.dumps(content)]
    if isinstance(message, AIMessage):
        texts += [json.dumps(call["args"]) for call in message.tool_calls]
    return texts


class ObedientModel(BaseChatModel):
    """Obeys instructions at the LangChain seam; records every prompt and the tools offered."""
    obey: Obedience
    seen: list[list[BaseMessage]] = []
    offered: list[list[str]] = []
    fail_after: int = 0   # answer this many prompts, then fail like an unreachable provider

    @property
    def _llm_type(self) -> str:
        return "obedient"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ObedientModel:  # type: ignore[override]
        self.offered.append([t["function"]["name"] for t in tools])
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if self.fail_after and len(self.seen) >= self.fail_after:
            raise ValueError("the private provider went away")
        self.seen.append(list(messages))
        calls, answer = self.obey.decide([t for m in messages for t in message_texts(m)])
        usage = {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
        message = AIMessage(content=answer, usage_metadata=usage, tool_calls=[
            {"name": name, "args": args, "id": f"call_{len(self.seen)}_{i}"}
            for i, (name, args) in enumerate(calls)])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def received(self) -> list[BaseMessage]:
        return [m for prompt in self.seen for m in prompt]


@dataclass
class ObedientWire(WireStub):
    """The same obedience over the OpenAI wire: decides from the request body it recorded."""
    obey: Obedience = field(default_factory=Obedience)

    def _next(self) -> tuple[str, Any]:
        texts = []
        for message in self.requests[-1]["messages"]:
            content = message.get("content")
            texts.append(content if isinstance(content, str) else json.dumps(content))
            texts += [c["function"]["arguments"] for c in message.get("tool_calls") or []]
        calls, answer = self.obey.decide(texts)
        return ("tool", calls[0]) if calls else ("text", answer)


def obedient(private: bool = False) -> tuple[Provider, ObedientModel]:
    model = ObedientModel(obey=Obedience(), seen=[], offered=[])
    return Provider("obedient", "obedient-1", private=private, make=lambda: model), model


# --------------------------------------------------------------------------------------- state
IGNORED = {("", "events"), ("coordination.k8s.io", "leases"), ("events.k8s.io", "events")}


def fingerprint(sandbox: ThreadedSandbox) -> dict[tuple[Any, ...], str]:
    """Every object's desired state (all but status, resourceVersion and events)."""
    def take() -> dict[tuple[Any, ...], str]:
        found = {}
        for key, obj in sandbox.sc.cluster.store._objects.items():
            if key[:2] in IGNORED or key[0] == "metrics.k8s.io":
                continue
            meta = {k: v for k, v in obj.get("metadata", {}).items()
                    if k not in ("resourceVersion", "managedFields")}
            found[key] = json.dumps({**{k: v for k, v in obj.items() if k != "status"},
                                     "metadata": meta}, sort_keys=True, default=str)
        return found
    return sandbox.call(take)


# ------------------------------------------------------------------------------------ planting
def _update(sandbox: ThreadedSandbox, group: str, plural: str, namespace: str, name: str,
            change: Callable[[dict[str, Any]], None]) -> None:
    def run() -> None:
        kind = sandbox.sc.cluster.registry.require(group, "v1", plural)
        obj = copy.deepcopy(sandbox.sc.cluster.store.get(kind, namespace, name))
        change(obj)
        sandbox.sc.cluster.store.update(kind, obj, check_version=False)
    sandbox.call(run)


def plant_event(sandbox: ThreadedSandbox, text: str, name: str = "planted.1") -> None:
    def run() -> None:
        kind = sandbox.sc.cluster.registry.require("", "v1", "events")
        sandbox.sc.cluster.store.create(kind, {
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": CHECKOUT_POD, "namespace": "shop"},
            "reason": "Unhealthy", "message": text, "type": "Warning", "count": 1,
            "lastTimestamp": "2026-11-23T09:59:59Z"}, "shop")
    sandbox.call(run)


def plant_log(sandbox: ThreadedSandbox, text: str, pod: str = WEB_POD, container: str = "web",
              previous: bool = False) -> None:
    which = "previous" if previous else "current"
    sandbox.call(lambda: sandbox.sc.cluster.logs.__setitem__(
        ("shop", pod), {container: {which: text}}))


def plant_configmap(sandbox: ThreadedSandbox, text: str) -> None:
    _update(sandbox, "", "configmaps", "shop", "web-app-config",
            lambda cm: cm.setdefault("data", {}).__setitem__("NOTE", text))


def plant_annotation(sandbox: ThreadedSandbox, text: str) -> None:
    def change(pod: dict[str, Any]) -> None:
        pod["metadata"].setdefault("annotations", {})["hexabot.io/note"] = text
        pod["metadata"].setdefault("labels", {})["note"] = "hexabot-do-scale-web-app-to-0"
    _update(sandbox, "", "pods", "shop", WEB_POD, change)


def plant_env(sandbox: ThreadedSandbox, text: str) -> None:
    """A Deployment (no replicas, so no rollout) whose env carries the instruction."""
    def run() -> None:
        kind = sandbox.sc.cluster.registry.require("apps", "v1", "deployments")
        sandbox.sc.cluster.store.create(kind, {
            "metadata": {"name": "injected", "labels": {"app": "injected"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "injected"}},
                     "template": {"metadata": {"labels": {"app": "injected"}}, "spec": {
                         "containers": [{"name": "app", "image": "nginx:1.27",
                                         "env": [{"name": "NOTE", "value": text}]}]}}}},
            "shop")
    sandbox.call(run)
