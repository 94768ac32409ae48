"""`hexabot policy check|show|explain` and HEXABOT_POLICY_FILE, as real subprocesses."""

from __future__ import annotations

from pathlib import Path

from tests.confirm_support import cli_env
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows

POLICY = """version: 1
rules:
  - name: staging-caps
    tools: [scale_deployment]
    scope: {namespaces: ["shop-*"]}
    caps: {max_replicas: 10}
  - name: prod-teammate
    tools: ["*"]
    scope: {namespaces: [shop-staging]}
    approvals: one_teammate
  - name: staging-restarts
    tools: [restart]
    scope: {namespaces: [shop-staging]}
    approvals: two_people
protected:
  - {name: databases, labels: {hexabot.io/protected: "true"}}
"""


def test_check_names_file_and_path(clean_env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("rules:\n  - name: r\n    tools: ['*']\n    windows: [{cron: '* 25 * * *'}]\n"
                   "    rate: 'lots'\n")
    result = run_cli(["policy", "check", str(bad)], clean_env, tmp_path)
    assert result.returncode == 1
    assert f"{bad}: rules.0.windows.0.cron: '* 25 * * *' is not a cron expression" in \
        result.stderr
    assert f"{bad}: rules.0.rate: rate 'lots'" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text(POLICY)
    ok = run_cli(["policy", "check", str(good)], clean_env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "3 rule(s), 1 protected" in ok.stdout and "staging-caps — scale_deployment" in ok.stdout


async def test_explain_and_show_without_acting(clean_env: dict[str, str], database_url: str,
                                               sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    env = {**cli_env(clean_env, database_url, sandbox, tmp_path),
           "HEXABOT_POLICY_FILE": str(policy)}
    denied = run_cli(["policy", "explain", "--as", "alice", "--namespace", "shop-staging",
                      "scale_deployment", "name=web-app", "replicas=30"], env, tmp_path)
    assert denied.returncode == 0, denied.stderr
    assert "Plan: Scale deployment shop-staging/web-app from 1 to 30 replicas" in denied.stdout
    assert "Rules that apply: staging-caps, prod-teammate" in denied.stdout
    assert "Decision: DENY — 30 replicas for Deployment shop-staging/web-app is above the cap " \
           "of 10" in denied.stdout
    needs = run_cli(["policy", "explain", "--as", "alice", "--namespace", "shop-staging",
                     "delete_resource", "kind=configmap", "name=web-app-config"], env, tmp_path)
    assert "Decision: REQUIRE one teammate (not the requester) (rule prod-teammate)" in \
        needs.stdout, needs.stdout + needs.stderr
    assert await fetch_rows(database_url, "SELECT id FROM pending_actions") == []
    shown = run_cli(["policy", "show", "--as", "alice"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"Guardrails ({policy}) for alice in workspace shop:" in shown.stdout
    assert "databases — hexabot.io/protected=true: never restarted" in shown.stdout
    assert "Two-person namespaces (directory): shop" in shown.stdout

    proposed = run_cli(["tools", "run", "restart", "--as", "alice", "--namespace",
                        "shop-staging", "name=web-app"], env, tmp_path)
    assert proposed.returncode == 0, proposed.stderr
    [row] = await fetch_rows(database_url, "SELECT id FROM pending_actions")
    listed = run_cli(["pending", "--as", "carol"], env, tmp_path)
    assert "0/2 (not the requester)" in listed.stdout, listed.stdout
    [line] = listed.stdout.splitlines()  # not a terminal: one plain line per action
    assert line.startswith(f"{row['id']}  U0ALICE  shop-staging  ") and "restart" in line
    first = run_cli(["approve", row["id"], "--as", "carol"], env, tmp_path)
    assert first.returncode == 0 and "Approved by carol (1 of 2)" in first.stdout, first.stderr
    by_name = run_cli(["audit", "tail", "--user", "carol"], env, tmp_path)
    assert by_name.returncode == 0 and "confirmation.approve U0CAROL" in by_name.stdout, \
        by_name.stdout + by_name.stderr
    nobody = run_cli(["audit", "tail", "--user", "nobody"], env, tmp_path)
    assert nobody.returncode == 2 and "no user named 'nobody'" in nobody.stderr
    unknown = run_cli(["pending", "--as", "U0NOBODY"], env, tmp_path)
    assert unknown.returncode == 1 and "'U0NOBODY' is not in Hexabot's directory" in \
        unknown.stderr, unknown.stderr


def test_a_bad_policy_file_stops_the_start(clean_env: dict[str, str], database_url: str,
                                           sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules: [{name: r, tools: [scale_everything]}]\n")
    env = {**cli_env(clean_env, database_url, sandbox, tmp_path),
           "HEXABOT_POLICY_FILE": str(policy)}
    result = run_cli(["pending", "--as", "alice"], env, tmp_path)
    assert result.returncode == 2
    assert (f"HEXABOT_POLICY_FILE: {policy}: rules.0.tools: unknown write tools "
            "scale_everything") in result.stderr
