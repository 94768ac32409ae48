"""Build the LLM gateway's providers from settings (the composition root's job)."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_ollama import ChatOllama
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agents.gateway import Provider
from app.settings import Settings

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


def providers(settings: Settings) -> list[Provider]:
    built = []
    timeout = settings.llm_timeout_seconds
    for name in settings.llm_order():
        if name == "ollama":
            url, model = settings.ollama_url or DEFAULT_OLLAMA_URL, settings.ollama_model

            def ollama(url: str = url, model: str = model) -> BaseChatModel:
                return ChatOllama(base_url=url, model=model, temperature=0,
                                  client_kwargs={"timeout": timeout})

            built.append(Provider("ollama", model, private=True, make=ollama, timeout=timeout))
        elif name == "openai" and settings.openai_api_key is not None:
            key, model = settings.openai_api_key, settings.openai_model
            base = settings.openai_base_url

            def openai(model: str = model, base: str = base,
                       key: SecretStr = key) -> BaseChatModel:
                return ChatOpenAI(model=model, base_url=base, api_key=key, temperature=0,
                                  timeout=timeout, max_retries=0)

            price_in, price_out = settings.llm_prices.get(model, (0.0, 0.0))
            built.append(Provider("openai", model, private=settings.openai_private,
                                  make=openai, timeout=timeout, price_in=price_in,
                                  price_out=price_out))
    return built
