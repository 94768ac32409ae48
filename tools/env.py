"""Where every door gets a person's :class:`~tools.spec.ToolEnv`: one factory, built once.

An environment is how tools reach the cluster *as someone*: their own client (credentials or
impersonation, cached per person by :class:`~tools.kube.client.ClusterClients`), the prices
cost estimates use, the optional Prometheus the performance analyses read and the optional
audit history ``recent_changes`` reads.  The composition root builds one :class:`Environments`
and hands it to the decision flow, the agent, the orchestrator and the CLI, so no layer has to
ask another for a way into the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.audit import AuditHistory
from tools.kube.client import ClusterClients
from tools.prometheus import Prometheus
from tools.security import SecurityContext
from tools.spec import Pricing, ToolEnv


@dataclass(frozen=True)
class Environments:
    clusters: ClusterClients
    pricing: Pricing = field(default_factory=Pricing)
    prometheus: Prometheus | None = None
    audit_history: AuditHistory | None = None

    def for_context(self, ctx: SecurityContext) -> ToolEnv:
        """``ctx``'s environment: their cluster client, prices, Prometheus, audit history."""
        return ToolEnv(ctx, self.clusters.for_context(ctx), self.pricing,
                       prometheus=self.prometheus, audit_history=self.audit_history)
