"""Every Slack message the bot sends is built here, and validated before it leaves.

Limits enforced (Slack's): ≤ 50 blocks, section text ≤ 3,000, button text ≤ 75, value ≤ 2,000,
header ≤ 150, context ≤ 10 elements; long text is split into sections or cut with a note.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block

from agents.types import Reply
from confirmations.model import PendingAction, State
from tools import kubectl, registry
from tools.redact import redact

SECTION_LIMIT = 3000
COLLAPSE_LINES = 15  # of evidence shown in a shared answer before "Show all"
SHOW_ALL = "show_all"
CREATES = frozenset({"create_cronjob", "create_backup_job", "create_backup_cronjob"})
MAX_BLOCKS = 50
Blocks = list[dict[str, Any]]


class InvalidBlocks(ValueError):
    pass


def validate(blocks: Blocks) -> Blocks:
    if len(blocks) > MAX_BLOCKS:
        raise InvalidBlocks(f"{len(blocks)} blocks (Slack allows {MAX_BLOCKS})")
    for block in blocks:
        parsed = Block.parse(block)
        if parsed is None:
            raise InvalidBlocks(f"unknown block {block.get('type')!r}")
        parsed.to_dict()  # raises SlackObjectFormationError on a broken limit
    return blocks


def _text(kind: str, text: str) -> dict[str, Any]:
    return {"type": kind, "text": text}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text("mrkdwn", text)}


def code(text: str, what: str, title: str = "") -> dict[str, Any]:
    """``text`` as a code block under ``title``, cut (saying so) to fit one section."""
    room = SECTION_LIMIT - len(title) - 10
    if len(text) > room:
        text = text[: room - 20] + f"\n… ({what} cut)"
    return section(f"{title}```{text}```")


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text("mrkdwn", text[:2000])]}


TABULAR = re.compile(r"\S {2,}\S")  # aligned columns: two spaces or more between words


def _runs(text: str) -> list[tuple[bool, list[str]]]:
    """Consecutive lines grouped into tables (aligned columns) and prose."""
    runs: list[tuple[bool, list[str]]] = []
    for line in text.splitlines():
        table = bool(TABULAR.search(line))
        if runs and runs[-1][0] == table:
            runs[-1][1].append(line)
        else:
            runs.append((table, [line]))
    return runs


def text_blocks(text: str, budget: int = 40) -> Blocks:
    """Prose as sections, tables (aligned columns) as code, split under the limits."""
    blocks: Blocks = []
    for table, lines in _runs(text):
        chunk = ""
        for line in lines:
            if chunk and len(chunk) + len(line) + 1 > SECTION_LIMIT - 10:
                blocks.append(section(f"```{chunk}```" if table else chunk))
                chunk = ""
            chunk += ("\n" if chunk else "") + line[:SECTION_LIMIT - 10]
        if chunk.strip():
            blocks.append(section(f"```{chunk}```" if table else chunk))
    if len(blocks) > budget:
        cut = len(blocks) - budget
        blocks = [*blocks[:budget], context(f"… {cut} more parts cut; ask for less.")]
    return blocks


def fields(facts: tuple[tuple[str, str], ...]) -> Blocks:
    """Facts as a section's fields (two columns in Slack; at most ten per section)."""
    return [{"type": "section", "fields": [_text("mrkdwn", f"*{label}*\n{value}"[:2000])
                                           for label, value in facts[i:i + 10]]}
            for i in range(0, len(facts), 10)]


def reply(answer: Reply, asked: str = "") -> Blocks:
    """The verdict first (bold), the facts it rests on as fields, then the evidence — past
    :data:`COLLAPSE_LINES` lines collapsed behind a button that asks ``asked`` again as the
    clicker and sends the whole answer to them alone (no ``asked``: nothing collapsed)."""
    mode = "LLM" if answer.mode == "llm" else "command mode"
    body = answer.text.replace("\n_(command mode)_", "")
    blocks: Blocks = []
    if answer.verdict and body.startswith(answer.verdict):
        body = body[len(answer.verdict):].lstrip("\n")
        blocks += [section(f"*{answer.verdict}*"[:SECTION_LIMIT]), *fields(answer.facts[:20])]
    lines = body.splitlines()
    hidden = len(lines) - COLLAPSE_LINES if asked and len(lines) > COLLAPSE_LINES + 2 else 0
    if hidden:
        body = "\n".join(lines[:COLLAPSE_LINES])
    blocks += text_blocks(body, budget=MAX_BLOCKS - 7 - len(blocks))
    if hidden:
        blocks.append({"type": "actions", "block_id": "more", "elements": [
            {"type": "button", "action_id": SHOW_ALL, "value": asked[:2000], "text": {
                "type": "plain_text", "text": f"Show all ({hidden} more lines, to you only)"}}]})
    if answer.kubectl:  # how to do it yourself
        blocks.append(context("Do it yourself: " + "  ·  ".join(
            f"`{line}`" for line in answer.kubectl)))
    tools = ", ".join(c.tool for c in answer.tools_called) or "none"
    blocks.append(context(f"answered in {mode}" + (f" ({answer.provider})" if answer.provider
                                                   else "") + f" · tools: {tools}"))
    if answer.suggestions:  # what to type next: a click asks it as the clicker
        blocks.append({"type": "actions", "block_id": "next", "elements": [
            {"type": "button", "action_id": f"suggest_{i}", "value": command[:2000],
             "text": {"type": "plain_text", "text": command[:75]}}
            for i, command in enumerate(answer.suggestions[:4])]})
    return validate(blocks)


