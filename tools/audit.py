"""The audit event: one record per request, tool call, LLM call, plan, decision, execution,
login/logout or denial.

Every layer creates these; stores write them to the Postgres outbox in the same transaction as
the change they describe (``confirmations.outbox``), where they are hash-chained, and the shipper
moves them to ClickHouse.  Secrets never go in any field.

The chain's rules live here, beside the event, so the writer and :func:`verify` (run on rows
read back from either store) share them: ``PARTITIONS`` chains written side by side, each with
its own seq and genesis, and one chain of anchors that records every partition's head
(docs/audit-chain.md says what each check proves and what it cannot).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.security import SecurityContext

GENESIS = "0" * 64          # where partition 0 starts: the single chain written before partitions
PARTITIONS = 16             # partitions 0..15; the number may grow, never shrink
ANCHOR_GENESIS = hashlib.sha256(b"hexabot audit anchors").hexdigest()

EventRow = tuple[int, int, str, str, dict[str, Any]]  # (partition, seq, prev_hash, hash, event)
AnchorRow = tuple[int, str, str, dict[str, Any]]      # (seq, prev_hash, hash, anchor)
Heads = dict[str, list[Any]]                          # {"3": [seq, hash]}: each partition's head


@dataclass(frozen=True)
class AuditEvent:
    kind: str                  # the action: request.unknown_user, tool.plan, confirmation.approve…
    actor: str                 # Slack id of who acted
    outcome: str               # ok | denied | error | failed
    hexabase_user: str = ""
    workspace: str = ""
    namespace: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    session_id: str = ""
    resource_kind: str = ""
    resource_name: str = ""
    confirmation_id: str = ""
    confirmation_state: str = ""
    approver: str = ""
    error: str = ""
    duration_ms: int = 0
    api_audit_id: str = ""
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    workspace_id: str = ""     # name and cluster (SecurityContext.workspace_id): who may read it

    def as_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, 20x slower on the audit hot path
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(AuditEvent))


def field_names() -> frozenset[str]:
    """An event's fields (to rebuild one read back from storage)."""
    return frozenset(_FIELDS)


class AuditHistory(Protocol):
    """The optional hook through which a READ tool sees Hexabot's own executed changes
    (``recent_changes``); ``ToolEnv.audit_history``, None where nothing provides it.

    An implementation returns the ``confirmation.result`` events of ``namespace`` at or after
    ``since`` that ``ctx`` may read (its workspace identity; whose events — theirs only, or
    everyone's for an admin — is the implementation's rule, as for the chat API's audit)."""

    async def executed(self, ctx: SecurityContext, namespace: str,
                       since: datetime) -> Sequence[AuditEvent]: ...


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """hash_n = SHA-256(hash_{n-1} + canonical JSON of event n)."""
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()




def genesis(part: int) -> str:
    """The ``prev_hash`` of a partition's first event: partition 0 keeps the old chain's, so
    rows written before partitions verify as they are; the others' differ, so a run of events
    moved into another partition does not verify there."""
    if part == 0:
        return GENESIS
    return hashlib.sha256(f"hexabot audit partition {part}".encode()).hexdigest()


def anchor_body(seq: int, heads: Heads, at: str) -> dict[str, Any]:
    """What an anchor hashes: its own number, when, and the head of every partition."""
    return {"seq": seq, "at": at, "heads": heads}


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`verify`: at ``seq`` (to ``last``) of partition ``part``, or at
    anchor ``seq`` when ``part`` is None."""

    part: int | None
    seq: int
    what: str
    last: int | None = None

    def __str__(self) -> str:
        span = f"{self.seq}..{self.last}" if self.last is not None else str(self.seq)
        where = f"anchor {span}" if self.part is None else f"partition {self.part} seq {span}"
        return f"{where}: {self.what}"


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found.  ``unanchored`` counts the events after the newest anchor's
    heads: the window in which a deleted tail cannot be told from events never written."""

    problems: list[Problem]
    events: int
    partitions: int
    anchors: int
    unanchored: int
    newest: tuple[int, str] | None  # the newest anchor's (seq, hash), to compare elsewhere


def _walk(part: int, rows: list[EventRow], found: list[Problem],
          hashes: dict[tuple[int, int], str]) -> None:
    """One partition's chain: numbered 1, 2, 3… with each event following the one before."""
    if not 0 <= part < PARTITIONS:
        found.append(Problem(part, rows[0][1], "not a partition Hexabot writes (inserted events)"))
    expected_seq, expected_prev = 1, genesis(part)
    for _, seq, prev, digest, event in rows:
        found += _link(part, "event", seq, prev, expected_seq, expected_prev, "inserted event")
        if chain_hash(prev, event) != digest:
            found.append(Problem(part, seq, "content does not match its hash (edited event "
                                            f"{event.get('event_id')})"))
        hashes.setdefault((part, seq), digest)
        expected_seq, expected_prev = seq + 1, digest


