"""Command mode: deterministic answers with no LLM (none configured or reachable, or an
explicit command).  Requests as people type them — explicit commands (``status web-app``,
``logs api-service --tail 50``, ``scale api-service 4``) and plain ones ("hows the web app",
"scale ledger down to 2", "what changed in the last hour?", "Something is wrong with my app")
— go through the understanding layer (:mod:`agents.understand`): an intent, its arguments
resolved against the person's live objects, or a question with the likely choices.  Each
intent's handler (:mod:`agents.handlers`) runs the same tools the agent uses; writes only
ever become proposals, and only from an explicit verb, a resolved target and an amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from agents.handlers import Handler, Turn, analysis, reads, writes
from agents.orchestrator.service import Orchestrator
from agents.orchestrator.workflow import WorkflowError
from agents.toolbox import Toolbox
from agents.types import Reply, ToolCall
from agents.understand import Inventory, Understanding, inventory, understand
from tools import errors, kubectl

HELP = """I can answer these without an LLM (command mode):
• `pods` — pods and their state          • `status web-app` — a deployment's rollout
• `logs api-service --tail 50 [--previous]` • `events [name]` — warnings first
• `usage [name]` — CPU/memory vs limits  • `troubleshoot checkout-worker`
• `changes [name] [in the last 2h]` — rollouts, config edits, scaling, approvals
• `scale api-service 4` / `scale ledger down by 1` / `restart api-service` / `rollback web-app`
  — proposals you approve
• `set LOG_LEVEL=debug in web-app-config` / `delete configmap old-flags` /
  `exec web-app -- df -h` — high-risk ones, always approved first
• `backup user-db --to PVC` — a one-off database dump, proposed for approval
• `performance [name]` — usage vs requests/limits, HPA, latency (chart with Prometheus)
• `optimize [name] [--propose]` — rightsizing, replicas, limits, probes, PDBs with costs
• `workflows` / `workflow scale_application name=web-app replicas=4` — multi-step runs
Or ask plainly: "How is my web app doing?", "My API is slow, can you scale it up?",
"Set up backups for my database", "My app keeps crashing", "what changed in the last hour?"."""

# The first words of explicit commands: with an LLM configured, these still skip it.
COMMAND_WORDS = {"help", "pods", "pod", "status", "logs", "scale", "restart", "events",
                 "usage", "troubleshoot", "backup", "workflow", "workflows", "performance",
                 "optimize", "optimise", "services", "changes", "rollback", "delete", "exec",
                 "describe", "set", "remove"}
NAME = r"[a-z0-9][a-z0-9.-]*"
EXPLICIT = (r"help|\?|pods?|services|workflows|events|usage|changes|troubleshoot|performance|"
            rf"optimi[sz]e|(?:status|describe|restart|rollback|events|usage|troubleshoot|"
            rf"performance|changes) {NAME}|logs {NAME}(?: --tail \d+)?(?: --previous)?"
            rf"(?: -c {NAME})?|scale {NAME} (?:to )?\d+(?: replicas)?|delete [a-z]+ {NAME}|"
            rf"exec {NAME}(?: -c {NAME})?(?: --)? \S.*|backup {NAME}(?: --to {NAME})?|"
            rf"optimi[sz]e {NAME}(?: --propose)?|workflow [a-z_][a-z0-9_]*(?: \S+=\S*)*|"
            rf"rollback {NAME}(?: (?:--to-revision[= ]|to revision )\d+)?|"
            rf"set [a-z_][\w.-]*=\S*(?: [a-z_][\w.-]*=\S*)* in {NAME}|"
            rf"remove [a-z_][\w.-]*(?: and [a-z_][\w.-]*)* from {NAME}")
NAMESPACED = rf"(?:{EXPLICIT})(?: -n {NAME})?"
WORKFLOW = re.compile(r"workflow (?P<workflow>[a-z_][a-z0-9_]*)(?: [a-z_][a-z0-9_]*=\S*)*")
HANDLERS: dict[str, Handler] = {
    "list_pods": reads.pods, "list_services": reads.services,
    "get_deployment_status": reads.status, "view_logs": reads.logs,
    "get_events": reads.events, "get_resource_usage": reads.usage,
    "recent_changes": reads.changes, "troubleshoot_issues": analysis.troubleshoot,
    "analyze_performance": analysis.performance, "suggest_optimizations": analysis.optimize,
    "generate_backup_strategy": analysis.backup_strategy,
    "create_backup_cronjob": analysis.backup_cronjob, "create_backup_job": analysis.backup_job,
    "scale_deployment": writes.scale, "restart": writes.restart,
    "rollback_deployment": writes.rollback, "update_configmap": writes.configmap,
    "delete_resource": writes.delete, "exec_command": writes.execute,
}


def explicit(text: str) -> bool:
    """An explicit command (it skips the LLM even when one is configured)."""
    cleaned = text.strip().lower().lstrip("/")
    first = cleaned.split(" ", 1)[0] if cleaned else ""
    return first in COMMAND_WORDS and re.fullmatch(NAMESPACED, cleaned) is not None


def _choices(found: Understanding) -> str:
    if not found.choices:
        return ""
    shown = [f"`{c}`" for c in found.choices[:4]]
    return "\nDid you mean " + (", ".join(shown[:-1]) + " or " + shown[-1]
                                if len(shown) > 1 else shown[0]) + "?"


def yourself(box: Toolbox, most: int = 5) -> tuple[str, ...]:
    """The kubectl commands that read what this turn's successful reads read: the first
    (the main one) of each call's, each once, at most ``most``."""
    lines = [found[0] for call in box.calls if call.ok
             for found in [kubectl.for_read(call.tool, call.args, box.ctx.namespace)] if found]
    return tuple(dict.fromkeys(lines))[:most]


