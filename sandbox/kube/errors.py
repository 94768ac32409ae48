"""API errors as the real server words them: ``Status`` objects with reason, code and message.

Every refusal in the sandbox is an :class:`ApiError`; the HTTP layer turns it into the JSON
``Status`` body.  The helpers below reproduce kube-apiserver's wording, which clients (kubectl,
the official Python client, our tools layer) show to users or parse.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.resources import Kind


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(kind: Kind) -> str:
    """``deployments.apps`` / ``pods``: how messages name a resource."""
    return f"{kind.plural}.{kind.group}" if kind.group else kind.plural


def _details(kind: Kind, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind.plural}
    if kind.group:
        details["group"] = kind.group
    if name:
        details["name"] = name
    return details


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified(kind)} "{name}" not found', _details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified(kind)} "{name}" already exists',
                    _details(kind, name))


def conflict(kind: Kind, name: str) -> ApiError:
    return ApiError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(kind)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        _details(kind, name),
    )


def invalid(kind: Kind, name: str, causes: list[str]) -> ApiError:
    message = f'{kind.kind} "{name}" is invalid: ' + "; ".join(causes)
    details = _details(kind, name)
    details["causes"] = [{"message": cause} for cause in causes]
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden(user: str, verb: str, resource: str, group: str, namespace: str | None,
              name: str | None = None, details: dict[str, Any] | None = None) -> ApiError:
    """kube-apiserver's RBAC denial, e.g. ``pods "x" is forbidden: User "bob" cannot delete
    resource "pods" in API group "" in the namespace "shop"``."""
    plural = resource.split("/")[0]
    target = f"{plural}.{group}" if group else plural
    subject = f'{target} "{name}"' if name else target
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
               f'in API group "{group}" {scope}')
    body = details if details is not None else {"kind": plural, **({"name": name} if name else {})}
    if group:
        body.setdefault("group", group)
    return ApiError(403, "Forbidden", message, body)


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(
        415, "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: '
        f'application/json, application/yaml (the Hexabot sandbox does not decode '
        f'"{content_type}"; send JSON or YAML)',
    )


def method_not_allowed(verb: str, what: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource "
                    f"({verb} {what})")


def invalid_review(cause: str = "spec.resourceAttributes or spec.nonResourceAttributes: "
                                "Required value") -> ApiError:
    return ApiError(422, "Invalid", f"the access review is invalid: {cause}")


def int_param(query: dict[str, str], name: str, default: int | None = None) -> int | None:
    """An integer query parameter, or 400 naming the parameter."""
    value = query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise bad_request(f"invalid value for query parameter {name}: {value!r} is not an "
                          "integer") from exc