def _link(part: int | None, noun: str, seq: int, prev: str, expected_seq: int,
          expected_prev: str, repeated: str) -> list[Problem]:
    """Where a chained row (an event of partition ``part``, or an anchor: ``part`` None)
    breaks its chain's numbering or linking; a gap is named once, at its start."""
    found = []
    if seq > expected_seq:  # the next one cannot follow: named once, as the gap
        found.append(Problem(part, expected_seq, f"missing (deleted {noun}s)", seq - 1))
    elif seq < expected_seq:
        found.append(Problem(part, seq, f"repeated ({repeated})"))
    if prev != expected_prev and seq <= expected_seq:
        found.append(Problem(part, seq, f"does not follow the {noun} before it (that one "
                                        "rewritten, or one inserted, removed or moved)"))
    return found


def heads_of(anchor: dict[str, Any]) -> dict[int, tuple[int, str]] | None:
    """An anchor's heads as {partition: (seq, hash)}; None when it has none in that shape."""
    heads = anchor.get("heads")
    if not isinstance(heads, dict):
        return None
    try:
        return {int(k): (int(v[0]), str(v[1])) for k, v in heads.items()}
    except (TypeError, ValueError, IndexError):
        return None


def _anchors(anchors: Iterable[AnchorRow], tops: dict[int, int],
             hashes: dict[tuple[int, int], str], found: list[Problem]
             ) -> tuple[int, dict[int, tuple[int, str]], tuple[int, str] | None]:
    """The anchor chain, and every head it records against the partitions; returns (anchors,
    the newest anchor's heads, its (seq, hash))."""
    expected_seq, expected_prev, count = 1, ANCHOR_GENESIS, 0
    previous: dict[int, tuple[int, str]] = {}
    newest: tuple[int, str] | None = None
    reach: dict[int, tuple[int, int]] = {}  # partition -> (highest anchored seq, first anchor)
    named: set[tuple[int, int]] = set()
    for seq, prev, digest, body in anchors:
        count += 1
        found += _link(None, "anchor", seq, prev, expected_seq, expected_prev, "forged anchor")
        if chain_hash(prev, body) != digest or body.get("seq") != seq:
            found.append(Problem(None, seq, "content does not match its hash (edited or forged "
                                            "anchor)"))
        heads = heads_of(body)
        if heads is None:
            found.append(Problem(None, seq, "records no partition heads (forged anchor)"))
            heads = {}
        for part, (head, head_hash) in sorted(heads.items()):
            _head(seq, part, head, head_hash, hashes, named, found)
            if head > reach.get(part, (0, 0))[0]:
                reach[part] = (head, seq)
            before = previous.get(part)
            if before is not None and before[0] > head:
                found.append(Problem(None, seq, f"takes partition {part} back from seq "
                                                f"{before[0]} to {head} (forged anchor)"))
        for part in sorted(previous.keys() - heads.keys()):
            found.append(Problem(None, seq, f"leaves out partition {part}, which the anchor "
                                            "before it recorded (forged anchor)"))
        expected_seq, expected_prev = seq + 1, digest
        previous, newest = heads, (seq, digest)
    for part, (head, by) in sorted(reach.items()):
        top = tops.get(part, 0)
        if top < head:
            found.append(Problem(part, top + 1, f"missing, though anchor {by} recorded the "
                                                f"partition up to seq {head} (events deleted "
                                                "from its tail)", head))
    return count, previous, newest


def _head(anchor: int, part: int, head: int, head_hash: str,
          hashes: dict[tuple[int, int], str], named: set[tuple[int, int]],
          found: list[Problem]) -> None:
    """One recorded head against the partition: a rewritten run of events no longer ends in
    the hash the anchor recorded (a missing head is named by the partition or the tail)."""
    have = hashes.get((part, head))
    if have is not None and have != head_hash and (part, head) not in named:
        named.add((part, head))
        found.append(Problem(part, head, f"is not the event anchor {anchor} recorded (events "
                                         "rewritten up to it, or a forged anchor)"))


def verify(rows: Iterable[EventRow], anchors: Iterable[AnchorRow]) -> Verdict:
    """Every partition's chain, the anchor chain and each anchored head; ``anchors`` in seq
    order (``rows`` in any order: they are sorted by partition and seq here)."""
    found: list[Problem] = []
    hashes: dict[tuple[int, int], str] = {}
    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    for part, group in itertools.groupby(ordered, key=lambda r: r[0]):
        _walk(part, list(group), found, hashes)
    tops: dict[int, int] = {}
    for part, seq in hashes:
        tops[part] = max(tops.get(part, 0), seq)
    count, heads, newest = _anchors(anchors, tops, hashes, found)
    unanchored = sum(1 for part, seq in hashes if seq > heads.get(part, (0, ""))[0])
    return Verdict(found, len(ordered), len(tops), count, unanchored, newest)
