"""Build a request's SecurityContext from the directory, and switch workspace / namespace.

The context comes from the directory entry (who), the user's persisted choice of workspace and
namespace (where), and nothing else.  Switching to anything outside the user's own entry is
refused with the list of what is allowed.  Unknown users get a friendly way forward, and the
attempt is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.identity.model import Directory, UserEntry, Workspace
from app.identity.store import IdentityStore
from tools.audit import AuditEvent
from tools.errors import HexabotError
from tools.security import SecurityContext


class IdentityError(HexabotError, LookupError):
    """Base of identity refusals; the message is meant for the user."""

    code = "identity"


class UnknownUser(IdentityError):
    code = "unknown_user"


class NotAllowed(IdentityError):
    code = "not_allowed"


@dataclass(frozen=True)
class Whoami:
    entry: UserEntry
    context: SecurityContext


class IdentityService:
    def __init__(self, directory: Directory, store: IdentityStore) -> None:
        self.directory = directory
        self.store = store

    async def _entry(self, who: str, request_id: str = "") -> UserEntry:
        entry = await self.directory.lookup(who)
        if entry is None:
            await self.store.record(AuditEvent(kind="request.unknown_user", actor=who,
                                               outcome="denied", request_id=request_id))
            raise UnknownUser(f"{who!r} is not in Hexabot's directory. "
                              + self.directory.how_to_join())
        return entry

    async def context(self, who: str, session_id: str = "", request_id: str = "",
                      workspace: str | None = None,
                      namespace: str | None = None,
                      workspace_id: str | None = None) -> SecurityContext:
        """The SecurityContext of ``who`` (Slack id, or name for the CLI's ``--as``).

        ``workspace``/``namespace`` pick another of the user's own for this request only
        (the CLI's ``--workspace``/``--namespace``); anything else is refused.
        ``workspace_id`` (name and cluster, as stored on actions and runs) picks the user's
        workspace that *is* that one: a workspace of the same name on another cluster is not.
        """
        entry = await self._entry(who, request_id)
        saved_ws, saved_ns = await self.store.get_context(entry.slack_id)
        if workspace_id is not None:
            same = next((w for w in entry.workspaces if w.id == workspace_id), None)
            if same is None:
                raise NotAllowed(f"{entry.name} has no access to workspace "
                                 f"{workspace_id.partition('@')[0]!r} on that cluster "
                                 f"(stored as {workspace_id}).")
            chosen = same
        else:
            chosen = entry.workspace(workspace or saved_ws or "") or entry.workspaces[0]
        if workspace and chosen.name != workspace:
            raise NotAllowed(f"You have no workspace {workspace!r}. Yours: "
                             f"{', '.join(w.name for w in entry.workspaces)}.")
        if namespace and namespace not in chosen.namespaces:
            raise NotAllowed(f"Namespace {namespace!r} is not yours in workspace "
                             f"{chosen.name!r}. Yours: {', '.join(chosen.namespaces)}.")
        current = namespace or (saved_ns if saved_ns in chosen.namespaces
                                else chosen.default_namespace)
        return self._build(entry, chosen, current, session_id, request_id)

    @staticmethod
    def _build(entry: UserEntry, workspace: Workspace, namespace: str, session_id: str,
               request_id: str) -> SecurityContext:
        extra = {"request_id": request_id} if request_id else {}
        return SecurityContext(
            slack_id=entry.slack_id, hexabase_user=entry.hexabase_user, name=entry.name,
            groups=entry.groups, workspace=workspace.name, namespaces=workspace.namespaces,
            namespace=namespace, two_person_namespaces=workspace.two_person_namespaces,
            sensitive=workspace.sensitive, credentials=workspace.credentials,
            session_id=session_id, **extra)

    async def whoami(self, who: str) -> Whoami:
        entry = await self._entry(who)
        return Whoami(entry=entry, context=await self.context(who))

    async def switch_workspace(self, who: str, name: str) -> SecurityContext:
        entry = await self._entry(who)
        workspace = entry.workspace(name)
        if workspace is None:
            allowed = ", ".join(w.name for w in entry.workspaces)
            await self.store.record(AuditEvent(
                kind="context.switch_workspace", actor=entry.slack_id, outcome="denied",
                hexabase_user=entry.hexabase_user, workspace=name))
            raise NotAllowed(f"You have no workspace {name!r}. Yours: {allowed}.")
        await self.store.set_context(entry.slack_id, workspace.name,
                                     workspace.default_namespace, AuditEvent(
                                         kind="context.switch_workspace", actor=entry.slack_id,
                                         outcome="ok", hexabase_user=entry.hexabase_user,
                                         workspace=workspace.name, workspace_id=workspace.id,
                                         namespace=workspace.default_namespace))
        return await self.context(who)

    async def switch_namespace(self, who: str, name: str) -> SecurityContext:
        current = await self.context(who)
        if name not in current.namespaces:
            await self.store.record(AuditEvent(
                kind="context.switch_namespace", actor=current.slack_id, outcome="denied",
                hexabase_user=current.hexabase_user, workspace=current.workspace,
                workspace_id=current.workspace_id, namespace=name))
            raise NotAllowed(f"Namespace {name!r} is not yours in workspace "
                             f"{current.workspace!r}. Yours: {', '.join(current.namespaces)}.")
        await self.store.set_context(current.slack_id, current.workspace, name, AuditEvent(
            kind="context.switch_namespace", actor=current.slack_id, outcome="ok",
            hexabase_user=current.hexabase_user, workspace=current.workspace,
            workspace_id=current.workspace_id, namespace=name))
        return await self.context(who)

    async def logout(self, who: str) -> dict[str, int]:
        """Forget the user: link, cached credentials, pending logins, context (and memory)."""
        entry = await self.directory.lookup(who)
        slack_id = entry.slack_id if entry is not None else who
        return await self.store.wipe(slack_id, AuditEvent(
            kind="identity.logout", actor=slack_id, outcome="ok",
            hexabase_user=entry.hexabase_user if entry else ""))
