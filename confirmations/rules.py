"""The guardrail policy document: what the bot *should* do on a user's behalf.

RBAC says what a user may do in the cluster; these rules narrow what Hexabot will propose and
execute for them.  The document is YAML (``HEXABOT_POLICY_FILE``, or the built-in
``default_policy.yaml``), checked whole when it is loaded: unknown keys, unknown tools, bad cron
strings, unknown time zones and impossible ranges are refused with the file and the path of the
offending value (:class:`PolicyError`).  Evaluation lives in :mod:`confirmations.guard`.

    version: 1
    timezone: Europe/Berlin             # default for every period below
    rules:
      - name: prod-guard                # unique; named in every decision and audit event
        tools: ["*"]                    # write tools this rule is about ("*" = every one)
        scope: {workspaces: ["*"], namespaces: ["prod-*"], labels: {tier: web}, kinds: []}
        allow: true                     # false = refused in this scope (with ``reason``)
        risk: high                      # raises the plan's risk, never lowers it
        approvals: one_teammate         # self | one_teammate | two_people
        windows: [{cron: "* 9-17 * * mon-fri"}]    # writes allowed only inside these…
        outside_windows: two_people     # …otherwise deny (default) or escalate
        freezes: [{start: "2026-12-20 00:00", end: "2027-01-04 00:00", then: deny}]
        caps: {max_replicas: 20, max_scale_step: 5, max_resource_change_pct: 50}
        rate: "10/hour"                 # the user's writes in this rule's scope
        concurrency: {per_object: 1, per_user: 3}  # changes in flight
        require_fields: [resources, probes]        # apply_yaml pod templates must have them
        commands: ["env", "df -h"]      # exec_command allowlist ("*" = any command)
    protected:                          # never restarted, deleted or scaled to 0
      - {name: databases, labels: {hexabot.io/protected: "true"}}
"""

from __future__ import annotations

import enum
import functools
import re
import shlex
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tools.errors import HexabotError
from tools.spec import Risk

RATE = re.compile(r"^\s*(\d+)\s*/\s*(minute|hour|day)\s*$")
PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
DEFAULT_FILE = "default_policy.yaml"


class PolicyError(HexabotError):
    """The policy document cannot be used; the message names the file and the path."""

    code = "policy_invalid"


class Approvals(enum.IntEnum):
    """Who must click Approve: the requester may (self), or one / two people other than them."""
    SELF = 1
    ONE_TEAMMATE = 2
    TWO_PEOPLE = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def clicks(self) -> int:
        """How many approvals must be recorded (stored as ``approvals_needed``)."""
        return 2 if self is Approvals.TWO_PEOPLE else 1

    @property
    def excludes_requester(self) -> bool:
        """Whether the requester's own click does not count (stored as ``two_person``)."""
        return self >= Approvals.ONE_TEAMMATE

    @property
    def describe(self) -> str:
        return {Approvals.SELF: "the requester or a teammate",
                Approvals.ONE_TEAMMATE: "one teammate (not the requester)",
                Approvals.TWO_PEOPLE: "two people other than the requester"}[self]

    @classmethod
    def parse(cls, value: str) -> Approvals:
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"approvals must be one of self, one_teammate, two_people, "
                             f"got {value!r}") from None


@functools.lru_cache(maxsize=512)
def _cron_fields(expr: str) -> tuple[frozenset[int] | None, ...] | None:
    """The expanded minute/hour/day/month/weekday sets of a cron expression (None = any);
    None when it uses features only croniter itself can judge (L, #, …)."""
    fields: list[frozenset[int] | None] = []
    for values in croniter(expr).expanded[:5]:
        if values == ["*"]:
            fields.append(None)
        elif all(isinstance(v, int) for v in values):
            fields.append(frozenset(int(v) for v in values))
        else:
            return None
    return tuple(fields)


