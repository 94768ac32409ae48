"""Who a request acts as: the SecurityContext every lower layer receives.

Built only by ``app.identity`` from the directory (static YAML or linked Hexabase account) —
never from message text or anything a model produced.  The tools layer turns its credentials
into a cluster client acting as the user; the API server's RBAC then limits them.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


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


def _cluster_of(kubeconfig: dict[str, Any], context: str) -> dict[str, Any]:
    """The ``cluster`` entry that ``context`` of ``kubeconfig`` reaches ({} if none)."""
    def named(section: str, name: str) -> dict[str, Any]:
        for item in kubeconfig.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                inner = item.get(section[:-1])
                return inner if isinstance(inner, dict) else {}
        return {}
    return named("clusters", str(named("contexts", context).get("cluster", "")))


def _server(url: str) -> str:
    """The API server URL as the client reaches it: scheme and host compared without case,
    a default port and trailing dots or slashes dropped; the path kept (proxies route by it)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def cluster_fingerprint(credentials: Credentials) -> str:
    """Which cluster credentials reach: SHA-256 of what the client connects to and trusts — the
    API server URL, the CA (its data, else its path; "insecure" when verification is off),
    the TLS server name and any proxy.  Two workspaces with one name on two clusters get
    different fingerprints; the same cluster reached the same way gets one."""
    if isinstance(credentials, ImpersonationCredentials):
        context = credentials.bot_context
        cluster = _cluster_of(credentials.bot_kubeconfig, context)
    else:
        context = credentials.context
        cluster = _cluster_of(credentials.kubeconfig, context)
    if not cluster.get("server"):
        parts = ["unresolved", credentials.source, context]
    else:
        ca = "".join(str(cluster.get("certificate-authority-data") or "").split()) \
            or str(cluster.get("certificate-authority") or "")
        parts = [_server(str(cluster["server"])),
                 "insecure" if cluster.get("insecure-skip-tls-verify") else ca,
                 str(cluster.get("tls-server-name") or ""), str(cluster.get("proxy-url") or "")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def workspace_id(name: str, credentials: Credentials) -> str:
    """A workspace's identity: its name *and* its cluster (``shop@3f2a9c1b7e4d5a60``).  Names
    alone never identify a workspace, an approver's scope or an audit reader's reach."""
    return f"{name}@{cluster_fingerprint(credentials)}"


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

    @functools.cached_property
    def workspace_id(self) -> str:
        """The workspace's identity: name and cluster together (see :func:`workspace_id`)."""
        return workspace_id(self.workspace, self.credentials)

    def allows_namespace(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def needs_two_people(self, namespace: str) -> bool:
        return namespace in self.two_person_namespaces
