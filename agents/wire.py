"""What goes over the wire to model servers, in the form every one of them accepts.

- Tool schemas are reduced to the JSON Schema keywords OpenAI, Azure OpenAI, vLLM, llama.cpp,
  LM Studio and Ollama all take: ``type``, ``description``, ``properties``, ``required``,
  ``items``, ``enum``, ``minimum``, ``maximum`` — references inlined, ``Optional`` unwrapped.
  Regex ``pattern`` (llama.cpp's grammar builder rejects ``\\.``), ``format``, ``title`` and
  defaults stay on our side: pydantic validates every argument before a tool runs.
- Provider errors become one plain line for the person (which provider, what kind of
  failure); the server's own words, which may hold paths or dumps, go to the log only.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import httpx

log = logging.getLogger("hexabot.llm")
KEPT = ("type", "description", "properties", "required", "items", "enum", "minimum",
        "maximum")


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (pydantic's JSON Schema) in the portable subset, references inlined."""
    definitions = schema.get("$defs") or {}

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = definitions.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        if "anyOf" in node:  # Optional[X] → X; a real union → its first branch, described
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            merged = {**(walk(branches[0]) if branches else {"type": "string"}),
                      **({"description": node["description"]} if "description" in node
                         else {})}
            return merged
        out: dict[str, Any] = {}
        for key in KEPT:
            if key not in node:
                continue
            value = node[key]
            if key == "properties":
                value = {name: walk(prop) for name, prop in value.items()}
            elif key == "items":
                value = walk(value)
            elif key == "type" and isinstance(value, list):
                value = next((t for t in value if t != "null"), "string")
            out[key] = value
        if out.get("type") == "object" and "properties" not in out:
            out["properties"] = {}
        return out

    return walk({k: v for k, v in schema.items() if k != "$defs"})


def plain(exc: BaseException, provider: str, timeout: float) -> str:
    """One line about a failed model call: what kind of failure, never the server's words."""
    sdk = sys.modules.get("openai")  # its errors exist only once a provider has loaded it
    if isinstance(exc, TimeoutError | httpx.TimeoutException) or (
            sdk is not None and isinstance(exc, sdk.APITimeoutError)):
        what = f"did not answer within {timeout:g} s"
    elif isinstance(exc, httpx.ConnectError | OSError) or (
            sdk is not None and isinstance(exc, sdk.APIConnectionError)):
        what = "could not be reached"
    elif sdk is not None and isinstance(exc, sdk.AuthenticationError | sdk.PermissionDeniedError):
        what = "refused our credentials"
    elif sdk is not None and isinstance(exc, sdk.RateLimitError):
        what = "is rate limiting us"
    elif sdk is not None and isinstance(exc, sdk.APIStatusError):
        what = (f"failed with a server error (HTTP {exc.status_code})" if exc.status_code >= 500
                else f"refused the request (HTTP {exc.status_code})")
    elif isinstance(exc, json.JSONDecodeError | ValueError):
        what = "answered with something that is not a valid reply"
    else:
        what = f"failed ({type(exc).__name__})"
    log.warning("LLM provider %s failed: %s: %s", provider, type(exc).__name__,
                str(exc)[:2000])
    return f"{provider} {what}"
