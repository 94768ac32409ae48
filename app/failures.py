"""What every door tells a person when something failed: what, what still works, a request id.

Each door has one boundary that catches broadly — Slack's global error handler
(:mod:`app.slack.boundary`), the chat API's exception handlers (:mod:`app.api.routes`) and the
CLI's ``main`` — and each turns the exception into a :class:`Failure` here, so the three say the
same thing: a :class:`~tools.errors.HexabotError` speaks for itself (a dependency that is down is
named, with what still works); anything else is a bug, answered with the request id and logged
once with its traceback.

Degraded dependencies (decided here, documented in docs/operations.md):

- PostgreSQL down: nothing that needs Hexabot's own state works — conversations, approvals,
  App Home, the chat API; the cluster itself is untouched and pending approvals are kept.
- Kubernetes API down or not answering: nothing that reads or changes the cluster works;
  Hexabot itself does (``whoami``, ``pending``; cards stay pending until they expire).
- ClickHouse down: only reading the shipped audit trail fails; events wait in the Postgres
  outbox and are shipped when it is back.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from app import database
from app.migrate import MigrationsMissing
from app.settings import ConfigError
from tools.context import request_id
from tools.errors import HexabotError

log = logging.getLogger("hexabot.failures")

DEPENDENCIES = {  # the dependency's name, and what still works while it is down
    "postgres": ("Hexabot's database (PostgreSQL)",
                 "Conversations, approvals and App Home need it and come back with it; your "
                 "cluster is untouched and pending approvals are kept. Try again in a minute."),
    "kubernetes": ("The Kubernetes API server",
                   "Pending approvals stay pending until they expire (approve again once the "
                   "cluster answers); Hexabot itself still answers whoami and pending."),
    "clickhouse": ("The audit store (ClickHouse)",
                   "Audit events wait in Hexabot's database and are shipped when it is back; "
                   "everything else works."),
}
UNEXPECTED = ("Something went wrong on Hexabot's side, so I could not do that.",
              "It has been logged; try again, or give an operator the request id.")

EXIT_REFUSED = 1      # the request was refused or failed as asked (a HexabotError)
EXIT_CONFIG = 2       # cannot run: configuration, usage or a broken installation
EXIT_DEPENDENCY = 2   # cannot run: a dependency is down (PostgreSQL, Kubernetes API, ClickHouse)
EXIT_INTERNAL = 70    # a bug (EX_SOFTWARE): the line carries the request id


@dataclass(frozen=True)
class Failure:
    """One failure as a door words it."""
    code: str
    dependency: str   # "postgres" | "kubernetes" | "clickhouse" | "" (not a dependency)
    what: str         # what failed, for the person who acted
    still: str        # what still works / what to do ("" when the message says it all)
    request_id: str
    expected: bool    # a HexabotError: no traceback is logged

    def text(self) -> str:
        parts = [self.what, self.still, f"(request id {self.request_id})"]
        return " ".join(p for p in parts if p)

    @property
    def exit_code(self) -> int:
        if self.dependency:
            return EXIT_DEPENDENCY
        if self.code in (ConfigError.code, MigrationsMissing.code):
            return EXIT_CONFIG
        return EXIT_REFUSED if self.expected else EXIT_INTERNAL


def current_request_id() -> str:
    """The request id of the turn in progress, or a new one (then made current)."""
    found = request_id.get()
    if not found:
        found = uuid.uuid4().hex[:12]
        request_id.set(found)
    return found


def explain(exc: BaseException, rid: str) -> Failure:
    """``exc`` in words; PostgreSQL's driver errors count as :class:`DatabaseUnavailable`."""
    known = database.unavailable(exc) or exc
    if isinstance(known, HexabotError):
        if known.dependency in DEPENDENCIES:
            name, still = DEPENDENCIES[known.dependency]
            what = (f"{name} is unavailable or not answering, so that could not be done "
                    f"({known.message or known}).")
            return Failure(known.code, known.dependency, what, still, rid, True)
        return Failure(known.code, "", known.message or str(known), "", rid, True)
    what, still = UNEXPECTED
    return Failure("internal", "", what, still, rid, False)


def report(exc: BaseException, door: str, rid: str | None = None) -> Failure:
    """Explain ``exc`` and log it once: a dependency down or a refusal as one line, a bug with
    its traceback; both carry the request id (the log filter stamps it too)."""
    failure = explain(exc, rid or current_request_id())
    if failure.expected:
        log.warning("%s: %s failed [%s]: %s (request id %s)", door, failure.dependency or "request",
                    failure.code, failure.what, failure.request_id)
    else:
        log.error("%s: unexpected error (request id %s): %r", door, failure.request_id, exc,
                  exc_info=exc)
    return failure
