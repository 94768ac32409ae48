"""The analyses as READ tools a model can call: TroubleshootIssues and GenerateBackupStrategy.

Their text carries each finding's ready proposal as JSON, so a model can propose the fix with
the write tool it names (which still only makes a plan for a person to approve).  Findings come
worst first; as many as fit are given in full (up to MAX_FINDINGS) and every other one is named,
grouped by code, so a 4 KB answer never hides a root cause.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from pydantic import Field

from tools.analysis import diagnosis
from tools.args import Name, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import Body, detailed, fit, grouped
from tools.writes import backup

MAX_FINDINGS = 8


class TroubleshootArgs(ToolArgs):
    name: Name | None = Field(default=None, description="only this workload's findings")


async def troubleshoot_issues(env: ToolEnv, args: TroubleshootArgs) -> ToolResult:
    namespace = env.namespace(args)
    findings, unreadable = await diagnosis.diagnose(env, namespace)
    if args.name:
        findings = [f for f in findings if f.name == args.name]
    lines = [f"{len(findings)} findings in {namespace}" + (
        f" for {args.name}" if args.name else "") + (
        f" (not readable as you: {', '.join(unreadable)})" if unreadable else "")]
    full: list[Body] = []
    for finding in findings:  # worst first (engine.correlate)
        first, *more = finding.text().splitlines()
        more += ["  ready proposal: " + json.dumps(finding.proposal)] if finding.proposal else []
        full.append([(first, 1), *((line, 0) for line in more)])

    def rest(k: int) -> Body:
        return grouped("more findings (ask with name for one in full):",
                       [(f"[{f.severity}] {f.code} {f.kind}", f.name) for f in findings[k:]])

    text, cut = fit(detailed(lines, full, rest, [], MAX_FINDINGS), env.limit, "findings",
                    "ask with name for one workload's")
    return ToolResult(text, {"namespace": namespace, "unreadable": unreadable,
                             "findings": [f.as_json() for f in findings]}, cut)


class StrategyArgs(ToolArgs):
    database: Name = Field(description="the StatefulSet running the database")


async def generate_backup_strategy(env: ToolEnv, args: StrategyArgs) -> ToolResult:
    namespace = env.namespace(args)
    strategy, _ = await backup.strategy(env, namespace, args.database)
    text = (f"{strategy.text()}\nTo set it up, propose create_backup_cronjob with "
            f"database={args.database} (and bucket, s3_endpoint, credentials_secret).")
    return ToolResult(text, asdict(strategy))
