"""The kinds the sandbox serves: one table, from which discovery, routing and RBAC names derive.

A :class:`Kind` names a resource the way the API server does (group, version, plural, singular,
kind, scope, short names, verbs, subresources).  Discovery documents (``/api/v1``,
``/apis/apps/v1``, …) are generated from :data:`KINDS`, so kubectl and the official client find
exactly what the server routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_ONLY = ("get", "list", "watch")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    create_only: bool = False  # access reviews: POST answers, nothing is stored

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version


def _k(group: str, version: str, plural: str, kind: str, **kw: object) -> Kind:
    return Kind(group=group, version=version, plural=plural, singular=kind.lower(), kind=kind,
                **kw)  # type: ignore[arg-type]


KINDS: tuple[Kind, ...] = (
    _k("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
       subresources=("status",)),
    _k("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=("status",)),
    _k("", "v1", "pods", "Pod", short_names=("po",), subresources=("log", "status", "exec"),
       categories=("all",)),
    _k("", "v1", "services", "Service", short_names=("svc",), subresources=("status",),
       categories=("all",)),
    _k("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _k("", "v1", "events", "Event", short_names=("ev",)),
    _k("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _k("", "v1", "secrets", "Secret"),
    _k("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",),
       subresources=("status",)),
    _k("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False, short_names=("pv",),
       subresources=("status",)),
    _k("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _k("", "v1", "resourcequotas", "ResourceQuota", short_names=("quota",),
       subresources=("status",)),
    _k("", "v1", "limitranges", "LimitRange", short_names=("limits",)),
    _k("apps", "v1", "deployments", "Deployment", short_names=("deploy",),
       subresources=("scale", "status"), categories=("all",)),
    _k("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",),
       subresources=("scale", "status"), categories=("all",)),
    _k("apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",),
       subresources=("scale", "status"), categories=("all",)),
    _k("apps", "v1", "daemonsets", "DaemonSet", short_names=("ds",), subresources=("status",),
       categories=("all",)),
    _k("batch", "v1", "jobs", "Job", subresources=("status",), categories=("all",)),
    _k("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), subresources=("status",),
       categories=("all",)),
    _k("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
       short_names=("hpa",), subresources=("status",), categories=("all",)),
    _k("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",),
       subresources=("status",)),
    _k("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",),
       subresources=("status",)),
    _k("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _k("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    _k("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _k("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False,
       short_names=("sc",)),
    _k("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", namespaced=False),
    _k("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "MutatingWebhookConfiguration", namespaced=False),
    _k("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _k("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _k("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _k("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
       namespaced=False),
    _k("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", verbs=READ_ONLY),
    _k("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", namespaced=False, verbs=READ_ONLY),
    _k("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
       namespaced=False, verbs=("create",), create_only=True),
    _k("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
       namespaced=False, verbs=("create",), create_only=True),
)

# Subresources that speak another kind than their parent.
SUBRESOURCE_KIND = {"scale": ("autoscaling", "v1", "Scale"), "log": ("", "v1", "Pod"),
                    "exec": ("", "v1", "PodExecOptions")}
SUBRESOURCE_VERBS = {"scale": ("get", "patch", "update"), "status": ("get", "patch", "update"),
                     "log": ("get",), "exec": ("create", "get")}

# Sandbox-only kinds accepted in fixtures (never served).
SANDBOX_GROUP = "sandbox.hexabot.io"


@dataclass
class Registry:
    kinds: tuple[Kind, ...] = KINDS
    _by_path: dict[tuple[str, str, str], Kind] = field(default_factory=dict)
    _by_kind: dict[tuple[str, str], Kind] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            self._by_path[(kind.group, kind.version, kind.plural)] = kind
            self._by_kind[(kind.api_version, kind.kind)] = kind

    def by_path(self, group: str, version: str, plural: str) -> Kind | None:
        return self._by_path.get((group, version, plural))

    def require(self, group: str, version: str, plural: str) -> Kind:
        kind = self._by_path.get((group, version, plural))
        if kind is None:
            raise KeyError(f"{plural}.{group}/{version} is not served")
        return kind

    def by_kind(self, api_version: str, kind: str) -> Kind | None:
        return self._by_kind.get((api_version, kind))

    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for kind in self.kinds:
            versions = groups.setdefault(kind.group, [])
            if kind.version not in versions:
                versions.append(kind.version)
        return groups

    def resource_list(self, group: str, version: str) -> dict[str, object] | None:
        """The APIResourceList discovery document of one group/version."""
        members = [k for k in self.kinds if k.group == group and k.version == version]
        if not members:
            return None
        resources: list[dict[str, object]] = []
        for kind in members:
            entry: dict[str, object] = {
                "name": kind.plural, "singularName": kind.singular, "namespaced": kind.namespaced,
                "kind": kind.kind, "verbs": list(kind.verbs),
            }
            if kind.short_names:
                entry["shortNames"] = list(kind.short_names)
            if kind.categories:
                entry["categories"] = list(kind.categories)
            resources.append(entry)
            for sub in kind.subresources:
                sub_group, sub_version, sub_kind = SUBRESOURCE_KIND.get(
                    sub, (kind.group, kind.version, kind.kind))
                sub_entry: dict[str, object] = {
                    "name": f"{kind.plural}/{sub}", "singularName": "",
                    "namespaced": kind.namespaced, "kind": sub_kind,
                    "verbs": list(SUBRESOURCE_VERBS[sub]),
                }
                if sub_group != kind.group:
                    sub_entry.update(group=sub_group, version=sub_version)
                resources.append(sub_entry)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    def group_list(self) -> dict[str, object]:
        groups = []
        for group, versions in self.group_versions().items():
            if not group:
                continue
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
