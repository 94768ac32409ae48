"""RBAC authorisation with kube-apiserver's semantics, read live from the stored roles.

A request is allowed when any rule of any role bound to the user, to one of their groups, or to
``system:authenticated`` matches its API group, resource (``pods/log``-style for subresources;
``*`` and ``*/scale`` wildcards), verb and, when the rule lists ``resourceNames``, the request's
name (so such rules never match list, watch or create without a name).  RoleBindings grant in
their own namespace (and may point at a ClusterRole); ClusterRoleBindings grant everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.kube.resources import Registry
from sandbox.kube.store import Store

AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def all_groups(self) -> tuple[str, ...]:
        return self.groups if AUTHENTICATED in self.groups else (*self.groups, AUTHENTICATED)


@dataclass(frozen=True)
class Attributes:
    """What one request asks to do (the ``resourceAttributes`` of an access review)."""
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str | None = None
    name: str | None = None
    path: str | None = None  # non-resource URL (discovery)

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _matches(values: Iterable[str], wanted: str) -> bool:
    return any(value in ("*", wanted) for value in values)


def _resource_matches(rule_resources: Iterable[str], attrs: Attributes) -> bool:
    for resource in rule_resources:
        if resource == "*" or resource == attrs.full_resource:
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    if attrs.path is not None:
        urls = rule.get("nonResourceURLs") or []
        return _matches(rule.get("verbs") or [], attrs.verb) and any(
            url == attrs.path or url == "*" or (url.endswith("*") and attrs.path.startswith(
                url[:-1])) for url in urls)
    if not _matches(rule.get("verbs") or [], attrs.verb):
        return False
    if not _matches(rule.get("apiGroups") or [], attrs.group):
        return False
    if not _resource_matches(rule.get("resources") or [], attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or (attrs.name is not None and attrs.name in names)


class Authorizer:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        group = "rbac.authorization.k8s.io"
        self.roles = registry.require(group, "v1", "roles")
        self.cluster_roles = registry.require(group, "v1", "clusterroles")
        self.bindings = registry.require(group, "v1", "rolebindings")
        self.cluster_bindings = registry.require(group, "v1", "clusterrolebindings")

    @staticmethod
    def _subject_matches(subject: dict[str, Any], user: UserInfo) -> bool:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User":
            return bool(name == user.name)
        if kind == "Group":
            return name in user.all_groups()
        if kind == "ServiceAccount":
            return user.name == f"system:serviceaccount:{subject.get('namespace')}:{name}"
        return False

    def _role_rules(self, ref: dict[str, Any], namespace: str | None) -> list[dict[str, Any]]:
        if ref.get("kind") == "ClusterRole":
            role = self.store.peek(self.cluster_roles, None, ref.get("name", ""))
        else:
            role = self.store.peek(self.roles, namespace, ref.get("name", ""))
        return list((role or {}).get("rules") or [])

    def _granting(self, user: UserInfo, namespace: str | None) -> Iterator[tuple[str, dict[str,
                                                                                          Any]]]:
        for binding in self.store.iter(self.cluster_bindings):
            if any(self._subject_matches(s, user) for s in binding.get("subjects") or []):
                label = f'ClusterRoleBinding "{binding["metadata"]["name"]}"'
                for rule in self._role_rules(binding.get("roleRef") or {}, None):
                    yield label, rule
        if namespace is None:
            return
        for binding in self.store.iter(self.bindings, namespace):
            if any(self._subject_matches(s, user) for s in binding.get("subjects") or []):
                label = f'RoleBinding "{namespace}/{binding["metadata"]["name"]}"'
                for rule in self._role_rules(binding.get("roleRef") or {}, namespace):
                    yield label, rule

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        for label, rule in self._granting(user, attrs.namespace):
            if rule_allows(rule, attrs):
                return Decision(True, f"RBAC: allowed by {label}")
        return Decision(False, "")