@dataclass
class CommandMode:
    orchestrator: Orchestrator | None = None

    async def handle(self, box: Toolbox, text: str, last: tuple[str, ...] = ()) -> Reply:
        """``last``: what was suggested after the previous answer (``help`` repeats it)."""
        cleaned = re.sub(r"<@[A-Z0-9]+>|^/hexabot\s*", "", text).strip()
        turn = Turn(box, Understanding("unknown"), Inventory(box.ctx.namespace, ()), cleaned)
        try:
            answer = await self._dispatch(turn, last)
        except errors.ToolError as exc:
            answer = f"I could not do that: {exc.message}"
        verdict = turn.verdict
        if verdict is not None:
            answer = f"{verdict.line}\n{answer}"
        return Reply(f"{answer}\n_(command mode)_", "command", tuple(box.proposals),
                     tuple(box.calls), attachments=tuple(box.attachments),
                     suggestions=tuple(turn.suggestions),
                     verdict=verdict.line if verdict is not None else "",
                     facts=tuple(verdict.facts) if verdict is not None else (),
                     kubectl=yourself(box))

    async def _dispatch(self, turn: Turn, last: tuple[str, ...]) -> str:
        lowered = turn.text.lower()
        match = WORKFLOW.fullmatch(lowered)
        if match:
            return await self.workflow(turn, match.group("workflow"))
        if re.fullmatch(r"help|\?|commands|workflows", lowered):  # nothing to look up
            turn.understood = Understanding("help" if lowered != "workflows" else "workflows")
        else:
            turn.inventory = await inventory(turn.box.env, turn.box.ctx)
            turn.understood = understand(turn.text, turn.inventory)
        found = turn.understood
        if found.intent == "help":
            turn.suggest(*last)
            after = ("\nAfter the last answer, try: " + ", ".join(f"`{c}`" for c in last)
                     if last else "")
            return HELP + after
        if found.intent == "workflows":
            return self.workflows()
        if found.intent == "ask":
            turn.suggest(*found.choices)
            return found.question + _choices(found)
        if found.intent == "unknown":
            return f"I did not understand {turn.text!r}.\n{HELP}"
        return await HANDLERS[found.intent](turn)

    def workflows(self) -> str:
        if self.orchestrator is None:
            return "Workflows are not available here (no orchestrator is configured)."
        return "Workflows (`workflow NAME key=value …`):\n" + "\n".join(
            f"• `{w.name}` ({', '.join(i.name + ('' if i.required else '?') for i in w.inputs)})"
            f" — {w.description}" for w in self.orchestrator.workflows.values())

    async def workflow(self, turn: Turn, name: str) -> str:
        """Start a workflow template as the user; its proposals become cards like any other."""
        if self.orchestrator is None:
            return "Workflows are not available here (no orchestrator is configured)."
        inputs = {}
        for pair in turn.text.split()[2:]:
            key, _, value = pair.partition("=")
            inputs[key] = yaml.safe_load(value) if value else ""
        box = turn.box
        try:
            run, proposals = await self.orchestrator.start(box.ctx, name, inputs)
        except WorkflowError as exc:
            return str(exc)
        box.proposals.extend(proposals)
        await box.ran(ToolCall(f"workflow {run.workflow}", inputs, run.state != "failed",
                               run.state, private=self.orchestrator.private(run)))
        return run.text()