def cron_match(expr: str, local: datetime) -> bool:
    """Whether the minute ``local`` (wall time in the period's zone) is one the expression
    names; day-of-month and weekday combine with OR when both are restricted, as in cron."""
    fields = _cron_fields(expr)
    if fields is None:
        return bool(croniter.match(expr, local.replace(tzinfo=None)))
    minute, hour, day, month, weekday = fields
    if not ((minute is None or local.minute in minute) and (hour is None or local.hour in hour)
            and (month is None or local.month in month)):
        return False
    dow = (local.weekday() + 1) % 7
    if day is not None and weekday is not None:
        return local.day in day or dow in weekday
    return (day is None or local.day in day) and (weekday is None or dow in weekday)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as "
                         "Europe/Berlin or UTC)") from None


class Period(Strict):
    """A recurring period (``cron``: the minutes it matches) or a date range [start, end)."""
    cron: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = None
    reason: str = ""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (five fields: minute hour "
                             "day-of-month month day-of-week, e.g. '* 9-17 * * mon-fri')")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value

    @model_validator(mode="after")
    def _shape(self) -> Period:
        ranged = self.start is not None or self.end is not None
        if self.cron and ranged:
            raise ValueError("a period is either a cron expression or a start/end range, "
                             "not both")
        if not self.cron and not ranged:
            raise ValueError("a period needs a cron expression or a start and an end")
        if ranged and (self.start is None or self.end is None):
            raise ValueError("a date range needs both start and end")
        if self.start is not None and self.end is not None:
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise ValueError("start and end must both carry a UTC offset or neither")
            if self.end <= self.start:
                raise ValueError(f"impossible range: end {self.end} is not after start "
                                 f"{self.start}")
        return self

    def zone(self, default: str) -> ZoneInfo:
        return _zone(self.timezone or default)

    def contains(self, now: datetime, default_tz: str) -> bool:
        local = now.astimezone(self.zone(default_tz))
        if self.cron:
            return cron_match(self.cron, local)
        assert self.start is not None and self.end is not None
        start, end = (t if t.tzinfo else t.replace(tzinfo=local.tzinfo)
                      for t in (self.start, self.end))
        return start <= now < end

    def next_start(self, now: datetime, default_tz: str) -> datetime | None:
        """When this period next begins (None for a range already over)."""
        zone = self.zone(default_tz)
        if self.cron:
            local = now.astimezone(zone).replace(tzinfo=None)
            nxt: datetime = croniter(self.cron, local).get_next(datetime)
            return nxt.replace(tzinfo=zone)
        assert self.start is not None
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=zone)
        return start if start > now else None

    def ends(self, default_tz: str) -> datetime | None:
        if self.end is None:
            return None
        return self.end if self.end.tzinfo else self.end.replace(tzinfo=self.zone(default_tz))

    def describe(self) -> str:
        where = f" ({self.timezone})" if self.timezone else ""
        if self.cron:
            return f"cron '{self.cron}'{where}"
        return f"{self.start} to {self.end}{where}"


class Freeze(Period):
    then: Literal["deny", "two_people"] = "two_people"


class Scope(Strict):
    workspaces: list[str] = ["*"]
    namespaces: list[str] = ["*"]
    labels: dict[str, str] = {}
    kinds: list[str] = []            # empty = any kind


class Caps(Strict):
    max_replicas: int | None = Field(default=None, ge=0)
    max_scale_step: int | None = Field(default=None, ge=1)
    max_resource_change_pct: float | None = Field(default=None, gt=0)


class Concurrency(Strict):
    per_object: int | None = Field(default=None, ge=1)
    per_user: int | None = Field(default=None, ge=1)


