"""What a request asks for: cues (verbs, their synonyms, the nouns people use) weighed per
intent over the words left once names and values are taken out.  Typos of the cue words are
forgiven ("lsit pods", "restrat ledger", "stauts")."""

from __future__ import annotations

import re
from collections import defaultdict

from agents.understand.words import close

Cue = tuple[str, str, float]
CUES: tuple[Cue, ...] = (
    # reads
    ("list_pods", r"\bpods?\b|\bpo\b", 3),
    ("list_pods", r"\bwhat(?:'?s| is| are)? (?:\w+ )?running\b", 3),
    ("list_pods", r"\b(?:get|list|show)\s+(?:all\s+)?(?:the\s+)?pods\b", 1.5),
    ("list_services", r"\b(?:services|svcs?|endpoints)\b", 3.5),
    ("list_services", r"\bexposed\b", 3),
    ("get_events", r"\bevents?\b|\bev\b", 4.5), ("get_events", r"\bwarnings?\b", 3.5),
    ("view_logs", r"\blogs?\b", 5.5), ("view_logs", r"\btail\b", 3),
    ("view_logs", r"\blog lines\b", 2),
    ("get_resource_usage", r"\busage\b", 5), ("get_resource_usage", r"\btop\b", 4.5),
    ("get_resource_usage", r"\beating\b", 4), ("get_resource_usage", r"\bconsum\w*", 3.5),
    ("get_resource_usage", r"\b(?:cpu|memory|mem|ram)\b", 2.5),
    ("get_resource_usage", r"\busing\b", 1), ("get_resource_usage", r"\bmost\b", 1),
    ("get_resource_usage", r"\bhogging\b|\bhog\b", 4),
    ("get_deployment_status", r"\bstatus\b", 4.5), ("get_deployment_status", r"\bdescribe\b", 4.5),
    ("get_deployment_status", r"\bhows?\b(?! (?:much|many|long|do|does|did|can|could|should|"
                              r"would|to|about|come)\b)", 2.5),
    ("get_deployment_status", r"\bdoing\b", 2), ("get_deployment_status", r"\bhealth\w*", 3.5),
    ("get_deployment_status", r"\b(?:ok|okay|fine|alive|running ok)\b", 2),
    ("get_deployment_status", r"\b(?:is|are)\b.*\b(?:ok|okay|fine|alive|up|good)\b", 1.5),
    ("get_deployment_status", r"^(?:is|are) .*\bup\b", 3),
    ("get_deployment_status", r"\bready\b", 2.5),
    ("get_deployment_status", r"\breplicas$|^replicas\b", 3),
    ("get_deployment_status", r"\brollout\b", 3),
    ("get_deployment_status", r"\bhow many (?:replicas|pods|instances)\b", 4),
    ("get_deployment_status", r"\b(?:get|show)\s+(?:the\s+)?deploy(?:ment)?s?\b", 3),
    ("get_deployment_status", r"\bcheck\b", 1), ("get_deployment_status", r"\blooking\b", 1.5),
    ("recent_changes", r"\bchang(?:ed|es)\b", 4.5), ("recent_changes", r"\btouched\b", 4),
    ("recent_changes", r"\b(?:deployed|deploys|rollouts|releases?|shipped)\b", 3.5),
    ("recent_changes", r"\bwhat'?s new\b", 4), ("recent_changes", r"\bhistory\b", 7.5),
    ("recent_changes", r"\bmodified\b", 4),
    ("recent_changes", r"\bwho (?:did|edited|updated)\b", 3),
    ("recent_changes", r"\b(?:did|has|have) (?:anyone|anybody|someone|somebody) (?:chang|touch|"
                       r"modif|edit|deploy|updat)\w*", 4.5),
    # analysis
    ("troubleshoot_issues", r"\bcrash\w*", 4.5), ("troubleshoot_issues", r"\bwrong\b", 4.5),
    ("troubleshoot_issues", r"\bbroken\b|\bbreaking\b|\bbroke\b", 4.5),
    ("troubleshoot_issues", r"\bfail\w*", 3.5), ("troubleshoot_issues", r"\bdown\b", 3),
    ("troubleshoot_issues", r"\boom\w*|\bout of memory\b", 4.5),
    ("troubleshoot_issues", r"\bdying\b|\bdies\b|\bdied\b|\bdead\b", 3.5),
    ("troubleshoot_issues", r"\bdebug\w*|\bdiagnos\w*|\btroubleshoot\w*", 5),
    ("troubleshoot_issues", r"\berrors?\b|\bexceptions?\b|\b5\d\ds?\b", 2.5),
    ("troubleshoot_issues", r"\b(?:keeps?|kept) restarting\b|\brestarting\b", 4.5),
    ("troubleshoot_issues", r"\bnot (?:working|starting|ready|responding)\b", 4.5),
    ("troubleshoot_issues", r"\b(?:issues?|problems?|trouble|unhealthy|stuck|pending)\b", 3),
    ("troubleshoot_issues", r"\bwhy\b", 1),
    ("troubleshoot_issues", r"\brestarts\b|\brestart count\b|\bflapping\b|\bflaky\b", 3.5),
    ("troubleshoot_issues", r"\b(?:off|weird|odd|acting up|unstable|misbehaving)\b", 2.5),
    ("troubleshoot_issues", r"\b(?:high|too many|so many)\b", 1),
    ("troubleshoot_issues", r"\bimagepull\w*", 4),
    ("analyze_performance", r"\bslow\w*", 5.5), ("analyze_performance", r"\blatency\b", 5.5),
    ("analyze_performance", r"\b(?:sluggish|laggy|lagging|lag)\b", 5.5),
    ("analyze_performance", r"\bperform\w*", 4.5),
    ("analyze_performance", r"\bresponse times?\b|\btaking (?:so |too )?long\b", 4.5),
    ("analyze_performance", r"\bp9[059]\b|\bthroughput\b|\btimeouts?\b|\bperf\b", 4),
    ("analyze_performance", r"\banaly[sz]\w*", 2),
    ("suggest_optimizations", r"\boptimi[sz]\w*", 5.5),
    ("suggest_optimizations", r"\bsave (?:money|costs?)\b|\bcut (?:the )?costs?\b", 5.5),
    ("suggest_optimizations", r"\bcosts?\b|\bbill\b|\bspend\w*|\bcheaper\b", 4),
    ("suggest_optimizations", r"\bover.?provision\w*|\bright.?siz\w*|\bwast\w*", 5.5),
    ("suggest_optimizations", r"\bsized (?:right|correctly)\b|\bunder.?utili[sz]\w*", 5),
    ("suggest_optimizations", r"\bidle\b|\brecommendations?\b", 2.5),
    # backups
    ("backup", r"\bback ?ups?\b|\bbacking up\b|\bback(?:ed)? up\b", 5),
    ("backup", r"\bdump\b|\bsnapshot\w*", 3),
    # writes
    ("scale_deployment", r"\bscal(?:e|ed|ing)\b", 5), ("scale_deployment", r"\breplicas?\b", 1),
    ("scale_deployment", r"\b(?:more|fewer|less|extra)\s+(?:\w+\s+)?(?:replicas|pods|instances|"
                         r"copies)\b", 4),
    ("scale_deployment", r"\b(?:set|increase|decrease|reduce|bump|raise|lower|change)\b.*"
                         r"\b(?:replicas|pods|instances)\b", 3),
    ("scale_deployment", r"\b(?:double|halve|triple)\b", 4.5),
    ("restart", r"\b(?:restart|bounce|reboot|recycle|cycle|kick|reload)\b(?! count)", 5.5),
    ("restart", r"\brolling restart\b|\brollout restart\b", 2),
    ("rollback_deployment", r"\broll ?back\b|\brevert\b|\bundo\b|\bdowngrade\b", 6.5),
    ("rollback_deployment", r"\broll\b.*\bback\b|\bgo back to\b", 5.5),
    ("delete_resource", r"\b(?:delete|remove|nuke|destroy|get rid of)\b", 5),
    ("delete_resource", r"\b(?:rm|kill|drop)\b", 2),
    ("exec_command", r"\bexec\b|\bshell\b|\bssh\b", 6), ("exec_command", r"\brun\b|\bexecute\b", 2),
    ("update_configmap", r"\b(?:set|change|update|edit|bump|modify|switch)\b", 2),
    ("update_configmap", r"\b(?:turn|switch) (?:on|off)\b|\benable\b|\bdisable\b", 4.5),
    ("update_configmap", r"\bunset\b|\bflag\b|\bkey\b", 2),
    ("help", r"^(?:help|\?|commands|usage help|hexabot help|help me)(?: \w+)?$", 9),
    ("help", r"\bwhat can you do\b|\bhow (?:do|can) i use\b|\bwhat commands\b", 4.5),
    ("help", r"\bhelp\b", 2),
    ("workflows", r"^workflows?$|\bwhat workflows\b|\blist workflows\b", 8),
)
_WORDS = ({w for _, pattern, _ in CUES
           for w in re.findall(r"[a-z]{4,}", re.sub(r"\\[a-z]|\(\?[:!=]", " ", pattern))}
          | {"logs", "changed", "changes", "pods", "events", "services", "replicas", "backup",
             "backups", "warnings", "errors", "crashing", "crashed", "restarting", "scale",
             "scaled", "scaling", "performance", "optimize", "optimise", "status", "rollback",
             "restart", "describe", "delete", "troubleshoot", "diagnose", "latency"})
