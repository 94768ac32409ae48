"""The composition root: build every service once from settings, tear them down together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from agents.agent import UserChatAgent
from agents.command import CommandMode
from agents.followup import Follower
from agents.gateway import Gateway
from agents.memory import Memory
from agents.orchestrator.runs import RunStore
from agents.orchestrator.service import Orchestrator
from agents.orchestrator.workflow import WorkflowError
from app import migrate
from app.database import Database, open_database
from app.decisions import DecisionService
from app.identity import static
from app.identity.crypto import Sealer
from app.identity.hexabase import HexabaseDirectory, LinkFlow
from app.identity.model import Directory
from app.identity.service import IdentityService
from app.identity.store import IdentityStore
from app.llm import providers
from app.settings import ConfigError, Settings
from confirmations import rules
from confirmations.flow import WRITE_TOOLS, DecisionFlow
from confirmations.history import OutboxHistory
from confirmations.lease import Leasing, process_id
from confirmations.source import PolicySource
from confirmations.store import ConfirmationStore
from tools.env import Environments
from tools.kube.client import ClusterClients
from tools.prometheus import Prometheus
from tools.spec import Pricing


@dataclass
class Services:
    settings: Settings
    database: Database
    identity: IdentityService
    store: IdentityStore
    link_flow: LinkFlow | None
    clusters: ClusterClients
    envs: Environments  # every door's way into the cluster as a person (ToolEnv)
    confirmations: DecisionFlow
    agent: UserChatAgent
    orchestrator: Orchestrator
    decisions: DecisionService  # after every decision; ``hexabot run`` installs Slack's notifier
    http_url: str = ""  # the HTTP server's, once `hexabot run` or `serve-api` serves it
    api_url: str = ""   # the chat API's, when served


def build_directory(settings: Settings, store: IdentityStore) -> tuple[Directory, LinkFlow | None]:
    if settings.identity_provider == "hexabase":
        assert settings.encryption_key is not None  # settings refuse hexabase without one
        sealer = Sealer(settings.encryption_key.get_secret_value())
        flow = LinkFlow(settings, store, sealer)
        return HexabaseDirectory(store, sealer), flow
    if settings.directory_file is None:
        raise ConfigError(["HEXABOT_DIRECTORY_FILE: the static identity provider needs a "
                           "directory YAML file (or pass --directory FILE)"])
    try:
        return static.load(settings.directory_file), None
    except static.DirectoryError as exc:
        raise ConfigError([f"HEXABOT_DIRECTORY_FILE: {exc}"]) from exc


def load_policy(settings: Settings) -> PolicySource:
    """The guardrail policy from HEXABOT_POLICY_FILE (or the built-in one), checked whole;
    re-read when the file changes."""
    try:
        return PolicySource(settings.policy_file, WRITE_TOOLS)
    except rules.PolicyError as exc:
        raise ConfigError([f"HEXABOT_POLICY_FILE: {line}" for line in str(exc).splitlines()]
                          ) from exc


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    guardrails = load_policy(settings)  # a bad policy file stops us before anything starts
    async with open_database(settings) as database:
        await migrate.migrate(database.engine)
        store = IdentityStore(database.engine)
        directory, flow = build_directory(settings, store)
        clusters = ClusterClients()
        identity = IdentityService(directory, store)
        envs = Environments(clusters,
                            Pricing(settings.price_vcpu_hour, settings.price_gib_hour),
                            prometheus=Prometheus(
                                settings.prometheus_url,
                                latency_query=settings.prometheus_latency_query,
                                error_query=settings.prometheus_error_query)
                            if settings.prometheus_url else None,
                            audit_history=OutboxHistory(database.engine))
        decisions = DecisionFlow(ConfirmationStore(database.engine), identity, envs,
                                 ttl=timedelta(minutes=settings.approval_ttl_minutes),
                                 guardrails=guardrails,
                                 leasing=Leasing(process_id(), timedelta(
                                     seconds=settings.execution_lease_seconds),
                                     settings.execution_lease_seconds / 6))
        gateway = Gateway(providers(settings), decisions.store.record, settings.llm_routes)
        memory = Memory(database.engine, settings.memory_budget_tokens,
                        timedelta(hours=settings.memory_ttl_hours))
        try:
            orchestrator = Orchestrator(identity, decisions, envs,
                                        RunStore(database.engine),
                                        workflows_dir=settings.workflows_dir)
        except WorkflowError as exc:
            where = "HEXABOT_WORKFLOWS_DIR" if settings.workflows_dir else "workflow templates"
            raise ConfigError([f"{where}: {exc}"]) from exc
        agent = UserChatAgent(identity, decisions, envs, gateway, memory,
                              command=CommandMode(orchestrator), tool_routing=settings.llm_tools,
                              turn_output_tokens=settings.llm_turn_output_tokens)
        follower = Follower(database.engine, identity, decisions, envs,
                            timeout=settings.follow_timeout_seconds,
                            lease=max(30.0, 3 * settings.sweep_interval_seconds))
        try:
            yield Services(settings=settings, database=database, identity=identity,
                           store=store, link_flow=flow, clusters=clusters, envs=envs,
                           confirmations=decisions, agent=agent,
                           orchestrator=orchestrator,
                           decisions=DecisionService(orchestrator, decisions.store,
                                                     follower=follower))
        finally:
            clusters.close()
