"""Fault knobs: make the sandbox API server slow, failing, silent or slow to commit, on purpose.

Real clusters time out, shed load and sit on writes; Hexabot's failure semantics are tested
against those faults here.  Each knob names the requests it hits as ``VERB:RESOURCE`` — VERB
is the RBAC verb (``get list watch create update patch delete deletecollection``) or ``*``;
RESOURCE is a plural (``deployments``, which also covers its subresources),
``plural/subresource`` (``deployments/scale``, ``pods/log``) or ``*``:

- latency ``SECONDS`` (every request) or ``VERB:RESOURCE=SECONDS``: wait before answering;
- fail ``VERB:RESOURCE=RATE[:CODE]``: answer a ``Status`` error (default 500) with probability
  RATE (0..1);
- blackhole ``VERB:RESOURCE[=RATE]``: accept the request and never answer (until shutdown);
- hold ``VERB:RESOURCE[=SECONDS]`` (writes only): keep the write unapplied and unanswered until
  :meth:`Faults.release` (``POST /sandbox/faults/release``) or SECONDS have passed, then apply
  it — even if the client has given up, as a real server may commit a write whose answer is lost.

Rates draw from one ``random.Random(seed)`` in request order, so a seed makes a sequential test
deterministic.  Every resource request is recorded (:attr:`Faults.records`) with the delay and
fault it got: tests assert on those facts, never on timings.  A faults file (YAML or JSON) holds
the same strings under ``latency``/``fail``/``blackhole``/``hold`` plus ``seed``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox.kube.errors import ApiError

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*")
WRITES = ("create", "update", "patch", "delete", "deletecollection")
REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
           410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable", 504: "Timeout"}


class FaultSpecError(ValueError):
    """A fault knob that cannot be parsed; the message names the knob and the expected form."""


@dataclass(frozen=True)
class Selector:
    verb: str
    resource: str

    def matches(self, verb: str, resource: str) -> bool:
        if self.verb not in ("*", verb):
            return False
        return self.resource in ("*", resource) or resource.startswith(self.resource + "/")

    def __str__(self) -> str:
        return f"{self.verb}:{self.resource}"


@dataclass(frozen=True)
class Rule:
    action: str  # latency | fail | blackhole | hold
    selector: Selector
    rate: float = 1.0
    seconds: float = 0.0
    code: int = 500


@dataclass(frozen=True)
class Record:
    """One resource request as the fault layer saw it."""
    verb: str
    resource: str
    namespace: str | None
    name: str | None
    delay: float
    fault: str  # "" | "fail:CODE" | "blackhole" | "hold"


def _number(text: str, knob: str, what: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise FaultSpecError(f"{knob}: {what} {text!r} is not a number") from exc


def _selector(text: str, knob: str) -> Selector:
    verb, sep, resource = text.partition(":")
    if not sep or not resource or verb not in VERBS:
        raise FaultSpecError(f"{knob}: expected VERB:RESOURCE with VERB one of "
                             f"{', '.join(VERBS)} (got {text!r})")
    return Selector(verb, resource)


def parse_rule(action: str, text: str) -> Rule:
    """One knob string (``patch:deployments=0.5:500``) as a :class:`Rule`."""
    knob = f"--{action} {text!r}"
    target, _, value = str(text).partition("=")
    if action == "latency":
        if not value:  # a bare number: every request
            return Rule("latency", Selector("*", "*"), seconds=_number(target, knob, "seconds"))
        return Rule("latency", _selector(target, knob), seconds=_number(value, knob, "seconds"))
    selector = _selector(target, knob)
    if action == "fail":
        rate_text, _, code_text = value.partition(":")
        if not rate_text:
            raise FaultSpecError(f"{knob}: expected VERB:RESOURCE=RATE[:CODE]")
        code = int(_number(code_text, knob, "code")) if code_text else 500
        if code not in REASONS:
            raise FaultSpecError(f"{knob}: code must be one of {sorted(REASONS)}")
        rule = Rule("fail", selector, rate=_number(rate_text, knob, "rate"), code=code)
    elif action == "blackhole":
        rule = Rule("blackhole", selector, rate=_number(value, knob, "rate") if value else 1.0)
    elif action == "hold":
        if selector.verb not in (*WRITES, "*"):
            raise FaultSpecError(f"{knob}: only writes can be held ({', '.join(WRITES)})")
        rule = Rule("hold", selector, seconds=_number(value, knob, "seconds") if value else 0.0)
    else:
        raise FaultSpecError(f"unknown fault knob {action!r}")
    if not 0.0 <= rule.rate <= 1.0:
        raise FaultSpecError(f"{knob}: rate must be between 0 and 1")
    return rule


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    seed: int | None = None
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._held: set[asyncio.Event] = set()

    @classmethod
    def from_options(cls, *, latency: Iterable[str] = (), fail: Iterable[str] = (),
                     blackhole: Iterable[str] = (), hold: Iterable[str] = (),
                     seed: int | None = None, file: Path | None = None) -> Faults:
        """Knobs from command-line strings, plus (before them) a faults file."""
        knobs: dict[str, list[str]] = {"latency": [], "fail": [], "blackhole": [], "hold": []}
        if file is not None:
            document = _load(file)
            for action in knobs:
                value = document.get(action) or []
                knobs[action] += [str(v) for v in (value if isinstance(value, list)
                                                   else [value])]
            if seed is None and document.get("seed") is not None:
                seed = int(document["seed"])
        for action, values in (("latency", latency), ("fail", fail),
                               ("blackhole", blackhole), ("hold", hold)):
            knobs[action] += list(values)
        return cls([parse_rule(a, v) for a, values in knobs.items() for v in values], seed)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def counts(self) -> Counter[str]:
        """How many requests got each fault (``fail:500``, ``blackhole``, ``hold``, ``latency``)."""
        counter: Counter[str] = Counter(r.fault for r in self.records if r.fault)
        counter["latency"] = sum(1 for r in self.records if r.delay)
        return counter

    def _hit(self, rule: Rule) -> bool:
        return rule.rate >= 1.0 or self._random.random() < rule.rate

    async def apply(self, verb: str, resource: str, namespace: str | None, name: str | None,
                    closing: asyncio.Event) -> None:
        """Delay, fail (raise :class:`ApiError`), black-hole or hold one request."""
        matching = [r for r in self.rules if r.selector.matches(verb, resource)]
        delay = sum(r.seconds for r in matching if r.action == "latency")
        fault = ""
        for rule in matching:
            if rule.action == "blackhole" and self._hit(rule):
                fault = "blackhole"
                break
            if rule.action == "fail" and self._hit(rule):
                fault = f"fail:{rule.code}"
                break
        hold = next((r for r in matching if r.action == "hold" and verb in WRITES), None)
        if not fault and hold is not None:
            fault = "hold"
        self.records.append(Record(verb, resource, namespace, name, delay, fault))
        if delay:
            await asyncio.sleep(delay)
        if fault == "blackhole":
            await closing.wait()
            raise ApiError(503, "ServiceUnavailable", "the sandbox is shutting down")
        if fault.startswith("fail:"):
            code = int(fault.split(":")[1])
            raise ApiError(code, REASONS[code], f"sandbox fault: {verb} {resource} failed "
                           f"with {code} (injected)")
        if hold is not None:
            await self._hold(hold.seconds, closing)

    async def _hold(self, seconds: float, closing: asyncio.Event) -> None:
        released = asyncio.Event()
        self._held.add(released)
        waits = [asyncio.ensure_future(released.wait()), asyncio.ensure_future(closing.wait())]
        try:
            await asyncio.wait(waits, timeout=seconds or None,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()
            self._held.discard(released)

    @property
    def held(self) -> int:
        """Writes held right now."""
        return len(self._held)

    def release(self) -> int:
        """Let every held write through; returns how many were waiting."""
        waiting = list(self._held)
        for event in waiting:
            event.set()
        return len(waiting)

    def summary(self) -> dict[str, Any]:
        return {"rules": [{"action": r.action, "selector": str(r.selector), "rate": r.rate,
                           "seconds": r.seconds, "code": r.code} for r in self.rules],
                "seed": self.seed, "held": self.held, "counts": dict(self.counts()),
                "requests": len(self.records)}


def _load(file: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaultSpecError(f"faults file {file}: {exc}") from exc
    if not isinstance(document, dict) or set(document) - {
            "latency", "fail", "blackhole", "hold", "seed"}:
        raise FaultSpecError(f"faults file {file}: expected a mapping with keys latency, fail, "
                             "blackhole, hold, seed")
    return document
