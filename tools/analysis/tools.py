"""The analyses as READ tools a model can call: TroubleshootIssues and GenerateBackupStrategy.

Their text carries each finding's ready proposal as JSON, so a model can propose the fix with
the write tool it names (which still only makes a plan for a person to approve).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from pydantic import Field

from tools.analysis import engine
from tools.args import Name, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import bound
from tools.writes import backup

MAX_FINDINGS = 8


class TroubleshootArgs(ToolArgs):
    name: Name | None = Field(default=None, description="only this workload's findings")


async def troubleshoot_issues(env: ToolEnv, args: TroubleshootArgs) -> ToolResult:
    namespace = env.namespace(args)
    findings, unreadable = await engine.diagnose(env, namespace)
    if args.name:
        findings = [f for f in findings if f.name == args.name]
    lines = [f"{len(findings)} findings in {namespace}" + (
        f" for {args.name}" if args.name else "") + (
        f" (not readable as you: {', '.join(unreadable)})" if unreadable else "")]
    for finding in findings[:MAX_FINDINGS]:
        lines.append(finding.text())
        if finding.proposal is not None:
            lines.append("  ready proposal: " + json.dumps(finding.proposal))
    text, cut = bound("\n".join(lines), env.limit)
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
