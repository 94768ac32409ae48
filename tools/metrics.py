"""Process metrics (prometheus-client) in one registry, served at ``/metrics`` by the bot's
HTTP side server.

Most counters are derived from the audit stream — :func:`observe` sees every audit event as
the outbox writes it, so tool calls, LLM calls/tokens/cost and confirmation decisions are
counted in exactly one place and can never disagree with the audit trail.  Kubernetes API
errors are counted where they are mapped (``tools.kube.client``); Slack acks where Socket
Mode answers (``app.slack``); the confirmation and outbox gauges are read from Postgres when
scraped (``app.http``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tools.audit import AuditEvent

REGISTRY = CollectorRegistry(auto_describe=True)

TOOL_CALLS = Counter("hexabot_tool_calls", "Tool calls (reads run, writes planned) by outcome.",
                     ["tool", "effect", "outcome"], registry=REGISTRY)
LLM_CALLS = Counter("hexabot_llm_calls", "LLM calls by provider, model and outcome.",
                    ["provider", "model", "outcome"], registry=REGISTRY)
LLM_TOKENS = Counter("hexabot_llm_tokens", "LLM tokens by provider, model and direction.",
                     ["provider", "model", "direction"], registry=REGISTRY)
LLM_COST = Counter("hexabot_llm_cost_usd", "Estimated LLM cost in USD.", ["provider", "model"],
                   registry=REGISTRY)
DECISIONS = Counter("hexabot_confirmation_events", "Confirmation steps (propose, approve, "
                    "reject, execute …) by outcome.", ["step", "outcome"], registry=REGISTRY)
POLICY = Counter("hexabot_policy_decisions", "Guardrail evaluations by stage (plan, approve, "
                 "explain), decision and deciding rule.", ["stage", "decision", "rule"],
                 registry=REGISTRY)
KUBE_ERRORS = Counter("hexabot_kubernetes_api_errors", "Kubernetes API error answers by HTTP "
                      "status ('unreachable' when there was none).", ["code"],
                      registry=REGISTRY)
SLACK_EVENTS = Counter("hexabot_slack_events_received", "Socket Mode envelopes received.",
                       ["type"], registry=REGISTRY)
SLACK_ACKS = Counter("hexabot_slack_events_acked", "Socket Mode envelopes acknowledged.",
                     ["type"], registry=REGISTRY)
ACK_SECONDS = Histogram("hexabot_slack_ack_seconds", "From receiving a Socket Mode envelope "
                        "to acknowledging it (Slack wants < 3 s).", ["type"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
                        registry=REGISTRY)
GC_PAUSE = Histogram("hexabot_gc_pause_seconds", "Python's garbage collector holding the "
                     "process still, by generation (2: a full collection).", ["generation"],
                     buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
                     registry=REGISTRY)
BACKGROUND_ERRORS = Counter("hexabot_background_errors", "Unexpected errors in background work "
                            "(one bad row skipped by recovery, one failed loop iteration), by "
                            "loop.", ["loop"], registry=REGISTRY)
CONFIRMATIONS = Gauge("hexabot_confirmations", "Confirmations by state (read at scrape).",
                      ["state"], registry=REGISTRY)
OUTBOX_SIZE = Gauge("hexabot_audit_outbox_unshipped", "Audit events not yet in ClickHouse.",
                    registry=REGISTRY)
OUTBOX_LAG = Gauge("hexabot_audit_outbox_lag_seconds", "Age of the oldest unshipped audit "
                   "event (0 when none).", registry=REGISTRY)


def observe(event: AuditEvent) -> None:
    """Count what one audit event says happened."""
    kind, detail = event.kind, event.detail
    if kind in ("tool.read", "tool.write"):
        TOOL_CALLS.labels(str(detail.get("tool", "?")), kind[5:], event.outcome).inc()
    elif kind == "llm.call":
        provider, model = str(detail.get("provider", "?")), str(detail.get("model", "?"))
        LLM_CALLS.labels(provider, model, event.outcome).inc()
        for direction in ("input", "output"):
            LLM_TOKENS.labels(provider, model, direction).inc(
                float(detail.get(f"{direction}_tokens") or 0))
        LLM_COST.labels(provider, model).inc(float(detail.get("cost_usd") or 0))
    elif kind.startswith("confirmation."):
        DECISIONS.labels(kind.split(".", 1)[1], event.outcome).inc()
    elif kind == "policy.evaluate":
        POLICY.labels(str(detail.get("stage", "?")), str(detail.get("decision", "?")),
                      str(detail.get("rule") or "-")).inc()