def _when(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "?"


def buttons(action: PendingAction, approve: dict[str, Any] | None = None,
            block_id: str = "actions") -> dict[str, Any]:
    """Approve/Reject for one action; the buttons carry only its id."""
    approve = approve or {"type": "button", "action_id": "approve", "style": "primary",
                          "text": {"type": "plain_text", "text": "Approve"}, "value": action.id}
    return {"type": "actions", "block_id": block_id, "elements": [
        approve, {"type": "button", "action_id": "reject", "style": "danger",
                  "text": {"type": "plain_text", "text": "Reject"}, "value": action.id}]}




def card(action: PendingAction) -> Blocks:
    """The approval card.  Cards sit in shared channels: the summary, diff and outcome are
    redacted for display (the stored plan keeps the exact values it will apply)."""
    plan = action.plan
    summary, diff = redact(plan.summary), redact(plan.diff)
    approvers = ("someone other than the requester who holds the same permission"
                 if action.two_person else "the requester, or a teammate with the permission")
    if action.approvals_needed > 1:
        approvers = (f"{action.approvals_needed} different people other than the requester, "
                     "each holding the same permission")
    if action.policy_rule:
        approvers += f" ({action.policy_rule})"
    fields = [f"*Requested by*\n<@{action.requester}>", f"*Risk*\n{action.risk}",
              f"*Expires*\n{_when(action.expires_at)}", f"*Who may approve*\n{approvers}"]
    if action.approvals and action.state is State.PENDING:
        fields.append("*Approved so far*\n" + ", ".join(f"<@{a}>" for a in action.approvals)
                      + f" ({len(action.approvals)} of {action.approvals_needed})")
    if plan.cost_delta is not None:
        fields.insert(2, f"*Cost*\n{plan.cost_delta:+.2f} USD/month")
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Approval needed"[:150]}},
        section(f"*{summary}*"[:SECTION_LIMIT]),
        {"type": "section", "fields": [_text("mrkdwn", f) for f in fields]},
    ]
    if diff:
        blocks.append(code(diff, "diff"))
    yourself = kubectl.for_plan(plan)
    if plan.tool in CREATES and diff:  # the diff above is the whole new manifest already
        yourself = [line.split("\n", 1)[0] + "\n… the manifest above, without the + signs …\nEOF"
                    for line in yourself]
    if yourself:  # the same change by hand: what approving does, as kubectl
        blocks.append(code(redact("\n".join(yourself)), "kubectl",
                           "*The same change with kubectl*\n"))
    blocks.append(context(f"dry run: {plan.dry_run or 'n/a'} · action {action.id}"))
    if action.state is State.PENDING:
        approve: dict[str, Any] = {"type": "button", "action_id": "approve", "style": "primary",
                                   "text": {"type": "plain_text", "text": "Approve"},
                                   "value": action.id}
        if action.risk == "high":
            approve["confirm"] = {
                "title": {"type": "plain_text", "text": "High-risk change"},
                "text": {"type": "plain_text", "text": summary[:280]},
                "confirm": {"type": "plain_text", "text": "Approve"},
                "deny": {"type": "plain_text", "text": "Cancel"}}
        blocks.append(buttons(action, approve))
    else:
        who = f" by <@{action.approver}>" if action.approver else ""
        outcome = redact(action.result or action.error or "")
        if action.result and registry.private_output(action.tool):  # the requester's only
            outcome = f"The output went to <@{action.requester}> in a direct message."
        blocks.append(section(f"*{action.state.value.capitalize()}*{who} at "
                              f"{_when(action.decided_at or action.executed_at)}"
                              + (f"\n{outcome}"[:2000] if outcome else "")))
    return validate(blocks)


def notice(text: str) -> Blocks:
    return validate([section(text[:SECTION_LIMIT])])


def home(name: str, workspace: str, namespace: str, pending: list[PendingAction],
         recent: list[PendingAction] | None = None) -> Blocks:
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Hexabot"}},
        section(f"Acting as *{name}* in workspace *{workspace}*, namespace *{namespace}*."),
        {"type": "divider"},
        section(f"*Pending approvals* ({len(pending)})"),
    ]
    for a in pending[:20]:  # decidable here too: also proposals made outside Slack
        so_far = (f", approved {len(a.approvals)} of {a.approvals_needed}"
                  if a.approvals_needed > 1 else "")
        blocks += [section(f"• {a.plan.summary} — <@{a.requester}>, risk {a.risk}{so_far}, "
                           f"expires {_when(a.expires_at)} (`{a.id[:8]}`)"),
                   buttons(a, block_id=f"home-{a.id}")]
    if recent:
        blocks += [{"type": "divider"}, section("*Your recent actions*")]
        blocks += [section(f"• {a.plan.summary} — {a.state.value}"
                           + (f" (approved by <@{a.approver}>)" if a.approver else ""))
                   for a in recent[:10]]
    return validate(blocks)
