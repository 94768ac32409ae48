"""Argument models shared by every tool: strict, identity-free, Kubernetes-name validated.

Tool arguments come from a model or a person, so they carry only *what* to do: never who
(user, groups, context, kubeconfig, token — identity comes from the SecurityContext) and never
free-form commands for kubectl.  Unknown fields are refused.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_SELECTOR = r"^[A-Za-z0-9_./!=,()\- ]*$"

Name = Annotated[str, StringConstraints(pattern=DNS1123_SUBDOMAIN, max_length=253)]
Namespace = Annotated[str, StringConstraints(pattern=DNS1123_LABEL, max_length=63)]
Selector = Annotated[str, StringConstraints(pattern=LABEL_SELECTOR, max_length=256)]

# Names an argument model may never have (identity and escape hatches).
FORBIDDEN_FIELDS = frozenset({
    "user", "users", "username", "group", "groups", "context", "identity", "as_user",
    "impersonate", "kubeconfig", "token", "credentials", "cluster", "workspace", "command_line",
    "kubectl", "slack_id", "hexabase_user", "server",
})


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    namespace: Namespace | None = None
