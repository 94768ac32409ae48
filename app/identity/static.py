"""The static directory: a YAML file listing users, their workspaces and cluster credentials.

Format (``HEXABOT_DIRECTORY_FILE`` or ``--directory``)::

    bot: {kubeconfig: PATH, context: NAME}          # optional; needed for impersonation
    # or  bot: {in_cluster: true}                   # the pod's ServiceAccount (Helm chart)
    users:
      - slack_id: U0ALICE
        name: alice
        hexabase_user: hxb-alice
        groups: [developers]
        workspaces:
          - name: shop
            kubeconfig: PATH        # own credentials (kubeconfig + context) ...
            context: alice
            # impersonate: {user: alice, groups: [developers, shop-team]}   # ... or this
            namespaces: [shop, shop-staging]
            default_namespace: shop
            two_person_namespaces: [shop]
            sensitive: false

Relative paths resolve against the file's folder.  Unknown keys, missing keys and
inconsistencies are refused with the file, the path inside it and the reason
(:class:`DirectoryError`); kubeconfigs are read at load time so a bad path or context fails
at start, not at the first request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.identity.model import UserEntry, Workspace
from tools.errors import HexabotError
from tools.security import Credentials, ImpersonationCredentials, KubeconfigCredentials

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class DirectoryError(HexabotError, ValueError):
    """The directory file cannot be used; the message names the file and the path."""

    code = "directory_invalid"

    def __init__(self, source: Path | str, path: str, reason: str) -> None:
        super().__init__(f"{source}: {path}: {reason}" if path else f"{source}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Impersonate(_Strict):
    user: str = Field(min_length=1)
    groups: list[str] = []


class _Bot(_Strict):
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False  # the pod's ServiceAccount (the Helm chart's way)

    @model_validator(mode="after")
    def _one_source(self) -> _Bot:
        if self.in_cluster == bool(self.kubeconfig and self.context):
            raise ValueError("give either kubeconfig and context, or in_cluster: true")
        return self


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster_kubeconfig(source: Path) -> dict[str, Any]:
    """A kubeconfig for the pod's ServiceAccount; the token is a file the client re-reads
    whenever it builds a client, so the kubelet's token rotation is followed."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get(
        "KUBERNETES_SERVICE_PORT", "443")
    if not host or not (SERVICE_ACCOUNT / "token").is_file():
        raise DirectoryError(source, "bot.in_cluster", "not running in a pod with a "
                             "ServiceAccount token (KUBERNETES_SERVICE_HOST or "
                             f"{SERVICE_ACCOUNT}/token missing)")
    server = f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
    return {"apiVersion": "v1", "kind": "Config", "current-context": "in-cluster",
            "clusters": [{"name": "in-cluster", "cluster": {
                "server": server, "certificate-authority": str(SERVICE_ACCOUNT / "ca.crt")}}],
            "users": [{"name": "hexabot", "user": {
                "tokenFile": str(SERVICE_ACCOUNT / "token")}}],
            "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster",
                                                            "user": "hexabot"}}]}


class _Workspace(_Strict):
    name: str = Field(pattern=NAME)
    kubeconfig: str | None = None
    context: str | None = None
    impersonate: _Impersonate | None = None
    namespaces: list[str] = Field(min_length=1)
    default_namespace: str | None = None
    two_person_namespaces: list[str] = []
    sensitive: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> _Workspace:
        own = self.kubeconfig is not None or self.context is not None
        if own and self.impersonate is not None:
            raise ValueError("give either kubeconfig + context or impersonate, not both")
        if not own and self.impersonate is None:
            raise ValueError("needs credentials: kubeconfig + context, or impersonate")
        if own and (self.kubeconfig is None or self.context is None):
            raise ValueError("kubeconfig and context go together")
        if self.default_namespace is not None and self.default_namespace not in self.namespaces:
            raise ValueError(f"default_namespace {self.default_namespace!r} is not one of "
                             f"namespaces {self.namespaces}")
        outside = [n for n in self.two_person_namespaces if n not in self.namespaces]
        if outside:
            raise ValueError(f"two_person_namespaces {outside} are not in namespaces")
        return self


class _User(_Strict):
    slack_id: str = Field(pattern=r"^[UW][A-Z0-9]{2,}$")
    name: str = Field(pattern=NAME)
    hexabase_user: str = Field(min_length=1)
    groups: list[str] = []
    workspaces: list[_Workspace] = Field(min_length=1)


