"""Who a request acts as: the SecurityContext every lower layer receives.

Built only by ``app.identity`` from the directory (static YAML or linked Hexabase account) —
never from message text or anything a model produced.  The tools layer turns its credentials
into a cluster client acting as the user; the API server's RBAC then limits them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class KubeconfigCredentials:
    """The user's own credentials: a kubeconfig document and the context to use."""
    kubeconfig: dict[str, Any] = field(repr=False)
    context: str
    source: str  # where it came from (a file path, or "hexabase"), for messages

    def describe(self) -> str:
        return f"context {self.context!r} of {self.source}"

    @property
    def cluster_key(self) -> tuple[str, str]:
        """(kubeconfig source, context): equal keys reach the same API server the same way."""
        return self.source, self.context


@dataclass(frozen=True)
class ImpersonationCredentials:
    """The bot's credentials, impersonating the user and every one of their groups."""
    bot_kubeconfig: dict[str, Any] = field(repr=False)
    bot_context: str
    user: str
    groups: tuple[str, ...]
    source: str

    def describe(self) -> str:
        return f"impersonating {self.user} (groups {', '.join(self.groups) or 'none'})"

    @property
    def cluster_key(self) -> tuple[str, str]:
        return self.source, self.bot_context


Credentials = KubeconfigCredentials | ImpersonationCredentials


@dataclass(frozen=True)
class SecurityContext:
    slack_id: str
    hexabase_user: str
    name: str
    groups: tuple[str, ...]
    workspace: str
    namespaces: tuple[str, ...]
    namespace: str
    two_person_namespaces: tuple[str, ...]
    sensitive: bool
    credentials: Credentials = field(repr=False)
    session_id: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def allows_namespace(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def needs_two_people(self, namespace: str) -> bool:
        return namespace in self.two_person_namespaces