# Words a typo is corrected to: those that are cues on their own (not stems like "chang").
VOCABULARY = sorted(w for w in _WORDS if any(re.search(p, w) for _, p, _ in CUES))
KEEP = {"lots", "post", "slow", "stats", "flow", "logo", "with", "from", "what", "when", "work",
        "works", "start", "stop", "test", "tests", "please", "kindly", "thanks", "there",
        "these", "those", "show", "list", "shop", "data", "staging", "more", "most", "cost",
        "want", "deploy", "deploys", "deployment", "deployments", "service", "services",
        "configmap", "configmaps", "secret", "secrets", "cronjob", "cronjobs", "statefulset",
        "ingress", "node", "nodes", "job", "jobs", "deleted", "removed", "restarted",
        "scaled", "enabled", "disabled", "changed", "updated", "rolled", "reverted", "dropped",
        "killed", "bounced", "executed", "created", "modified", "edited", "backed"}


def correct(words: list[str]) -> list[str]:
    """Cue words with a typo, spelled right; every other word as it was."""
    out = []
    for word in words:
        if word in KEEP or len(word) < 4 or not word.isalpha() or any(
                re.search(p, word) for _, p, _ in CUES):
            out.append(word)
            continue
        out.append(next((v for v in VOCABULARY if close(word, v)), word))
    return out


