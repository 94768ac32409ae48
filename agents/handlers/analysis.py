"""Analysis intents: troubleshooting, performance, optimisation and backups — analyse first,
then offer (as proposals to approve) only the fix the analysis supports."""

from __future__ import annotations

import re
from typing import Any

from agents import verdicts
from agents.handlers import Turn, proposed_line
from agents.handlers.next import after_findings

CAPACITY = re.compile(r"\b(scale|replicas?|more pods|add (?:more )?(?:pods|replicas)|"
                      r"bigger|more (?:cpu|memory|resources))\b")


async def troubleshoot(turn: Turn) -> str:
    """The diagnosis engine over the namespace (or the named workload's), root causes
    first; the top finding's fix, when a write tool can apply it, becomes a proposal."""
    target, box = turn.understood.target, turn.box
    namespace = target.namespace if target else turn.understood.args.get(
        "namespace", box.ctx.namespace)
    findings, unreadable = await box.diagnose(namespace)
    if target is not None:
        findings = [f for f in findings if f.name == target.name]
    scope = target.name if target else f"namespace {namespace}"
    turn.verdict = verdicts.findings(scope, findings) if findings else None
    if not findings:
        return f"I found nothing wrong with {scope}." + (
            f" (I could not read: {', '.join(unreadable)})" if unreadable else "")
    lines = [f.text() for f in findings[:5]]
    if len(findings) > 5:
        lines.append(f"+ {len(findings) - 5} more findings: "
                     + ", ".join(sorted({f.name for f in findings[5:]})))
    top = findings[0]
    if top.proposal is not None:
        proposal = await box.propose(top.proposal["tool"],
                                     {**top.proposal["args"], "namespace": namespace})
        lines.append(proposed_line(proposal, "Proposed fix"))
    after_findings(turn, list(dict.fromkeys(f.name for f in findings)))
    return "\n".join(lines)


async def performance(turn: Turn) -> str:
    """The analysis first; when the person asked for more capacity ("can you scale it up?"),
    the capacity fixes the analysis supports become proposals — or the answer says that it
    does not support one."""
    target, box = turn.understood.target, turn.box
    args = dict(turn.understood.args)
    result = await box.read("analyze_performance", args)
    lines = [result.text]
    if target is None or not CAPACITY.search(turn.text.lower()):
        if target is not None:
            turn.suggest(f"optimize {target.name}", f"usage {target.name}")
        return result.text
    rows = [w for w in result.data.get("workloads") or [] if w["name"] == target.name]
    notes = rows[0]["notes"] if rows else []
    pressure = [n for n in notes if "CPU limit" in n or "HPA" in n or "ready" in n
                or "memory limit" in n]
    if not pressure:
        turn.verdict = verdicts.Verdict(f"{target.name} shows no capacity pressure: more "
                                        "replicas would not make it faster.")
        lines.append(f"The analysis shows no capacity pressure on {target.name} (nothing near "
                     "its limits, every replica ready), so more replicas would not make it "
                     f"faster; look at `logs {target.name}` and `events {target.name}`.")
        turn.suggest(f"logs {target.name}", f"events {target.name}")
        return "\n".join(lines)
    found = await box.read("suggest_optimizations", {"namespace": target.namespace,
                                                     "name": target.name})
    offered = [s for s in found.data.get("suggestions") or []
               if s["proposal"] and (s["cost_delta"] or 0) > 0]
    hpa = rows[0].get("hpa") if rows else None
    if hpa:
        lines.append(f"{target.name} is scaled by its HPA ({hpa['min']}..{hpa['max']}, now "
                     f"{hpa['current']}): replicas follow CPU by themselves.")
    for suggestion in offered:
        proposal = await box.propose(suggestion["proposal"]["tool"], {
            **suggestion["proposal"]["args"], "namespace": target.namespace})
        lines.append(f"Because {'; '.join(pressure)}: " + proposed_line(proposal))
    if not offered:
        lines.append(f"The analysis notes {'; '.join(pressure)}, but no change it supports "
                     "can be proposed automatically.")
    by_hpa = (f"; its HPA already sets the replicas ({hpa['min']}..{hpa['max']}, now "
              f"{hpa['current']})" if hpa else "")
    fix = ("; proposed for approval: " + "; ".join(s["detail"] for s in offered)
           if offered else "; no fix can be proposed automatically")
    turn.verdict = verdicts.Verdict(f"{target.name} is under pressure: {'; '.join(pressure)}"
                                    f"{by_hpa}{fix}",
                                    [("Replicas (HPA)", f"{hpa['min']}..{hpa['max']}, now "
                                      f"{hpa['current']}")] if hpa else [])
    return "\n".join(lines)


async def optimize(turn: Turn) -> str:
    """Suggestions; with ``--propose`` (and a name) each ready plan becomes a proposal."""
    args: dict[str, Any] = dict(turn.understood.args)
    result = await turn.box.read("suggest_optimizations", args)
    if "--propose" not in turn.text:
        ready = sum(1 for s in result.data["suggestions"] if s["proposal"])
        hint = (f"\n{ready} of them can be proposed for approval: `optimize NAME "
                "--propose`." if ready else "")
        return result.text + hint
    if not args.get("name"):
        return "Name the workload to propose changes for: `optimize web-app --propose`."
    lines = [result.text]
    for suggestion in result.data["suggestions"]:
        if suggestion["proposal"]:
            proposal = await turn.box.propose(suggestion["proposal"]["tool"], {
                **suggestion["proposal"]["args"], "namespace": args["namespace"]})
            lines.append(f"Proposed ({suggestion['kind']}): {proposal.summary} — "
                         f"awaiting approval #{proposal.id}.")
    return "\n".join(lines)


async def backup_strategy(turn: Turn) -> str:
    args = turn.understood.args
    plan, _ = await turn.box.backup_strategy(args["namespace"], args["database"])
    turn.suggest(f"backup {args['database']}")
    return plan.text()


async def backup_cronjob(turn: Turn) -> str:
    args = turn.understood.args
    plan, _ = await turn.box.backup_strategy(args["namespace"], args["database"])
    proposal = await turn.box.propose("create_backup_cronjob", dict(args))
    return (f"{plan.text()}\nProposed: {proposal.summary}. Awaiting approval #{proposal.id}."
            f"\n(For a one-off dump into a volume: `backup {args['database']} --to "
            "PVC-NAME`.)")


async def backup_job(turn: Turn) -> str:
    target = turn.understood.target
    engine = "mysql" if target is not None and any(
        "mysql" in i or "maria" in i for i in target.images) else "postgres"
    proposal = await turn.box.propose("create_backup_job",
                                      {**turn.understood.args, "engine": engine})
    return f"Proposed: {proposal.summary}. Awaiting approval #{proposal.id}."