class _File(_Strict):
    bot: _Bot | None = None
    users: list[_User]


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _read_kubeconfig(base: Path, raw: str, context: str, where: str,
                     source: Path) -> tuple[dict[str, Any], str]:
    path = Path(raw) if Path(raw).is_absolute() else base / raw
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DirectoryError(source, f"{where}.kubeconfig",
                             f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DirectoryError(source, f"{where}.kubeconfig", f"{path} is not YAML") from exc
    contexts = [c.get("name") for c in (document or {}).get("contexts") or []]
    if context not in contexts:
        raise DirectoryError(source, f"{where}.context",
                             f"context {context!r} is not in {path} (it has {contexts})")
    return document, str(path)


class StaticDirectory:
    def __init__(self, users: list[UserEntry], source: Path) -> None:
        self.source = source
        self._by_key = {u.hexabase_user: u for u in users} | {u.name: u for u in users} | {
            u.slack_id: u for u in users}  # Slack id first, then name, then Hexabase user
        self.users = users

    async def lookup(self, who: str) -> UserEntry | None:
        return self._by_key.get(who)

    def how_to_join(self) -> str:
        return (f"You are not in Hexabot's directory yet. Ask your Hexabot administrator to add "
                f"your Slack user to {self.source.name}.")


def load(source: Path) -> StaticDirectory:
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise DirectoryError(source, "", f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DirectoryError(source, "", f"not valid YAML: {exc}") from exc
    try:
        parsed = _File.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        elif first["type"] == "missing":
            reason = "required key is missing"
        raise DirectoryError(source, _path(tuple(first["loc"])), reason) from exc
    base = source.resolve().parent
    _unique(parsed, source)
    bot: tuple[dict[str, Any], str, str] | None = None
    if parsed.bot is not None and parsed.bot.in_cluster:
        bot = (in_cluster_kubeconfig(source), "in-cluster", "in-cluster ServiceAccount")
    elif parsed.bot is not None:
        assert parsed.bot.kubeconfig is not None and parsed.bot.context is not None
        document, path = _read_kubeconfig(base, parsed.bot.kubeconfig, parsed.bot.context,
                                          "bot", source)
        bot = (document, parsed.bot.context, path)
    users = []
    for i, user in enumerate(parsed.users):
        workspaces = []
        for j, ws in enumerate(user.workspaces):
            where = f"users[{i}].workspaces[{j}]"
            credentials: Credentials
            if ws.impersonate is not None:
                if bot is None:
                    raise DirectoryError(source, f"{where}.impersonate",
                                         "impersonation needs the bot's credentials: add "
                                         "bot: {kubeconfig, context}")
                credentials = ImpersonationCredentials(
                    bot_kubeconfig=bot[0], bot_context=bot[1], user=ws.impersonate.user,
                    groups=tuple(ws.impersonate.groups), source=bot[2])
            else:
                assert ws.kubeconfig is not None and ws.context is not None
                document, path = _read_kubeconfig(base, ws.kubeconfig, ws.context, where,
                                                  source)
                credentials = KubeconfigCredentials(document, ws.context, path)
            workspaces.append(Workspace(
                name=ws.name, credentials=credentials, namespaces=tuple(ws.namespaces),
                default_namespace=ws.default_namespace or ws.namespaces[0],
                two_person_namespaces=tuple(ws.two_person_namespaces), sensitive=ws.sensitive))
        users.append(UserEntry(slack_id=user.slack_id, name=user.name,
                               hexabase_user=user.hexabase_user, groups=tuple(user.groups),
                               workspaces=tuple(workspaces)))
    return StaticDirectory(users, source)


def _unique(parsed: _File, source: Path) -> None:
    seen: dict[str, int] = {}
    for i, user in enumerate(parsed.users):
        for key in (user.slack_id, user.name):
            if key in seen:
                raise DirectoryError(source, f"users[{i}]",
                                     f"{key!r} is already used by users[{seen[key]}]")
            seen[key] = i
        names = [w.name for w in user.workspaces]
        for j, name in enumerate(names):
            if names.index(name) != j:
                raise DirectoryError(source, f"users[{i}].workspaces[{j}].name",
                                     f"workspace {name!r} is listed twice")
