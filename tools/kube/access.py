"""Permission pre-checks with access reviews (never SelfSubjectRulesReview).

They decide what to offer; the API server still enforces.  With the user's own credentials the
check is a SelfSubjectAccessReview sent as the user; with impersonation it is a
SubjectAccessReview sent as the bot naming the user and all their groups.  The same function
checks a teammate approver later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.kube.client import UserCluster
from tools.security import ImpersonationCredentials

REVIEWS = "/apis/authorization.k8s.io/v1"


@dataclass(frozen=True)
class Access:
    """The RBAC a tool needs: API group, resource, verb and optional subresource."""
    group: str
    resource: str
    verb: str
    subresource: str = ""

    def describe(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f'{self.verb} {resource} (API group "{self.group}")'


async def allowed(cluster: UserCluster, access: Access, namespace: str | None,
                  name: str | None = None) -> tuple[bool, str]:
    """(allowed, reason) for the cluster's identity doing ``access`` in ``namespace``."""
    attributes: dict[str, Any] = {"verb": access.verb, "group": access.group,
                                  "resource": access.resource}
    if access.subresource:
        attributes["subresource"] = access.subresource
    if namespace:
        attributes["namespace"] = namespace
    if name:
        attributes["name"] = name
    credentials = cluster.credentials
    if isinstance(credentials, ImpersonationCredentials):
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {"user": credentials.user, "groups": list(credentials.groups),
                         "resourceAttributes": attributes}}
        answer = await cluster.call("POST", f"{REVIEWS}/subjectaccessreviews", body=body,
                                    content_type="application/json", impersonate=False,
                                    what="access review")
    else:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes}}
        answer = await cluster.call("POST", f"{REVIEWS}/selfsubjectaccessreviews", body=body,
                                    content_type="application/json", what="access review")
    status = (answer or {}).get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or "")
