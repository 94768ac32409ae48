"""A finding: one root cause, its evidence, the symptoms it explains, and the fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class Finding:
    code: str
    severity: str                      # critical | warning | info
    kind: str
    namespace: str
    name: str
    cause: str
    fix: str
    evidence: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    proposal: dict[str, Any] | None = None   # {"tool": …, "args": {…}} a write tool can plan

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity,
                "resource": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
                "evidence": self.evidence + [f"symptom: {s}" for s in self.symptoms],
                "cause": self.cause, "fix": self.fix, "proposal": self.proposal}

    def text(self) -> str:
        lines = [f"[{self.severity}] {self.code} {self.kind} {self.namespace}/{self.name}: "
                 f"{self.cause}", f"  fix: {self.fix}"]
        lines += [f"  evidence: {e}" for e in self.evidence[:6]]
        lines += [f"  also explains: {s}" for s in self.symptoms[:4]]
        return "\n".join(lines)
