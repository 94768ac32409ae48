"""`hexabot tools list|run` as a user runs it, against the sandbox, with audit rows."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import NAMESPACES

DIRECTORY = """bot: {{kubeconfig: {kc}, context: hexabot}}
users:
  - slack_id: U0ALICE
    name: alice
    hexabase_user: hxb-alice
    groups: [developers, shop-team]
    workspaces:
      - name: shop
        impersonate: {{user: alice, groups: [developers, shop-team]}}
        namespaces: {namespaces}
  - slack_id: U0BOB
    name: bob
    hexabase_user: hxb-bob
    groups: [viewers]
    workspaces:
      - name: shop
        kubeconfig: {kc}
        context: bob
        namespaces: {namespaces}
"""


def _env(clean_env: dict[str, str], database_url: str, sandbox: ThreadedSandbox,
         tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig, namespaces=list(NAMESPACES)))
    return {**clean_env, "HEXABOT_DATABASE_URL": database_url,
            "HEXABOT_DIRECTORY_FILE": str(directory)}


def test_tools_list(clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["tools", "list"], clean_env, tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("list_pods", "view_logs", "scale_deployment", "apply_yaml"):
        assert name in result.stdout


async def test_tools_run_read_plan_execute(clean_env: dict[str, str], database_url: str,
                                           sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    env = _env(clean_env, database_url, sandbox, tmp_path)
    pods = run_cli(["tools", "run", "list_pods", "--as", "alice", "--json"], env, tmp_path)
    assert pods.returncode == 0, pods.stderr
    assert len(json.loads(pods.stdout)["pods"]) == 6

    plan = run_cli(["tools", "run", "scale_deployment", "--as", "alice", "name=web-app",
                    "replicas=4"], env, tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "Scale deployment shop/web-app from 3 to 4 replicas" in plan.stdout
    assert "Waiting for approval: hexabot approve" in plan.stdout
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 3

    done = run_cli(["tools", "run", "scale_deployment", "--as", "alice", "name=web-app",
                    "replicas=4", "--execute"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Scaled shop/web-app to 4 replicas." in done.stdout
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 4

    cm = run_cli(["tools", "run", "update_configmap", "--as", "alice", "name=web-app-config",
                  "set.FEATURE_NEW_CHECKOUT=true", "--execute"], env, tmp_path)
    assert cm.returncode == 0, cm.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"][
        "FEATURE_NEW_CHECKOUT"] == "true"

    denied = run_cli(["tools", "run", "scale_deployment", "--as", "bob", "name=web-app",
                      "replicas=9", "--execute"], env, tmp_path)
    assert denied.returncode == 1
    assert "bob may not patch deployments/scale" in denied.stderr
    bad = run_cli(["tools", "run", "list_pods", "--as", "bob", "user=carol"], env, tmp_path)
    assert bad.returncode == 1 and "user: unknown argument" in bad.stderr
    other = run_cli(["tools", "run", "list_pods", "--as", "bob", "--namespace", "kube-system"],
                    env, tmp_path)
    assert other.returncode == 1 and "not yours" in other.stderr

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        events = [json.loads(r["event"]) for r in
                  await conn.fetch("SELECT event FROM audit_outbox ORDER BY id")]
    finally:
        await conn.close()
    executed = [("policy.evaluate", "ok", "U0ALICE"), ("confirmation.propose", "ok", "U0ALICE"),
                ("policy.evaluate", "ok", "U0ALICE"), ("confirmation.approve", "ok", "U0ALICE"),
                ("confirmation.execute", "ok", "U0ALICE"),
                ("confirmation.result", "ok", "U0ALICE")]
    assert [(e["kind"], e["outcome"], e["actor"]) for e in events] == [
        ("tool.read", "ok", "U0ALICE"),
        ("policy.evaluate", "ok", "U0ALICE"),       # every plan is judged by the guardrails
        ("confirmation.propose", "ok", "U0ALICE"),  # planned, left pending
        *executed, *executed,                        # scale --execute, configmap --execute
        ("tool.write", "denied", "U0BOB"),
        ("tool.read", "error", "U0BOB"),  # bad arguments are audited too
    ]
    assert len(events[2]["detail"]["hash"]) == 64