NOUNS = re.compile(r"\b(?:the|a|an|last|recent|latest|previous|that|this|each|every|one|any)\s+"
                   r"(?:restart|rollback|roll back|scale|delete)s?\b")
VERBS_ONLY = {"restart", "rollback_deployment", "scale_deployment", "delete_resource"}


def weigh(text: str) -> dict[str, float]:
    """Each intent's weight in ``text`` (already corrected, names blanked out); a verb used
    as a noun ("the last restart") asks for nothing."""
    verbs = NOUNS.sub(" ", text)
    scores: dict[str, float] = defaultdict(float)
    for intent, pattern, weight in CUES:
        if re.search(pattern, verbs if intent in VERBS_ONLY else text):
            scores[intent] += weight
    if re.search(r"\b(?:scale|scaled|scaling)\b[^.]*\bdown\b|\bdown (?:to|by)\b", text):
        scores["troubleshoot_issues"] -= 3  # "scale down" is not "is down"
    if re.search(r"\b(?:restart|bounce|kick)\b", text) and "restarting" not in text:
        scores["troubleshoot_issues"] -= 1
    if re.search(r"\bback ?up|\bbacking up", text):
        if re.search(r"\b(?:restore|recover|fail\w*|error\w*|broken|missing)\b", text):
            scores.pop("backup", None)  # about backups that exist, not a new one
        elif re.search(r"\b(?:delete|remove|nuke|destroy|drop)\b", text):
            scores["backup"] = scores["delete_resource"] = 0.0  # which? asked back
            scores["unclear"] = 9.0
        else:
            scores["delete_resource"] = 0.0  # "take a backup, then drop…" is a backup first
    return dict(scores)
