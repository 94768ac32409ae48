"""The write gate: a change is proposed only from a plain request to make it, now.  Anything
else that reads like one — a question about it, a negation, reported or quoted speech, a
condition or a schedule, the past tense, several requests at once, pasted alerts or YAML, an
amount that is not a whole number of replicas in the direction said — is asked back, offering
the explicit command, so one click (or typing it) still gets the proposal."""

from __future__ import annotations

import re

from agents.understand.result import Understanding, as_command, ask

REQUEST = r"(?:can|could|would|will) (?:you|u|ya)|pls|plz|please|kindly|go ahead and|let'?s"
WRITE_VERBS = (r"(?:restart|scale|delete|remove|rollback|roll back|exec|execute|run|set|enable|"
               r"disable|drop|bounce|kick|update|change|kill|nuke|create|apply|touch|undo|"
               r"revert|back up|backup|destroy|recycle|reboot|bump)")
QUESTION = re.compile(
    r"^\s*(?:who|what|why|how|when|where|which|whose|is|are|was|were|does|did|"
    r"do (?:you|we|i|they)|has|have|"
    r"had|should|shall|must|may|might|can (?:i|we)|could (?:i|we)|would (?:i|we)|"
    r"will (?:it|this|that)|any (?:idea|reason))\b|\b(?:explain|how to|how do (?:i|we|you)|"
    r"what does|what do|tell me (?:how|what|why|if|whether)|describe how|help me understand|"
    r"check (?:if|whether)|whether|verify (?:if|that|whether)|confirm (?:if|that|whether)|"
    r"is it possible)\b")
NEGATION = re.compile(r"\b(?:not|no|never|don'?t|dont|dnt|doesn'?t|didn'?t|shouldn'?t|won'?t|"
                      r"wouldn'?t|mustn'?t|can'?t|cannot|isn'?t|aren'?t|nope|nah|without|stop|"
                      r"avoid|hold off|jk|j/k|kidding|joking|lol|nobody|no one|noone|nothing|"
                      r"instead of|rather than)\b|n't\b")
# How things are, not what to do: "it is not working", "we don't use it any more".
SYMPTOMS = re.compile(r"\b(?:is|are|it'?s|its|s)?\s*not (?:working|ready|starting|responding|"
                      r"healthy|running|up|loading|serving|needed|used)\b|\b(?:don'?t|do not|"
                      r"doesn'?t|does not|isn'?t|aren'?t) (?:use|work|need|respond|serve)\w*|"
                      r"\bno longer\b|\bnot any ?more\b")
REPORTED = re.compile(r"\b(?:said|says|say|told|tells|asked|asks|wrote|writes|suggested|"
                      r"suggests|meant|means|mentioned|claims?|quote|quoted|pasted?|alert|"
                      r"firing|pagerduty|opsgenie|runbook|docs?|documentation)\b|"
                      r"\[(?:firing|alert|error|warn\w*|info|critical|resolved)\]|"
                      r"^\s*(?:error|warn(?:ing)?|info|fatal|critical|debug)\b\s*[:\]]")
CONDITION = re.compile(r"\b(?:if|unless|when|whenever|once|after|before|until|in case|"
                       r"tomorrow|tonight|later|next|every|each|schedule[ds]?|cron|daily|"
                       r"nightly|weekly|am|pm|temporarily)\b|\bat \d|"
                       r"\b(?:in|for) \d+ ?(?:m|mins?|minutes?|h|hrs?|hours?|d|days?)\b")
PAST = re.compile(r"\b(?:restarted|deleted|removed|scaled|enabled|disabled|changed|updated|"
                  r"rolled|reverted|dropped|killed|nuked|bounced|executed|ran|exec'?d|"
                  r"created|modified|edited|upped|bumped|yesterday|earlier|already|tried|"
                  r"attempted|last night|last week|failed)\b")
MANY = re.compile(r"\b(?:but|except|keep|both)\b")
ODD_AMOUNT = re.compile(r"\d[.,]\d|%|\bpercent\b|\b\d+\s*(?:or|to|-)\s*\d+\b|\bor\b|\bmaybe\b|"
                        r"\bbetween\b|\bper\b|\beach\b|\b(?:twenty|thirty|forty|fifty)[\s-]+"
                        r"(?:one|two|three|four|five|six|seven|eight|nine)\b|"
                        r"\babout\b|\baround\b|\b~\d|\bat least\b|\bat most\b|\bmax\b|\bmin\b|"
                        r"\btimes\b|\bx\s?\d{2,}")
