"""One request → one :class:`Understanding`: the intent, the tool's arguments with every name
resolved against the person's live objects, a confidence, and — when a name, an amount or the
intent itself is unclear — a question with the likely choices instead of a guess.

A write is proposed only from an explicit verb, a resolved target and (for scaling) an amount;
anything less is asked back.
"""

from __future__ import annotations

import re

from agents.understand import edits, normalize, slots
from agents.understand.build import build
from agents.understand.gate import gate
from agents.understand.intents import correct, weigh
from agents.understand.names import (
    KIND_WORDS,
    WORKLOADS,
    Inventory,
    Mention,
    mentions,
    name_like,
    prefer,
)
from agents.understand.result import Understanding, as_command, ask
from agents.understand.words import number, tokens

STRATEGY = re.compile(r"\b(strategy|advice|advise|recommend\w*|how should|best way|"
                      r"how (?:do|would|can) (?:you|we|i)|plan|suggest\w*|what'?s a good|"
                      r"options|ideas|approach|just advice)\b")
FILLER = {"please", "pls", "plz", "kindly", "can", "could", "would", "you", "u", "me", "the",
          "a", "an", "my", "our", "is", "are", "it", "its", "of", "for", "to", "in", "on", "at",
          "and", "with", "now", "right", "just", "hey", "hi", "some", "do", "does", "did",
          "what", "whats", "which", "why", "how", "hows", "this", "that", "there", "all",
          "any", "anything", "show", "give", "get", "list", "tell", "see", "i", "we", "us",
          "be", "been", "from", "by", "up", "down", "more", "less", "so", "too", "very",
          "really", "quick", "quickly", "need", "needful", "want", "wanna", "lets", "let",
          "have", "has", "again", "currently", "thanks", "thank", "ok", "okay", "yo", "also",
          "then", "into", "inside", "about", "go", "going", "look", "like", "seems", "will",
          "was", "were", "after", "before", "should", "same", "one", "out", "run", "running"}


def understand(text: str, inventory: Inventory) -> Understanding:
    t = slots.Text(normalize.spell(normalize.clean(text), inventory))
    found = slots.Slots()
    lowered = t.lower
    if re.search(r"\b(?:exec|execute|shell|run)\b", lowered):
        slots.exec_command(t, found, {o.name for o in inventory.objects})
    slots.revision(t, found)
    if re.search(r"--replicas|\breplicas?\s*(?:=|->|=>|\u2192|:)\s*\d", t.lower):
        slots.amounts(t, found)
    slots.namespace(t, inventory.namespaces, found)
    slots.window(t, found)
    slots.log_options(t, found)
    if re.search(r"\bback ?up|\bbacking up|\bdump|\bsnapshot", lowered):
        slots.pvc(t, found)
    edit = edits.extract(t, inventory, found)
    if edit is None and found.replicas is None:
        slots.amounts(t, found)
    words = tokens(t.lower)
    named = mentions(t.lower, inventory)
    spans = {i for m in named for i in range(*m.words)}
    rest = [w for i, w in enumerate(words) if i not in spans]
    found.numbers = [int(w) for w in rest if w.isdigit()]
    found.words = words
    kinds = [KIND_WORDS[w] for w in rest if w in KIND_WORDS]
    found.kind = next((k for k in kinds if k != "Pod"), kinds[0] if kinds else None)
    named_words = {words[i] for i in spans}
    cue_words = [w for w in tokens(normalize.cues(t.lower)) if w not in named_words]
    scores = weigh(" ".join(correct(cue_words)))
    if edit is None:
        scores.pop("update_configmap", None)
    else:
        scores["update_configmap"] = scores.get("update_configmap", 0) + 6
        scores.pop("delete_resource", None)
    if found.command is None:
        scores["exec_command"] = scores.get("exec_command", 0) - 2  # "run" alone is not exec
    else:
        scores["exec_command"] = scores.get("exec_command", 0) + 2
    if found.tail_lines is not None:
        scores["view_logs"] = scores.get("view_logs", 0) + 3.5
    if found.since_minutes is not None:
        scores["recent_changes"] = scores.get("recent_changes", 0) + 2
    if found.delta is not None or found.factor is not None or "replicas" in cue_words or \
            "replica" in cue_words:
        scores.pop("delete_resource", None)  # "drop ledger by one replica" scales it
    if found.delta is not None or found.factor is not None or found.replicas is not None:
        scores["scale_deployment"] = scores.get("scale_deployment", 0) + (
            1 if found.replicas is not None and not found.counted else 3.5)
    return _decide(scores, found, named, rest, inventory, edit, lowered)


