"""Who is calling: bearer tokens, impersonation, and the access-review endpoints.

Tokens map to fixture Users; no or unknown token is 401.  ``Impersonate-User`` /
``Impersonate-Group`` (repeated) / ``Impersonate-Uid`` / ``Impersonate-Extra-*`` are honoured
only when the caller holds ``impersonate`` on each (``users``, ``groups``, ``uids``,
``userextras/<key>``), checked by the same RBAC evaluator that answers
SelfSubjectAccessReview and SubjectAccessReview.  Reviews are answered, never stored.
"""

from __future__ import annotations

from typing import Any

from multidict import CIMultiDictProxy

from sandbox.kube import errors
from sandbox.kube.rbac import Attributes, Authorizer, UserInfo

EXTRA_PREFIX = "impersonate-extra-"


def authenticate(users: dict[str, tuple[str, tuple[str, ...]]],
                 headers: CIMultiDictProxy[str]) -> UserInfo:
    header = headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or token.strip() not in users:
        raise errors.unauthorized()
    name, groups = users[token.strip()]
    return UserInfo(name=name, groups=groups)


def _require(authorizer: Authorizer, caller: UserInfo, attrs: Attributes) -> None:
    if not authorizer.authorize(caller, attrs).allowed:
        raise errors.forbidden(caller.name, "impersonate", attrs.full_resource, attrs.group,
                               None, attrs.name)


def impersonate(authorizer: Authorizer, caller: UserInfo,
                headers: CIMultiDictProxy[str]) -> UserInfo:
    """The effective user of the request (the caller, or whom it may impersonate)."""
    user = headers.get("Impersonate-User")
    groups = tuple(headers.getall("Impersonate-Group", []))
    uid = headers.get("Impersonate-Uid", "")
    extra: dict[str, tuple[str, ...]] = {}
    for key in {k.lower() for k in headers if k.lower().startswith(EXTRA_PREFIX)}:
        extra[key[len(EXTRA_PREFIX):]] = tuple(headers.getall(key))
    if user is None:
        if groups or uid or extra:
            raise errors.bad_request(
                "requested impersonation of groups, uid or extra without impersonating a user")
        return caller
    _require(authorizer, caller, Attributes("impersonate", "", "users", name=user))
    for group in groups:
        _require(authorizer, caller, Attributes("impersonate", "", "groups", name=group))
    if uid:
        _require(authorizer, caller, Attributes("impersonate", "authentication.k8s.io", "uids",
                                                name=uid))
    for key, values in extra.items():
        for value in values:
            _require(authorizer, caller, Attributes("impersonate", "authentication.k8s.io",
                                                    "userextras", key, name=value))
    return UserInfo(name=user, groups=groups, uid=uid, extra=extra)


def _attributes(spec: dict[str, Any]) -> Attributes:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            verb=str(resource.get("verb") or ""), group=str(resource.get("group") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=resource.get("namespace") or None, name=resource.get("name") or None)
    if isinstance(non_resource, dict):
        return Attributes(verb=str(non_resource.get("verb") or ""),
                          path=str(non_resource.get("path") or ""))
    raise errors.invalid_review()


def review(authorizer: Authorizer, caller: UserInfo, kind_name: str,
           body: Any) -> dict[str, Any]:
    """Answer a SelfSubjectAccessReview / SubjectAccessReview body (echoed with ``status``)."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise errors.invalid_review()
    spec = body["spec"]
    attrs = _attributes(spec)
    if kind_name == "SubjectAccessReview":
        if not spec.get("user") and not spec.get("groups"):
            raise errors.invalid_review("spec.user or spec.groups: Required value")
        subject = UserInfo(name=str(spec.get("user") or ""),
                           groups=tuple(spec.get("groups") or ()), uid=str(spec.get("uid") or ""))
    else:
        subject = caller
    decision = authorizer.authorize(subject, attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return {**body, "apiVersion": "authorization.k8s.io/v1", "kind": kind_name,
            "metadata": {"creationTimestamp": None}, "status": status}
