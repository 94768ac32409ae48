"""`hexabot eval`: scenarios shipped with Hexabot, run against any configured provider (or
command mode), each with deterministic checks — the tools called (and their arguments), the
proposals made, nothing executed without an approval, the facts the answer must mention — so an
operator can compare models on their own kind of questions, against this bot and its
guardrails (the way HolmesGPT's evals and kubectl-ai's k8s-bench do for theirs).

A scenario (YAML, one per file; ``--scenarios DIR`` for your own)::

    name: crashloop
    question: My app keeps crashing
    as: U0ALICE                       # the demo directory's alice (default)
    expect:
      tools: [troubleshoot_issues]    # each called at least once
      args: {view_logs: {previous: true}}   # some call of the tool had these arguments
      proposals: [apply_yaml]         # each proposed; [] = nothing may be proposed
      mentions: [OOMKilled, checkout-worker]  # in the answer, any case
      avoid: [security vulnerability] # never in the answer
      wording: names the crash-looping workload and why  # only with --judge (an LLM decides)

Every scenario runs on the demo's sandbox cluster as a person of its directory; proposals are
never approved, and a scenario fails if any of its proposals left the pending state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.types import Reply
from app.settings import ConfigError

SHIPPED = "app.evals"


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tools: list[str] = Field(default_factory=list)
    args: dict[str, dict[str, Any]] = Field(default_factory=dict)
    proposals: list[str] | None = None
    mentions: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    wording: str = ""


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    question: str
    who: str = Field(default="U0ALICE", alias="as")
    expect: Expect = Field(default_factory=Expect)


class ScenarioError(ConfigError):
    """A scenario file that cannot be used; the message names the file and the field."""

    code = "scenario_invalid"

    def __init__(self, message: str) -> None:
        super().__init__([message])


def load(directory: Path | None = None) -> list[Scenario]:
    """The shipped scenarios, or those of ``directory`` (``*.yaml``, sorted by name)."""
    if directory is None:
        files = [(f.name, f.read_text()) for f in resources.files(SHIPPED).iterdir()
                 if f.name.endswith(".yaml")]
    else:
        if not directory.is_dir():
            raise ScenarioError(f"{directory}: not a directory of scenario files")
        files = [(str(p), p.read_text()) for p in directory.glob("*.yaml")]
    found = []
    for name, text in sorted(files):
        try:
            found.append(Scenario.model_validate(yaml.safe_load(text)))
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{name}: not YAML: {str(exc).splitlines()[0]}") from exc
        except ValidationError as exc:
            raise ScenarioError(f"{name}: {_first(exc)}") from exc
    if not found:
        raise ScenarioError(f"{directory or SHIPPED}: no scenarios (*.yaml)")
    return found


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc']) or 'scenario'}: {error['msg']}"


@dataclass
class Outcome:
    scenario: str
    passed: bool
    failures: list[str]
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    mode: str = ""
    tools: list[str] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "passed": self.passed, "failures": self.failures,
                "seconds": round(self.seconds, 3), "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "mode": self.mode, "tools": self.tools,
                "proposals": self.proposals}


def check(scenario: Scenario, reply: Reply, still_pending: bool) -> list[str]:
    """What ``reply`` got wrong against ``scenario`` (empty: it passed); ``still_pending``:
    every proposal it made is still waiting for an approval."""
    expect, failures = scenario.expect, []
    called = [c.tool for c in reply.tools_called]
    for tool in expect.tools:
        if tool not in called:
            failures.append(f"did not call {tool} (called: {', '.join(called) or 'nothing'})")
    for tool, wanted in expect.args.items():
        if not any(c.tool == tool and all(c.args.get(k) == v for k, v in wanted.items())
                   for c in reply.tools_called):
            failures.append(f"no {tool} call with {wanted}")
    proposed = [p.tool for p in reply.proposals]
    if expect.proposals is not None:
        if not expect.proposals and proposed:
            failures.append(f"proposed {', '.join(proposed)} where nothing should be")
        for tool in expect.proposals:
            if tool not in proposed:
                failures.append(f"did not propose {tool}")
    text = reply.text.lower()
    failures += [f"does not mention {m!r}" for m in expect.mentions if m.lower() not in text]
    failures += [f"says {a!r}" for a in expect.avoid if a.lower() in text]
    if not still_pending:
        failures.append("a proposal left the pending state without an approval")
    return failures


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    seconds = sorted(o.seconds for o in outcomes)
    return {"scenarios": len(outcomes), "passed": sum(o.passed for o in outcomes),
            "pass_rate": round(sum(o.passed for o in outcomes) / len(outcomes), 3),
            "p50_seconds": round(seconds[len(seconds) // 2], 3),
            "input_tokens": sum(o.input_tokens for o in outcomes),
            "output_tokens": sum(o.output_tokens for o in outcomes)}
