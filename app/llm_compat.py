"""Chat models for OpenAI-compatible servers (imported only when a provider is built: LangChain
and the OpenAI SDK take most of a second to import, which every CLI call would pay)."""

from __future__ import annotations

from typing import Any

from langchain_openai import AzureChatOpenAI, ChatOpenAI


class _Compatible:
    """Requests every OpenAI-compatible server takes: an assistant message that carries tool
    calls has ``content: ""``, never ``null`` (llama.cpp's server answers a null with HTTP
    500), and the output cap goes as ``max_tokens`` — the field llama.cpp, vLLM, LM Studio and
    Azure all read (``max_completion_tokens``, which LangChain sends, is ignored by some, and
    a small model then writes until its context is full)."""

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload(  # type: ignore[misc]
            input_, stop=stop, **kwargs)
        for message in payload.get("messages") or []:
            if message.get("content") is None:
                message["content"] = ""
        if "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload


class CompatChatOpenAI(_Compatible, ChatOpenAI):
    """OpenAI, vLLM, llama.cpp, LM Studio: any OpenAI-compatible endpoint."""


class CompatAzureChatOpenAI(_Compatible, AzureChatOpenAI):
    """Azure OpenAI: the resource's endpoint, a deployment and an API version."""
