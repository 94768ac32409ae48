"""Hexabot's errors: one tree, rooted here at the bottom layer so every layer may raise and catch.

Every domain error carries a ``code`` (a short machine string: the chat API's ``error.code``, a
log field) and a ``message`` written for the person who acted.  An error that means "a
dependency is down" also names it in ``dependency`` (``postgres``, ``kubernetes``,
``clickhouse``), so each door can say what failed and what still works.

    HexabotError                  code                     defined in
    ├── ToolError                 tool_error               tools.errors: a failed tool result
    │   ├── InvalidArguments      invalid_arguments        bad tool arguments (names, namespaces
    │   │                                                  outside the user's, ...)
    │   ├── Forbidden             forbidden                403: names the missing permission;
    │   │                                                  never retried as someone else
    │   ├── NotFound              not_found                404
    │   ├── Conflict              conflict                 409: changed since the plan (or exists)
    │   ├── RateLimited           rate_limited             429: reads back off per Retry-After
    │   ├── Unavailable           kubernetes_unavailable   5xx, timeouts, unreachable API server
    │   ├── PlanRefused           plan_refused             a write not allowed as planned
    │   └── PartiallyApplied      partially_applied        a multi-object write stopped part-way:
    │                                                      names what was and was not applied,
    │                                                      carries the plan that undoes it
    ├── IdentityError             identity                 app.identity.service (also a
    │   ├── UnknownUser           unknown_user             LookupError): refusals meant for
    │   └── NotAllowed            not_allowed              the user
    ├── ConfigError               config                   app.settings: one line per problem
    ├── MigrationsMissing         migrations_missing       app.migrate: a broken installation
    ├── DatabaseUnavailable       database_unavailable     app.database: PostgreSQL down
    ├── ClickHouseUnavailable     clickhouse_unavailable   app.audit.clickhouse: ClickHouse down
    ├── OutboxMissing             outbox_missing           app.audit.shipper: not migrated yet
    ├── ClusterUnreachable        cluster_unreachable      tools.kube.client: no API server or
    │                                                      an unusable kubeconfig (kubernetes)
    ├── NoProviderAnswered        llm_unavailable          agents.gateway: every LLM failed;
    │                                                      the agent answers in command mode
    ├── PolicyError               policy_invalid           confirmations.rules: names file, path
    ├── WorkflowError             workflow_invalid         agents.orchestrator.workflow (also a
    │                                                      ValueError): names file and step
    ├── DirectoryError            directory_invalid        app.identity.static (also ValueError)
    ├── LinkFailed                link_failed              app.identity.hexabase: linking failed
    └── HexabaseError             hexabase                 app.identity.hexabase: the platform
        └── Relink                                         refused; Relink: link again

Each layer raises its own classes ``from`` the transport error, once, at its client boundary
(the tools map the API server's ``Status`` in :func:`from_status`; every mapped error keeps the
API server's message, its HTTP ``status`` and its ``Audit-Id`` for the audit trail).  Anything
that is not a :class:`HexabotError` is a bug: each door (Slack's global error handler, the chat
API's exception handlers, the CLI's ``main``) answers it with a request id and logs it once.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from tools.retry import retry_after


class HexabotError(Exception):
    """The root of Hexabot's own errors: ``message`` is for the user, ``code`` for machines,
    ``dependency`` names what is down when that is the failure."""

    code: ClassVar[str] = "hexabot_error"
    dependency: ClassVar[str] = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ToolError(HexabotError):
    """A failure the user can read; ``status`` is the API server's HTTP status and
    ``audit_id`` its request id, if any."""

    code = "tool_error"

    def __init__(self, message: str, *, status: int | None = None, reason: str = "",
                 audit_id: str = "") -> None:
        super().__init__(message)
        self.status, self.reason, self.audit_id = status, reason, audit_id


class InvalidArguments(ToolError):
    code = "invalid_arguments"


class Forbidden(ToolError):
    code = "forbidden"


class NotFound(ToolError):
    code = "not_found"


class Conflict(ToolError):
    code = "conflict"


class RateLimited(ToolError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Unavailable(ToolError):
    code = "kubernetes_unavailable"
    dependency = "kubernetes"


class PlanRefused(ToolError):
    code = "plan_refused"


class PartiallyApplied(ToolError):
    """Some objects of a multi-object write were applied, then one failed.  ``applied`` and
    ``not_applied`` name them (``Kind name``); ``undo`` is the compensating plan, one step per
    applied object: ``{"tool": ..., "args": {...}, "what": ...}`` (a deletion of what the
    write created, an ``apply_yaml`` of the previous values of what it changed)."""

    code = "partially_applied"

    def __init__(self, message: str, *, applied: tuple[str, ...], not_applied: tuple[str, ...],
                 undo: tuple[dict[str, Any], ...], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.applied, self.not_applied, self.undo = applied, not_applied, undo


def from_status(status: int, body: bytes, headers: dict[str, str], what: str) -> ToolError:
    """Map an HTTP error answer of the API server to our error types."""
    try:
        parsed = json.loads(body)
        message = str(parsed.get("message") or "") if isinstance(parsed, dict) else ""
        reason = str(parsed.get("reason") or "") if isinstance(parsed, dict) else ""
    except ValueError:
        message, reason = body.decode(errors="replace")[:300], ""
    message = message or f"{what}: HTTP {status}"
    extra: dict[str, Any] = {"status": status, "reason": reason,
                             "audit_id": headers.get("Audit-Id", "")}
    if status == 403:
        return Forbidden(message, **extra)
    if status == 404:
        return NotFound(message, **extra)
    if status == 409:
        return Conflict(message, **extra)
    if status == 429:
        wait = retry_after(headers.get("Retry-After"), 1.0)
        return RateLimited(f"{what}: the API server is rate-limiting; retry in {wait:.0f}s",
                           wait, **extra)
    if status in (400, 415, 422):
        return InvalidArguments(message, **extra)
    if status == 401:
        return Forbidden(f"{what}: the cluster did not accept your credentials ({message})",
                         **extra)
    return Unavailable(f"{what}: {message}", **extra)
