"""Build the LLM gateway's providers from settings (the composition root's job)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_ollama import ChatOllama
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from pydantic import SecretStr

from agents.gateway import Provider
from app.settings import Settings

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


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


def providers(settings: Settings) -> list[Provider]:
    built = []
    timeout, most = settings.llm_timeout_seconds, settings.llm_max_output_tokens
    for name in settings.llm_order():
        if name == "ollama":
            url, model = settings.ollama_url or DEFAULT_OLLAMA_URL, settings.ollama_model

            def ollama(url: str = url, model: str = model) -> BaseChatModel:
                return ChatOllama(base_url=url, model=model, temperature=0, num_predict=most,
                                  client_kwargs={"timeout": timeout})

            built.append(Provider("ollama", model, private=True, make=ollama, timeout=timeout))
        elif name == "openai" and settings.openai_api_key is not None:
            key, model = settings.openai_api_key, settings.openai_model
            base = settings.openai_base_url

            def openai(model: str = model, base: str = base, key: SecretStr = key,
                       version: str | None = settings.openai_api_version) -> BaseChatModel:
                if version:
                    return CompatAzureChatOpenAI(
                        azure_endpoint=base, azure_deployment=model, api_version=version,
                        api_key=key, temperature=0, timeout=timeout, max_retries=0,
                        max_completion_tokens=most, stream_usage=True)
                return CompatChatOpenAI(model=model, base_url=base, api_key=key, temperature=0,
                                        timeout=timeout, max_retries=0,
                                        max_completion_tokens=most, stream_usage=True)

            price_in, price_out = settings.llm_prices.get(model, (0.0, 0.0))
            built.append(Provider("openai", model, private=settings.openai_private,
                                  make=openai, timeout=timeout, price_in=price_in,
                                  price_out=price_out))
    return built
