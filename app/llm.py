"""Build the LLM gateway's providers from settings (the composition root's job).

The model clients are imported when a provider is first used, not here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from agents.gateway import Provider
from app.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


def providers(settings: Settings) -> list[Provider]:
    built = []
    timeout, most = settings.llm_timeout_seconds, settings.llm_max_output_tokens
    for name in settings.llm_order():
        if name == "ollama":
            url, model = settings.ollama_url or DEFAULT_OLLAMA_URL, settings.ollama_model

            def ollama(url: str = url, model: str = model) -> BaseChatModel:
                from langchain_ollama import ChatOllama  # lazily: see app.llm_compat

                return ChatOllama(base_url=url, model=model, temperature=0, num_predict=most,
                                  client_kwargs={"timeout": timeout})

            built.append(Provider("ollama", model, private=True, make=ollama, timeout=timeout))
        elif name == "openai" and settings.openai_api_key is not None:
            key, model = settings.openai_api_key, settings.openai_model
            base = settings.openai_base_url

            def openai(model: str = model, base: str = base, key: SecretStr = key,
                       version: str | None = settings.openai_api_version) -> BaseChatModel:
                from app.llm_compat import CompatAzureChatOpenAI, CompatChatOpenAI

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
