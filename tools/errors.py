"""The tools layer's errors, mapped once from the API server's ``Status`` at the client boundary.

    ToolError                 anything a tool reports to the user as a failed result
    ├── InvalidArguments      bad tool arguments (names, namespaces outside the user's, ...)
    ├── Forbidden             403: names the missing permission; never retried as someone else
    ├── NotFound              404
    ├── Conflict              409: the object changed since the plan (or already exists)
    ├── RateLimited           429: reads back off per Retry-After first
    ├── Unavailable           5xx, timeouts, unreachable API server
    └── PlanRefused           a write that is not allowed as planned (apply_yaml allowlist, ...)

Every mapped error keeps the API server's message and its ``Audit-Id`` (for the audit trail)
and is raised ``from`` the transport error.
"""

from __future__ import annotations

import json
from typing import Any


class ToolError(Exception):
    """A failure the user can read; ``audit_id`` is the API server's request id, if any."""

    def __init__(self, message: str, *, code: int | None = None, reason: str = "",
                 audit_id: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.reason, self.audit_id = message, code, reason, audit_id


class InvalidArguments(ToolError):
    pass


class Forbidden(ToolError):
    pass


class NotFound(ToolError):
    pass


class Conflict(ToolError):
    pass


class RateLimited(ToolError):
    def __init__(self, message: str, retry_after: float, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Unavailable(ToolError):
    pass


class PlanRefused(ToolError):
    pass


def from_status(status: int, body: bytes, headers: dict[str, str], what: str) -> ToolError:
    """Map an HTTP error answer of the API server to our error types."""
    try:
        parsed = json.loads(body)
        message = str(parsed.get("message") or "") if isinstance(parsed, dict) else ""
        reason = str(parsed.get("reason") or "") if isinstance(parsed, dict) else ""
    except ValueError:
        message, reason = body.decode(errors="replace")[:300], ""
    message = message or f"{what}: HTTP {status}"
    extra: dict[str, Any] = {"code": status, "reason": reason,
                             "audit_id": headers.get("Audit-Id", "")}
    if status == 403:
        return Forbidden(message, **extra)
    if status == 404:
        return NotFound(message, **extra)
    if status == 409:
        return Conflict(message, **extra)
    if status == 429:
        try:
            wait = float(headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        return RateLimited(f"{what}: the API server is rate-limiting; retry in {wait:.0f}s",
                           wait, **extra)
    if status in (400, 415, 422):
        return InvalidArguments(message, **extra)
    if status == 401:
        return Forbidden(f"{what}: the cluster did not accept your credentials ({message})",
                         **extra)
    return Unavailable(f"{what}: {message}", **extra)
