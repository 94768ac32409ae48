"""What the directory knows about a user, whichever provider it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tools.security import Credentials, workspace_id


@dataclass(frozen=True)
class Workspace:
    name: str
    credentials: Credentials
    namespaces: tuple[str, ...]
    default_namespace: str
    two_person_namespaces: tuple[str, ...] = ()
    sensitive: bool = False

    @property
    def id(self) -> str:
        """Name and cluster together: two workspaces named alike on two clusters differ."""
        return workspace_id(self.name, self.credentials)


@dataclass(frozen=True)
class UserEntry:
    slack_id: str
    name: str
    hexabase_user: str
    groups: tuple[str, ...]
    workspaces: tuple[Workspace, ...]

    def workspace(self, name: str) -> Workspace | None:
        return next((w for w in self.workspaces if w.name == name), None)


class Directory(Protocol):
    """Looks users up by Slack id (or, for the CLI's ``--as``, by name)."""

    async def lookup(self, who: str) -> UserEntry | None: ...

    def how_to_join(self) -> str:
        """What an unknown user should do (link an account, or whom to ask)."""
        ...
