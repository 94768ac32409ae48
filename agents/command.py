"""Command mode: deterministic answers with no LLM (none configured or reachable, or an
explicit command).  Explicit commands (``status web-app``, ``pods``, ``logs api-service --tail
50``, ``scale api-service 4``, ``restart api-service``, ``events``, ``usage``, ``troubleshoot
app``, ``backup user-db --to PVC``, ``help``) and plain requests ("How is my web app doing?",
"My API is slow, can you scale it up?", "Set up backups for my database", "My app keeps
crashing") are mapped to the same tools the agent uses; names are resolved against the real
workloads in the user's namespace, and ambiguity is asked back, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml

from agents.orchestrator.service import Orchestrator
from agents.orchestrator.workflow import WorkflowError
from agents.resolve import Match, resolve
from agents.toolbox import Toolbox
from agents.types import Reply, ToolCall
from tools import errors

HELP = """I can answer these without an LLM (command mode):
• `pods` — pods and their state          • `status web-app` — a deployment's rollout
• `logs api-service --tail 50 [--previous]` • `events [name]` — warnings first
• `usage [name]` — CPU/memory vs limits  • `troubleshoot checkout-worker`
• `scale api-service 4` / `restart api-service` — proposals you approve
• `delete configmap old-flags` / `exec web-app df -h` — high-risk, always approved first
• `backup user-db --to PVC` — a one-off database dump, proposed for approval
• `performance [name]` — usage vs requests/limits, HPA, latency (chart with Prometheus)
• `optimize [name] [--propose]` — rightsizing, replicas, limits, probes, PDBs with costs
• `workflows` / `workflow scale_application name=web-app replicas=4` — multi-step runs
Or ask plainly: "How is my web app doing?", "My API is slow, can you scale it up?",
"Set up backups for my database", "My app keeps crashing"."""

Handler = Callable[["CommandMode", Toolbox, dict[str, Any], str], Awaitable[str]]


@dataclass
class CommandMode:
    orchestrator: Orchestrator | None = None

    async def handle(self, box: Toolbox, text: str) -> Reply:
        cleaned = re.sub(r"<@[A-Z0-9]+>|^/hexabot\s*", "", text).strip()
        try:
            answer = await self._dispatch(box, cleaned)
        except errors.ToolError as exc:
            answer = f"I could not do that: {exc.message}"
        return Reply(f"{answer}\n_(command mode)_", "command", tuple(box.proposals),
                     tuple(box.calls), attachments=tuple(box.attachments))

    async def _dispatch(self, box: Toolbox, text: str) -> str:
        lowered = text.lower()
        for pattern, handler in EXPLICIT:
            match = re.fullmatch(pattern, lowered)
            if match:
                return await handler(self, box, match.groupdict(), text)
        for keywords, handler in INTENTS:
            if any(re.search(k, lowered) for k in keywords):
                return await handler(self, box, {"about": text}, text)
        return f"I did not understand {text!r}.\n{HELP}"

    # -- resolution ----------------------------------------------------------------------
    async def _target(self, box: Toolbox, text: str, kind: str | None = None
                      ) -> tuple[dict[str, Any] | None, str]:
        found = await box.workloads()
        match: Match = resolve(text, found, kind, prefer_namespace=box.ctx.namespace)
        if match.found is not None:
            return match.found, ""
        if match.ambiguous:
            options = ", ".join(f"{w['name']} ({w['namespace']})" for w in match.candidates)
            return None, f"Which one do you mean: {options}?"
        names = ", ".join(sorted({w["name"] for w in found}))
        return None, (f"I found nothing matching {text!r} in your namespaces "
                      f"({', '.join(box.ctx.namespaces)}). There: {names or 'no workloads'}.")

    # -- handlers ------------------------------------------------------------------------
    async def help(self, box: Toolbox, _: dict[str, Any], __: str) -> str:
        return HELP

    async def pods(self, box: Toolbox, _: dict[str, Any], __: str) -> str:
        return (await box.read("list_pods", {})).text

    async def status(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        target, problem = await self._target(box, groups.get("name") or text)
        if target is None:
            return problem
        where = {"namespace": target["namespace"]}
        if target["kind"] != "Deployment":
            pods = await box.read("list_pods", {"label_selector": _selector(target), **where})
            return f"{target['kind']} {target['name']}:\n{pods.text}"
        status = await box.read("get_deployment_status", {"name": target["name"], **where})
        usage = await box.read("get_resource_usage", {"label_selector": _selector(target),
                                                      **where})
        return f"{status.text}\n{usage.text}"

    async def logs(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        pod, problem = await self._pod(box, groups.get("name") or text)
        if pod is None:
            return problem
        tail = int(groups.get("tail") or 50)
        return (await box.read("view_logs", {"pod": pod["name"], "tail_lines": tail,
                                             "namespace": pod["namespace"],
                                             "previous": bool(groups.get("previous"))})).text

    async def events(self, box: Toolbox, groups: dict[str, Any], _: str) -> str:
        args = {"object_name": groups["name"]} if groups.get("name") else {}
        return (await box.read("get_events", args)).text

    async def usage(self, box: Toolbox, groups: dict[str, Any], _: str) -> str:
        if not groups.get("name"):
            return (await box.read("get_resource_usage", {})).text
        target, problem = await self._target(box, groups["name"])
        if target is None:
            return problem
        return (await box.read("get_resource_usage", {"label_selector": _selector(target),
                                                      "namespace": target["namespace"]})).text

    async def scale(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        target, problem = await self._target(box, groups.get("name") or text, "Deployment")
        if target is None:
            return problem
        replicas = int(groups["replicas"]) if groups.get("replicas") else target["replicas"] + 1
        proposal = await box.propose("scale_deployment", {"name": target["name"],
                                                          "replicas": replicas,
                                                          "namespace": target["namespace"]})
        cost = f"; cost {proposal.cost_delta:+.2f} USD/month" if proposal.cost_delta else ""
        return (f"Proposed: {proposal.summary} (risk {proposal.risk}{cost}). Awaiting approval "
                f"#{proposal.id}.")

    async def restart(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        target, problem = await self._target(box, groups.get("name") or text, "Deployment")
        if target is None:
            return problem
        proposal = await box.propose("restart", {"name": target["name"],
                                                 "namespace": target["namespace"]})
        return f"Proposed: {proposal.summary}. Awaiting approval #{proposal.id}."

    async def delete(self, box: Toolbox, groups: dict[str, Any], _: str) -> str:
        kind = KIND_WORDS.get(groups["kind"], groups["kind"])
        proposal = await box.propose("delete_resource", {"kind": kind, "name": groups["name"]})
        return (f"Proposed: {proposal.summary} (risk {proposal.risk}). Awaiting approval "
                f"#{proposal.id}.\n{proposal.diff}")

    async def exec(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        """``exec POD|APP [-c CONTAINER] [--] COMMAND…``: the command keeps its case."""
        original = re.fullmatch(EXEC, text.strip(), re.IGNORECASE)
        pod, problem = await self._pod(box, groups["name"])
        if pod is None or original is None:
            return problem or "Say it as `exec POD [-c CONTAINER] -- COMMAND`."
        args: dict[str, Any] = {"pod": pod["name"], "namespace": pod["namespace"],
                                "command": original.group("command")}
        if groups.get("container"):
            args["container"] = groups["container"]
        proposal = await box.propose("exec_command", args)
        return f"Proposed: {proposal.summary}. Awaiting approval #{proposal.id}."

    async def backup(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        """A backup strategy for the database and its CronJob as a proposal; ``--to PVC``
        asks for a one-off dump into a PVC instead."""
        database, problem = await self._target(box, groups.get("name") or f"database {text}",
                                               "StatefulSet")
        if database is None:
            return problem
        where = {"database": database["name"], "namespace": database["namespace"]}
        if groups.get("pvc"):
            engine = "mysql" if any("mysql" in i or "maria" in i for i in database["images"]) \
                else "postgres"
            proposal = await box.propose("create_backup_job", {
                **where, "engine": engine, "destination_pvc": groups["pvc"]})
            return f"Proposed: {proposal.summary}. Awaiting approval #{proposal.id}."
        plan, _ = await box.backup_strategy(database["namespace"], database["name"])
        proposal = await box.propose("create_backup_cronjob", where)
        return (f"{plan.text()}\nProposed: {proposal.summary}. Awaiting approval "
                f"#{proposal.id}.\n(For a one-off dump into a volume: `backup "
                f"{database['name']} --to PVC-NAME`.)")

    async def troubleshoot(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        """The diagnosis engine over the namespace (or the named workload's), root causes
        first; the top finding's fix, when a write tool can apply it, becomes a proposal."""
        named, namespace, workload = groups.get("name"), box.ctx.namespace, ""
        if named:
            target, problem = await self._target(box, named)
            if target is None:
                return problem
            namespace, workload = target["namespace"], target["name"]
        elif groups.get("about"):  # "what is wrong with X": X if it names a workload
            match = resolve(groups["about"], await box.workloads(),
                            prefer_namespace=box.ctx.namespace)
            if match.found is not None:
                named = match.found["name"]
                namespace, workload = match.found["namespace"], match.found["name"]
        findings, unreadable = await box.diagnose(namespace)
        if workload:
            findings = [f for f in findings if f.name == workload]
        if not findings:
            scope = f"{named}" if named else f"namespace {namespace}"
            return f"I found nothing wrong with {scope}." + (
                f" (I could not read: {', '.join(unreadable)})" if unreadable else "")
        lines = [f.text() for f in findings[:5]]
        top = findings[0]
        if top.proposal is not None:
            args = {**top.proposal["args"], "namespace": namespace}
            proposal = await box.propose(top.proposal["tool"], args)
            lines.append(f"Proposed fix: {proposal.summary} — awaiting approval #{proposal.id}.")
        return "\n".join(lines)

    async def _scoped(self, box: Toolbox, groups: dict[str, Any]
                      ) -> tuple[dict[str, Any] | None, str]:
        """Tool args for one named workload (its namespace), or the current namespace."""
        if not groups.get("name"):
            return {}, ""
        target, problem = await self._target(box, groups["name"])
        if target is None:
            return None, problem
        return {"name": target["name"], "namespace": target["namespace"]}, ""

    async def performance(self, box: Toolbox, groups: dict[str, Any], _: str) -> str:
        args, problem = await self._scoped(box, groups)
        if args is None:
            return problem
        return (await box.read("analyze_performance", args)).text

    async def optimize(self, box: Toolbox, groups: dict[str, Any], _: str) -> str:
        """Suggestions; with ``--propose`` (and a name) each ready plan becomes a proposal."""
        args, problem = await self._scoped(box, groups)
        if args is None:
            return problem
        result = await box.read("suggest_optimizations", args)
        if not groups.get("propose"):
            ready = sum(1 for s in result.data["suggestions"] if s["proposal"])
            hint = (f"\n{ready} of them can be proposed for approval: `optimize NAME "
                    "--propose`." if ready else "")
            return result.text + hint
        if not args:
            return "Name the workload to propose changes for: `optimize web-app --propose`."
        lines = [result.text]
        for suggestion in result.data["suggestions"]:
            if suggestion["proposal"]:
                proposal = await box.propose(suggestion["proposal"]["tool"], {
                    **suggestion["proposal"]["args"], "namespace": args["namespace"]})
                lines.append(f"Proposed ({suggestion['kind']}): {proposal.summary} — "
                             f"awaiting approval #{proposal.id}.")
        return "\n".join(lines)

    async def workflows(self, box: Toolbox, _: dict[str, Any], __: str) -> str:
        if self.orchestrator is None:
            return "Workflows are not available here (no orchestrator is configured)."
        return "Workflows (`workflow NAME key=value …`):\n" + "\n".join(
            f"• `{w.name}` ({', '.join(i.name + ('' if i.required else '?') for i in w.inputs)})"
            f" — {w.description}" for w in self.orchestrator.workflows.values())

    async def workflow(self, box: Toolbox, groups: dict[str, Any], text: str) -> str:
        """Start a workflow template as the user; its proposals become cards like any other."""
        if self.orchestrator is None:
            return "Workflows are not available here (no orchestrator is configured)."
        inputs: dict[str, Any] = {}
        for pair in text.split()[2:]:
            key, _, value = pair.partition("=")
            inputs[key] = yaml.safe_load(value) if value else ""
        try:
            run, proposals = await self.orchestrator.start(box.ctx, groups["workflow"], inputs)
        except WorkflowError as exc:
            return str(exc)
        box.proposals.extend(proposals)
        await box.ran(ToolCall(f"workflow {run.workflow}", inputs, run.state != "failed",
                               run.state, private=self.orchestrator.private(run)))
        return run.text()

    async def _pod(self, box: Toolbox, text: str) -> tuple[dict[str, Any] | None, str]:
        pods = (await box.read("list_pods", {})).data["pods"]
        exact = [p for p in pods if p["name"] == text.strip()]
        if exact:
            return {**exact[0], "namespace": box.ctx.namespace}, ""
        target, problem = await self._target(box, text)
        if target is None:
            return None, problem
        if target["namespace"] != box.ctx.namespace:
            pods = (await box.read("list_pods", {"namespace": target["namespace"]})).data["pods"]
        owned = [{**p, "namespace": target["namespace"]} for p in pods
                 if p["name"].startswith(target["name"] + "-")]
        if not owned:
            return None, f"{target['name']} has no pods."
        return max(owned, key=lambda p: p["restarts"]), ""


def _selector(workload: dict[str, Any]) -> str:
    app = workload["labels"].get("app")
    return f"app={app}" if app else ""


NAME = r"(?P<name>[a-z0-9][a-z0-9.-]*)"
KIND_WORDS = {"deploy": "deployment", "sts": "statefulset", "svc": "service", "cm": "configmap",
              "cj": "cronjob", "ing": "ingress", "hpa": "horizontalpodautoscaler",
              "pdb": "poddisruptionbudget"}
KINDS = ("deployment|statefulset|service|configmap|job|cronjob|pod|ingress|"
         "horizontalpodautoscaler|poddisruptionbudget|" + "|".join(KIND_WORDS))
EXEC = rf"exec {NAME}(?: -c (?P<container>[a-z0-9][a-z0-9-]*))?(?: --)? (?P<command>\S.*)"
EXPLICIT: tuple[tuple[str, Handler], ...] = (
    (r"help|\?", CommandMode.help),
    (r"pods?", CommandMode.pods),
    (rf"status {NAME}", CommandMode.status),
    (rf"logs {NAME}(?: --tail (?P<tail>\d+))?(?P<previous> --previous)?", CommandMode.logs),
    (rf"scale {NAME} (?:to )?(?P<replicas>\d+)(?: replicas)?", CommandMode.scale),
    (rf"restart {NAME}", CommandMode.restart),
    (rf"delete (?P<kind>{KINDS}) {NAME}", CommandMode.delete),
    (EXEC, CommandMode.exec),
    (rf"events(?: {NAME})?", CommandMode.events),
    (rf"usage(?: {NAME})?", CommandMode.usage),
    (rf"troubleshoot(?: {NAME})?", CommandMode.troubleshoot),
    (rf"backup {NAME}(?: --to (?P<pvc>[a-z0-9][a-z0-9.-]*))?", CommandMode.backup),
    (rf"performance(?: {NAME})?", CommandMode.performance),
    (rf"optimi[sz]e(?: {NAME})?(?P<propose> --propose)?", CommandMode.optimize),
    (r"workflows", CommandMode.workflows),
    (r"workflow (?P<workflow>[a-z_][a-z0-9_]*)(?: [a-z_][a-z0-9_]*=\S*)*", CommandMode.workflow),
)
INTENTS: tuple[tuple[tuple[str, ...], Handler], ...] = (
    ((r"crash", r"keeps restarting", r"\bbroken\b", r"\bdown\b", r"oom", r"what'?s wrong",
      r"what is wrong", r"\bfailing\b", r"\bdebug\b"), CommandMode.troubleshoot),
    ((r"back ?up",), CommandMode.backup),
    ((r"\bslow\b", r"scale (it )?up", r"more replicas"), CommandMode.scale),
    ((r"optimi[sz]", r"save money", r"\bcosts?\b", r"right-?siz", r"over-?provision"),
     CommandMode.optimize),
    ((r"perform", r"latency", r"error rate"), CommandMode.performance),
    ((r"\blogs?\b",), CommandMode.logs),
    ((r"\bevents?\b",), CommandMode.events),
    ((r"how is", r"how's", r"\bdoing\b", r"\bstatus\b", r"\bhealth"), CommandMode.status),
)