MOST_REPLICAS = 200


def _asked(found: Understanding, why: str, current: str) -> Understanding:
    command = as_command(found, current)
    return ask(f"{why} If you want that change, say `{command}` and I will propose it "
               "(nothing changes until someone approves it).", command)


def gate(found: Understanding, text: str, current: str, replicas: int | None = None
         ) -> Understanding:
    """``found`` if it is a write plainly asked for now, else the question that offers it.
    ``text``: the request (cleaned, lower-case; a command to run is not looked into);
    ``replicas``: the target's current count."""
    if not found.write:
        return found
    words = text
    if found.intent == "exec_command":
        words = text.replace(str(found.args.get("command", "")).lower(), " ")
        words = re.sub(r"\band (?:run|execute)\b", " ", words)
    amounts = words
    words = SYMPTOMS.sub(" ", words)
    words = re.sub(r"\S+-\S+", " ", words)  # names ("nightly-report") say nothing here
    body = re.sub(rf"^\s*(?:hey|hi|yo|ok|so|um+|uh+|@?hexabot)?[\s,]*(?:{REQUEST})\b", " ",
                  words)
    if QUESTION.search(body) or (words.rstrip().endswith("?") and not re.search(
            rf"^\s*(?:hey|hi|yo|ok|so)?[\s,]*(?:{REQUEST})\b", words)):
        return _asked(found, "That reads as a question, so I changed nothing.", current)
    for pattern, why in ((NEGATION, "That reads as a negation or a joke,"),
                         (REPORTED, "That reads as quoted or pasted text,"),
                         (CONDITION, "That change depends on a time or a condition,"),
                         (PAST, "That reads as something already done,"),
                         (MANY, "That asks for several things at once,")):
        if pattern is CONDITION and found.intent == "create_backup_cronjob":
            continue  # a schedule is what a backup CronJob is
        if pattern.search(words):
            return _asked(found, f"{why} so I changed nothing.", current)
    backup = found.intent in ("create_backup_job", "create_backup_cronjob")
    if not backup and (len(re.findall(rf"\b{WRITE_VERBS}\b", words)) > 1 or
                       re.search(r"[;\n]", words)):
        return _asked(found, "That asks for several changes at once,", current)
    if found.intent == "delete_resource" and re.search(r"\b(?:backup|back up|snapshot|dump)\b",
                                                       words):
        return _asked(found, "That mixes a backup and a deletion,", current)
    if found.intent == "delete_resource" and re.search(r"\bfrom\b", words):
        return _asked(found, "That reads as taking something out of another object,", current)
    if found.intent == "rollback_deployment" and re.search(
            r"\bv?\d+\.\d+|\b\d+ (?:versions?|revisions?|releases?)\b|\b(?:scale|scaling|"
            r"restart|config|configmap|delete|replicas)\b", words):
        return _asked(found, "A rollback goes back to an earlier revision of the template "
                             "(`changes NAME` lists them), not to a version tag or another "
                             "kind of change,", current)
    if found.intent == "update_configmap":
        for value in (found.args.get("set") or {}).values():
            after = words.split(str(value).lower(), 1)[1] if str(value).lower() in words else ""
            if re.match(r"\s*(?:,\s*\w|or\b|s\b|sec|seconds?\b|ms\b|mins?\b|minutes?\b|"
                        r"[mg]i?b\b|h\b|hours?\b)", after):
                return _asked(found, f"I am not sure of the value for it ({value!r}),", current)
    if found.intent == "exec_command" and str(found.args.get("command", "")).strip(
            " -") == "":
        return _asked(found, "There is no command to run,", current)
    if found.intent == "scale_deployment":
        target = int(found.args["replicas"])
        if ODD_AMOUNT.search(amounts) or target > MOST_REPLICAS or re.search(
                r"\b(?:to|=|by)\s*-\d", amounts):
            return _asked(found, "I am not sure of the number of replicas,", current)
        if replicas is not None and (
                (re.search(r"\b(?:down|reduce|decrease|lower|fewer|less|shrink)\b", words)
                 and target >= replicas) or
                (re.search(r"\b(?:up|increase|more|raise|grow|add)\b", words)
                 and target <= replicas) or (target == 0 and replicas > 0 and not re.search(
                     r"\b(?:to|=|->)\s*(?:0|zero)\b|--replicas[= ]0", words))):
            return _asked(found, f"That amount does not fit the direction said (it has "
                                 f"{replicas} now),", current)
    return found