def _ranked(scores: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(((k, v) for k, v in scores.items() if v > 0), key=lambda kv: -kv[1])


def _decide(scores: dict[str, float], found: slots.Slots, named: list[Mention],
            rest: list[str], inventory: Inventory, edit: edits.Edit | None,
            lowered: str) -> Understanding:
    ranked = _ranked(scores)
    leftovers = [w for w in rest if w not in FILLER and w not in KIND_WORDS
                 and number(w) is None and len(w) > 2 and not weigh(w)]
    unknown_names = name_like(" ".join(rest), inventory, set())
    if found.unknown_namespace:
        return ask(f"I do not know the namespace {found.unknown_namespace!r}: yours are "
                   f"{', '.join(inventory.namespaces)}.",
                   *(f"{lowered.split()[0] if lowered.split() else 'pods'} -n {n}"
                     for n in inventory.namespaces[:3]))
    if not ranked or ranked[0][1] < 2.5:
        return _no_intent(found, named, inventory, leftovers)
    intent, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    confidence = round(top / (top + second), 2)
    if intent == "unclear":
        return ask("I am not sure what you want changed; say it as one command, e.g. "
                   "`delete cronjob NAME` or `backup DATABASE`.")
    if intent == "backup":
        intent = ("generate_backup_strategy" if STRATEGY.search(lowered) else
                  "create_backup_job" if found.pvc else "create_backup_cronjob")
    if intent in ("help", "workflows"):
        return Understanding(intent, {}, confidence)
    built = build(intent, confidence, found, named, inventory, edit, unknown_names, leftovers)
    if built.write and normalize.HYPOTHETICAL.search(lowered):
        command = as_command(built, inventory.current)
        return ask(f"Do you want me to propose that? Say `{command}` and I will (nothing "
                   "changes until someone approves it).", command)
    return gate(built, lowered, inventory.current,
                built.target.replicas if built.target is not None else None)


def _no_intent(found: slots.Slots, named: list[Mention], inventory: Inventory,
               leftovers: list[str]) -> Understanding:
    """No clear verb: a name (and a number) is asked back with what it could mean."""
    if named and all(o.kind == "ConfigMap" for o in named[0].objects):
        configmap = named[0].objects[0]
        keys = ", ".join(configmap.keys[:8]) or "none"
        return ask(f"What should I do with ConfigMap {configmap.name} (keys: {keys})?",
                   f"set KEY=VALUE in {configmap.name}", f"events {configmap.name}",
                   f"changes {configmap.name}")
    if named:
        objects = prefer(named[0].objects, inventory, found.namespace, WORKLOADS)
        if objects:
            name = objects[0].name
            amount = found.replicas if found.replicas is not None else next(
                (n for w in leftovers if (n := number(w)) is not None), None)
            if amount is None and found.numbers:
                amount = found.numbers[0]
            if amount is not None:
                return ask(f"What should I do with {name} and {amount}?",
                           f"scale {name} {amount}", f"logs {name} --tail {amount}")
            return ask(f"What would you like to know about {name}?", f"status {name}",
                       f"logs {name}", f"events {name}", f"troubleshoot {name}")
    return Understanding("unknown", {}, 0.0)



__all__ = ["Understanding", "understand"]
