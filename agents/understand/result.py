"""What understanding a request produced, and the questions asked back when it is unclear."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from agents.understand import slots
from agents.understand.names import DATABASE_WORDS, Inventory, Mention, Obj, prefer

WRITES = {"scale_deployment", "restart", "rollback_deployment", "update_configmap",
          "delete_resource", "exec_command", "create_backup_job", "create_backup_cronjob"}


@dataclass(frozen=True)
class Understanding:
    intent: str                           # a tool's name, or help / workflows / ask / unknown
    args: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    question: str = ""                    # for ``ask``: what to ask back
    choices: tuple[str, ...] = ()         # commands the person may have meant
    target: Obj | None = None

    @property
    def write(self) -> bool:
        return self.intent in WRITES


def as_command(found: Understanding, current: str) -> str:
    """The explicit command that does what ``found`` understood (to offer it back);
    ``current``: the namespace a command means when it names none."""
    a = found.args
    name = a.get("name") or a.get("workload") or a.get("database") or ""
    where = f" -n {a['namespace']}" if a.get("namespace", current) != current else ""
    if found.intent == "scale_deployment":
        return f"scale {name} {a['replicas']}{where}"
    if found.intent == "rollback_deployment":
        return f"rollback {name}" + (f" --to-revision {a['revision']}" if a.get("revision")
                                     else "") + where
    if found.intent == "delete_resource":
        return f"delete {a['kind']} {name}{where}"
    if found.intent == "exec_command":
        return f"exec {name}{where} -- {a['command']}"
    if found.intent == "update_configmap":
        if a.get("remove") and not a.get("set"):
            return f"remove {' and '.join(a['remove'])} from {name}{where}"
        pairs = " ".join(f"{k}={v}" for k, v in (a.get("set") or {}).items())
        return f"set {pairs} in {name}{where}"
    if found.intent == "create_backup_job":
        return f"backup {name} --to {a['destination_pvc']}"
    verb = {"restart": "restart", "create_backup_cronjob": "backup"}.get(found.intent,
                                                                          found.intent)
    return f"{verb} {name}{where}".strip()


def ask(question: str, *choices: str, confidence: float = 0.3) -> Understanding:
    return Understanding("ask", {}, confidence, question, tuple(dict.fromkeys(choices)))


def target_of(named: list[Mention], inventory: Inventory, found: slots.Slots,
            kinds: tuple[str, ...]) -> tuple[Obj | None, Understanding | None]:
    """The one object meant, or a question (ambiguous, or of another kind)."""
    for mention in named:
        objects = prefer(mention.objects, inventory, found.namespace, kinds)
        if len(objects) == 1:
            return objects[0], None
        if len(objects) > 1:
            options = [f"{o.name} ({o.namespace})" if len({x.name for x in objects}) == 1
                       else o.name for o in objects]
            return None, ask(f"Which one do you mean: {', '.join(options)}?",
                             *(o.name for o in objects))
    return None, None


def nothing(what: str, words: list[str], inventory: Inventory, kinds: tuple[str, ...]
            ) -> Understanding:
    """Nothing of ``kinds`` matches what was said: say so, name what is there, and offer the
    closest names."""
    there = sorted({o.name for o in inventory.of(*kinds)})
    said = " ".join(words[:3])
    close = difflib.get_close_matches(words[0], there, n=3, cutoff=0.3) if words else []
    return ask(f"I found nothing{f' matching {said!r}' if said else ''} in your namespaces "
               f"({', '.join(inventory.namespaces)}). There: {', '.join(there[:12]) or 'nothing'}"
               + (f" (+ {len(there) - 12} more)" if len(there) > 12 else "") + ".",
               *(f"{what} {n}" for n in (close or there)[:3]))


def database(named: list[Mention], inventory: Inventory, found: slots.Slots, words: list[str]
        ) -> tuple[Obj | None, Understanding | None]:
    target, question = target_of(named, inventory, found, ("StatefulSet",))
    if target is not None or question is not None:
        return target, question
    databases = [o for o in inventory.of("StatefulSet") if o.database
                 and (found.namespace is None or o.namespace == found.namespace)]
    if len(databases) == 1 and (DATABASE_WORDS & set(words) or not named):
        return databases[0], None
    if len(databases) > 1:
        return None, ask("Which database: " + ", ".join(d.name for d in databases) + "?",
                         *(f"backup {d.name}" for d in databases))
    return None, None


