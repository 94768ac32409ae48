"""What a benchmark returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    name: str
    measured: str
    target: str
    ok: bool


def admin_fixture(namespace: str, token: str = "bench") -> list[dict[str, Any]]:
    """The head of a benchmark fixture: an all-powerful user ``admin`` and one namespace."""
    return [
        {"apiVersion": "sandbox.hexabot.io/v1", "kind": "User", "metadata": {"name": "admin"},
         "token": token, "groups": ["admins"]},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "all"},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "all"}, "subjects": [{"kind": "Group", "name": "admins"}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "all"}},
    ]