class Rule(Strict):
    name: str = Field(min_length=1, max_length=80)
    tools: list[str] = Field(min_length=1)
    scope: Scope = Scope()
    allow: bool = True
    reason: str = ""
    risk: Risk | None = None
    approvals: str | None = None
    windows: list[Period] = []
    outside_windows: Literal["deny", "two_people"] = "deny"
    freezes: list[Freeze] = []
    caps: Caps = Caps()
    rate: str | None = None
    concurrency: Concurrency = Concurrency()
    require_fields: list[Literal["resources", "probes"]] = []
    commands: list[str] = []

    @field_validator("approvals")
    @classmethod
    def _approvals(cls, value: str | None) -> str | None:
        if value is not None:
            Approvals.parse(value)
        return value

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            match = RATE.match(value)
            if match is None or int(match.group(1)) < 1:
                raise ValueError(f"rate {value!r}: expected N/minute, N/hour or N/day with "
                                 "N ≥ 1, e.g. '10/hour'")
        return value

    @field_validator("commands")
    @classmethod
    def _commands(cls, value: list[str]) -> list[str]:
        for line in value:
            try:
                if not shlex.split(line):
                    raise ValueError("an empty command")
            except ValueError as exc:
                raise ValueError(f"command {line!r} cannot be parsed: {exc}") from None
        return value

    @property
    def approvals_needed(self) -> Approvals | None:
        return Approvals.parse(self.approvals) if self.approvals else None

    @property
    def rate_limit(self) -> tuple[int, timedelta, str] | None:
        match = RATE.match(self.rate or "")
        if match is None:
            return None
        return int(match.group(1)), PERIODS[match.group(2)], match.group(2)

    def argvs(self) -> list[list[str]]:
        return [shlex.split(line) for line in self.commands]


class Protected(Strict):
    name: str = Field(min_length=1, max_length=80)
    workspaces: list[str] = ["*"]
    namespaces: list[str] = ["*"]
    kinds: list[str] = []
    names: list[str] = []            # fnmatch patterns; empty = any name
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _selects(self) -> Protected:
        if not self.names and not self.labels:
            raise ValueError("a protected entry needs names or labels (it would protect "
                             "everything)")
        return self


class Policy(Strict):
    version: Literal[1] = 1
    timezone: str = "UTC"
    rules: list[Rule] = []
    protected: list[Protected] = []
    source: str = Field(default="built-in", exclude=True)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        _zone(value)
        return value

    @model_validator(mode="after")
    def _unique(self) -> Policy:
        names = [r.name for r in self.rules] + [p.name for p in self.protected]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(twice)}")
        return self

    @property
    def counts_in_flight(self) -> bool:
        """Whether any rule limits changes in flight (else nobody needs them looked up)."""
        return any(r.concurrency.per_object or r.concurrency.per_user for r in self.rules)

    def rate_horizon(self) -> timedelta:
        """How far back the user's writes must be looked up for the rate limits."""
        limits = [r.rate_limit[1] for r in self.rules if r.rate_limit]
        return max(limits, default=timedelta(0))


def parse(document: Any, source: str, tools: set[str]) -> Policy:
    """Validate a loaded document; ``tools`` are the write tools rules may name."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PolicyError(f"{source}: expected a mapping with rules/protected, got "
                          f"{type(document).__name__}")
    try:
        policy = Policy.model_validate({**document, "source": source})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(p) for p in error["loc"]) or "(top)"
            message = ("unknown key" if error["type"] == "extra_forbidden"
                       else error["msg"].removeprefix("Value error, "))
            problems.append(f"{source}: {path}: {message}")
        raise PolicyError("\n".join(problems)) from exc
    for i, rule in enumerate(policy.rules):
        unknown = [t for t in rule.tools if t != "*" and t not in tools]
        if unknown:
            raise PolicyError(f"{source}: rules.{i}.tools: unknown write tools "
                              f"{', '.join(unknown)}; known: {', '.join(sorted(tools))}")
    return policy


def load(path: Path | None, tools: set[str]) -> Policy:
    """The policy in ``path``, or the built-in default."""
    if path is None:
        text = resources.files("confirmations").joinpath(DEFAULT_FILE).read_text()
        source = "built-in default policy"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from exc
        source = str(path)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    return parse(document, source, tools)
