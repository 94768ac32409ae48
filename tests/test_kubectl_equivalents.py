"""tools.kubectl against the real kubectl and the sandbox cluster: every read tool's commands
run as the same user, every write plan's equivalent passes a server-side dry run, doing it by
hand ends in the state Hexabot's execution ends in, and hostile values stay single arguments of
one command."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.sandbox_support import ThreadedSandbox, kubectl_binary
from tests.tools_support import env_for
from tools import registry
from tools.kubectl import for_plan, for_read
from tools.spec import ActionPlan, Effect, Risk, Target, ToolEnv

ALICE = ("developers", "shop-team")
CRASHED = "checkout-worker-6b8f9d7c4e-h5j2k"  # OOMKilled: has a previous container's log
WEB_POD = "web-app-7c9d8f6b5d-x2k9p"
READS: dict[str, dict[str, Any]] = {
    "list_pods": {"label_selector": "app=web-app"},
    "get_deployment_status": {"name": "web-app"},
    "view_logs": {"pod": CRASHED, "container": "worker", "tail_lines": 3, "previous": True,
                  "since_seconds": 3600},
    "get_resource_usage": {"label_selector": "app=web-app", "pod": WEB_POD},
    "list_services": {},
    "get_events": {"object_name": CRASHED, "limit": 5},
    "recent_changes": {"name": "web-app", "since_minutes": 120},
    "analyze_performance": {"name": "web-app", "window_minutes": 30},
    "suggest_optimizations": {"headroom_percent": 20},
    "troubleshoot_issues": {"name": "checkout-worker"},
    "generate_backup_strategy": {"database": "user-db", "namespace": "data"},
}
# What the analyses call a kind they could not read, as kubectl's Forbidden names it.
PLURALS = {"hpas": "horizontalpodautoscalers", "pdbs": "poddisruptionbudgets",
           "pvcs": "persistentvolumeclaims", "quotas": "resourcequotas"}
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec: {replicas: 1, selector: {matchLabels: {app: hello}}, template: {
  metadata: {labels: {app: hello}}, spec: {containers: [{name: hello, image: nginx:1.27}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-app-config}
data: {CACHE_TTL_SECONDS: "10"}
"""
# id -> (tool, user, namespace, args); exec_command has no dry run (see its own test)
WRITES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "scale": ("scale_deployment", "alice", "shop", {"name": "web-app", "replicas": 4}),
    "restart": ("restart", "alice", "shop", {"name": "web-app"}),
    "restart-pod": ("restart", "carol", "shop", {"kind": "pod",
                                                 "name": "api-service-5f6d7c8b9a-qp2lx"}),
    "rollback": ("rollback_deployment", "alice", "shop", {"name": "web-app"}),
    "configmap": ("update_configmap", "alice", "shop", {
        "name": "web-app-config", "set": {"A": "it's $(id)"}, "remove": ["FEATURE_NEW_CHECKOUT"]}),
    "cronjob": ("create_cronjob", "alice", "shop", {
        "name": "nightly", "schedule": "@daily", "image": "busybox",
        "args": ["echo", "EOF", "$(id)", "$HOME", "`id`"]}),
    "backup-job": ("create_backup_job", "carol", "data", {
        "database": "user-db", "destination_pvc": "data-user-db-0"}),
    "backup-cronjob": ("create_backup_cronjob", "carol", "data", {"database": "user-db"}),
    "apply": ("apply_yaml", "carol", "shop", {"manifest": DEPLOY}),
    "delete": ("delete_resource", "carol", "shop", {"kind": "deployment",
                                                    "name": "checkout-worker"}),
}
EXACT = {
    "scale": ["kubectl scale deployment/web-app -n shop --replicas=4"],
    "restart": ["kubectl rollout restart deployment/web-app -n shop"],
    "restart-pod": ["kubectl delete pod api-service-5f6d7c8b9a-qp2lx -n shop"],
    "rollback": ["kubectl rollout undo deployment/web-app -n shop --to-revision=1"],
    "configmap": ["kubectl patch configmap web-app-config -n shop --type=merge -p "
                  "'{\"data\":{\"A\":\"it'\"'\"'s $(id)\",\"FEATURE_NEW_CHECKOUT\":null}}'"],
    "delete": ["kubectl delete deployment checkout-worker -n shop"],
}
SSA = "--server-side --field-manager=hexabot --force-conflicts "  # as Hexabot applies
RESOURCES = {"deployment": ("apps", "deployments"), "pod": ("", "pods")}
SEPARATORS = {";", "&", "&&", "|", "||", "\n"}
DRY_RUN_WRITE = re.compile(r'verb="(POST|PATCH|PUT|DELETE)" url="[^"]*dryRun=All[^"]*" '
                           r'status="20\d')


def env(sandbox: ThreadedSandbox, user: str, namespace: str = "shop") -> ToolEnv:
    return env_for(sandbox, user, namespace, impersonate=ALICE if user == "alice" else None)


def words(line: str) -> tuple[list[str], str | None]:
    """One produced line as kubectl's arguments (its words, ``kubectl`` dropped) and the
    here-document it feeds to stdin, if any."""
    head, _, rest = line.partition("\n")
    argv = shlex.split(head)
    assert argv[0] == "kubectl"
    if not argv[-1].startswith("<<"):
        assert not rest
        return argv[1:], None
    end = argv.pop()[2:]
    body, _, last = rest.rpartition("\n")
    assert last == end and end not in body.split("\n")
    return argv[1:], body + "\n"


def run(sandbox: ThreadedSandbox, user: str, line: str,
        *extra: str) -> subprocess.CompletedProcess[str]:
    """Run a produced line with the real kubectl as ``user``; ``extra`` flags go before any
    ``--`` (after it they would be the command's own arguments)."""
    argv, stdin = words(line)
    cut = argv.index("--") if "--" in argv else len(argv)
    return sandbox.kubectl(user, *argv[:cut], *extra, *argv[cut:], stdin=stdin)


def bash(line: str, cwd: Path, kubectl: str,
         env_vars: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a produced line in a real bash, ``kubectl`` being the shell function given."""
    return subprocess.run(["bash", "-c", f"kubectl() {{ {kubectl}; }}\n{line}\n"], cwd=cwd,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env_vars or {})})


def quiet(sandbox: ThreadedSandbox) -> int:
    """The store's revision once the controllers have nothing left to do."""
    before, now = None, -1
    while before != now:
        sandbox.settle(0.2)
        before, now = now, sandbox.call(lambda: sandbox.sc.cluster.store.revision)
    return now


def live(cluster: ThreadedSandbox, group: str, plural: str, name: str) -> dict[str, Any]:
    found = cluster.obj(group, "v1", plural, "shop", name)
    assert found is not None
    return found


def table(output: str) -> list[list[str]]:
    return [row.split() for row in output.splitlines()[1:] if row.strip()]


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """A second demo cluster, where the same change is made by hand."""
    (tmp_path / "twin").mkdir()
    sb = ThreadedSandbox(None, tmp_path / "twin", pod_start_delay=0.05,
                         job_run_seconds=0.1).start()
    sb.settle(0.1)
    yield sb
    sb.stop()


def test_every_read_tool_has_commands() -> None:
    reads = {spec.name for spec in registry.TOOLS if spec.effect is Effect.READ}
    assert set(READS) == reads
    assert all(for_read(tool, args, "shop") for tool, args in READS.items())
    writes = [spec.name for spec in registry.TOOLS if spec.effect is Effect.WRITE]
    assert [tool for tool in writes if for_read(tool, {}, "shop")] == []


@pytest.mark.parametrize("tool", sorted(READS))
async def test_read_commands_run_as_the_same_user(sandbox: ThreadedSandbox, tool: str) -> None:
    """Every command succeeds as alice; one may be refused only for a kind the tool itself
    reports it could not read as her (recent_changes: Secrets).  The sandbox serves every verb
    used (top, rollout status, describe, logs --previous, field selectors), so none is skipped."""
    args = READS[tool]
    result = await registry.run(registry.get(tool), env(sandbox, "alice",
                                                        args.get("namespace", "shop")), args)
    hidden = {PLURALS.get(kind, kind) for kind in [*result.data.get("unreadable", []),
                                                   *result.data.get("not_visible", [])]}
    lines = for_read(tool, args, "shop")
    assert all(f"-n {args.get('namespace', 'shop')}" in line for line in lines
               if "get nodes" not in line)
    for line in lines:
        done = run(sandbox, "alice", line)
        refused = re.search(r"\(Forbidden\): (\S+) is forbidden", done.stderr)
        assert done.returncode == 0 or (refused and refused.group(1) in hidden), (
            line, done.stderr)


async def test_the_commands_show_the_tools_facts(sandbox: ThreadedSandbox) -> None:
    alice = env(sandbox, "alice")

    async def both(tool: str) -> tuple[dict[str, Any], list[str]]:
        result = await registry.run(registry.get(tool), alice, READS[tool])
        outputs = [run(sandbox, "alice", line) for line in for_read(tool, READS[tool], "shop")]
        assert all(out.returncode == 0 for out in outputs)
        return result.data, [out.stdout for out in outputs]

    pods, (listed,) = await both("list_pods")
    assert sorted(row[0] for row in table(listed)) == sorted(p["name"] for p in pods["pods"])
    assert len(pods["pods"]) == 3
    logs, (printed,) = await both("view_logs")
    assert printed.splitlines() == logs["lines"] and len(logs["lines"]) == 3
    usage, (top, requests) = await both("get_resource_usage")
    assert [row[:2] for row in table(top)] == [[c["pod"], c["container"]]
                                                for c in usage["containers"]] == [[WEB_POD, "web"]]
    assert table(requests) == [[WEB_POD, "web", "200m", "500m", "256Mi", "512Mi"]]
    events, (every, warnings) = await both("get_events")
    assert {row[2] for row in table(every)} == {e["reason"] for e in events["events"]} == {
        "OOMKilling", "BackOff"}
    assert len(table(warnings)) == 2


def test_an_argument_namespace_overrides_and_odd_calls_get_nothing(
        sandbox: ThreadedSandbox) -> None:
    (line,) = for_read("list_pods", {"namespace": "data"}, "shop")
    assert line == "kubectl get pods -n data -o wide"
    assert table(run(sandbox, "alice", line).stdout)[0][0] == "user-db-0"
    assert for_read("no_such_tool", {}, "shop") == []
    assert for_read("list_pods", {"verbose": True}, "shop") == []  # the tool refuses it too
    assert for_read("view_logs", {"pod": "--all-namespaces"}, "shop") == []  # not a flag
    assert for_read("view_logs", {"pod": WEB_POD, "tail_lines": "all"}, "shop") == []
    assert for_read("list_pods", {"namespace": "shop; id"}, "shop") == []


def may(sandbox: ThreadedSandbox, user: str, verb: str, what: str, namespace: str) -> bool:
    """The API server's access review for ``user`` (``kubectl auth can-i`` sends protobuf,
    which the sandbox does not decode, so the review is created from JSON)."""
    kind, _, name = what.partition("/")
    group, plural = RESOURCES[kind]
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb,
                                              "group": group, "resource": plural,
                                              "name": name}}}
    answer = sandbox.kubectl(user, "create", "--validate=false", "-f", "-", "-o",
                             "jsonpath={.status.allowed}",
                             stdin=json.dumps(review))
    assert answer.returncode == 0, answer.stderr
    return answer.stdout == "true"


def try_out(sandbox: ThreadedSandbox, user: str, line: str) -> None:
    """Check one write line without changing anything.  Server-side dry run where the sandbox
    has one for the verb; two exceptions, each checked against the API server another way:
    ``kubectl delete`` sends ``dryRun`` in its DeleteOptions body, which the sandbox does not
    read (it takes ``dryRun`` from the query only, so a server dry run would really delete):
    client dry run (the object is read) plus an access review for the delete; ``kubectl
    rollout restart`` has no ``--dry-run``: an access review for the patch, then a real run."""
    argv, _ = words(line)
    namespace = argv[argv.index("-n") + 1]
    if argv[0] == "delete":
        done = run(sandbox, user, line, "--dry-run=client")
        assert done.returncode == 0 and "(dry run)" in done.stdout, done.stderr
        assert may(sandbox, user, "delete", f"{argv[1]}/{argv[2]}", namespace)
    elif argv[:2] == ["rollout", "restart"]:
        assert may(sandbox, user, "patch", argv[2], namespace)
        assert not may(sandbox, "bob", "patch", argv[2], namespace)  # the review can say no
    else:
        done = run(sandbox, user, line, "--dry-run=server", "-v=6")  # -v=6 logs requests
        assert done.returncode == 0, done.stderr
        assert DRY_RUN_WRITE.search(done.stderr), done.stderr  # the server took a dry run


@pytest.mark.parametrize("case", sorted(WRITES))
async def test_write_equivalents_are_accepted_without_changing_anything(
        sandbox: ThreadedSandbox, case: str) -> None:
    """Every plan's lines, as its requester (see :func:`try_out`): accepted, nothing stored."""
    tool, user, namespace, args = WRITES[case]
    if tool == "rollback_deployment":  # a previous revision to go back to
        assert sandbox.kubectl("carol", "set", "image", "deployment/web-app", "web=nginx:1.28",
                               "-n", "shop").returncode == 0
    before = quiet(sandbox)
    plan = await registry.plan(registry.get(tool), env(sandbox, user, namespace), args)
    lines = for_plan(plan)
    apply = f"kubectl apply {SSA if tool == 'apply_yaml' else ''}-n {namespace} -f - <<'EOF'\n"
    assert lines == EXACT[case] if case in EXACT else lines[0].startswith(apply)
    for line in lines:
        _, stdin = words(line)
        if stdin is not None:  # the here-document is the payload's manifests, nothing else
            manifests = [o["manifest"] for o in plan.payload.get("objects", [plan.payload])]
            assert list(yaml.safe_load_all(stdin)) == manifests
        try_out(sandbox, user, line)
    assert sandbox.call(lambda: sandbox.sc.cluster.store.revision) == before
    if case == "restart":  # no dry run for it: for real, then the template carries the mark
        assert run(sandbox, user, lines[0]).returncode == 0
        template = live(sandbox, "apps", "deployments", "web-app")["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]


async def test_exec_by_hand_runs_the_planned_argv(sandbox: ThreadedSandbox) -> None:
    """exec has no dry run: the line runs for real and prints what Hexabot's execution does."""
    alice = env(sandbox, "alice")
    argv = ["echo", "; touch pwned", "$(id)", "it's \"quoted\"", "`id`"]
    plan = await registry.plan(registry.get("exec_command"), alice,
                               {"pod": WEB_POD, "command": argv})
    (line,) = for_plan(plan)
    assert shlex.split(line) == ["kubectl", "exec", WEB_POD, "-n", "shop", "-c", "web", "--",
                                 *argv]
    done = run(sandbox, "alice", line)
    assert done.returncode == 0, done.stderr
    assert done.stdout == " ".join(argv[1:]) + "\n"
    assert done.stdout.strip() in (await registry.execute(alice, plan)).text


# case -> the object the plan changes (group, plural, name) and the part compared
BY_HAND = {"scale": ("apps", "deployments", "web-app", "spec"),
           "configmap": ("", "configmaps", "web-app-config", "data"),
           "rollback": ("apps", "deployments", "web-app", "spec"),
           "cronjob": ("batch", "cronjobs", "nightly", "spec"),
           "apply": ("apps", "deployments", "hello", "spec")}


@pytest.mark.parametrize("case", sorted(BY_HAND))
async def test_by_hand_ends_where_hexabot_does(sandbox: ThreadedSandbox, twin: ThreadedSandbox,
                                               tmp_path: Path, case: str) -> None:
    """Hexabot executes the plan in one cluster; its lines run in a real bash (real quoting,
    real <<'EOF') against a twin: the object ends the same in both, and changed."""
    tool, user, _, args = WRITES[case]
    group, plural, name, part = BY_HAND[case]
    for cluster in (sandbox, twin) if tool == "rollback_deployment" else ():
        assert cluster.kubectl("carol", "set", "image", "deployment/web-app", "web=nginx:1.28",
                               "-n", "shop").returncode == 0
        quiet(cluster)
    original = twin.obj(group, "v1", plural, "shop", name)
    plan = await registry.plan(registry.get(tool), env(sandbox, user), args)
    await registry.execute(env(sandbox, user), plan)
    shell_env = {"KUBECONFIG": str(twin.sc.kubeconfig), "HOME": str(twin.workdir),
                 "KUBECTL": kubectl_binary()}
    for line in for_plan(plan):
        done = bash(line, tmp_path, f'"$KUBECTL" --context {user} "$@"', shell_env)
        assert done.returncode == 0, done.stderr
    by_hand = live(twin, group, plural, name)[part]
    assert by_hand == live(sandbox, group, plural, name)[part]
    assert by_hand != (original or {}).get(part)


BRIEF_HOSTILE = ["; rm -rf /", "$(id)", "`id`", "it's \"quoted\"", "a\nb; rm -rf /",
                 "x' ; rm -rf / ; '", "&& reboot ||"]


def hostile_lines(value: str) -> list[str]:
    exec_plan = ActionPlan(
        tool="exec_command", args={}, workspace="shop", namespace="shop", requester="U0ALICE",
        summary="", diff="", risk=Risk.MEDIUM, payload={"container": value,
                                                        "command": ["echo", value]},
        targets=(Target("Pod", "shop", WEB_POD),))
    return [*for_read("list_pods", {"label_selector": value}, "shop"),
            *for_read("view_logs", {"pod": WEB_POD, "container": value}, "shop"),
            *for_read("get_resource_usage", {"label_selector": value}, "shop"),
            *for_plan(exec_plan)]


@pytest.mark.parametrize("value", BRIEF_HOSTILE)
def test_hostile_values_stay_one_argument(value: str) -> None:
    lines = hostile_lines(value)
    assert len(lines) == 5
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "kubectl" and "kubectl" not in argv[1:]
        assert not SEPARATORS & set(argv) and value in argv
        assert argv.count(value) == (2 if argv[1] == "exec" else 1)


@pytest.mark.parametrize("template", ["; touch {m}", "$(touch {m})", "`touch {m}`",
                                      "' ; touch {m} ; '", "\" ; touch {m} ; \"",
                                      "x\ntouch {m}\n", "&& touch {m} ||", "| tee {m}"])
def test_hostile_values_in_a_real_shell_run_nothing_else(template: str, tmp_path: Path) -> None:
    """bash runs each line with ``kubectl`` printing its arguments: one call, the value as one
    argument, and the marker file the value would create is never made."""
    marker = tmp_path / "pwned"
    value = template.format(m=marker)
    for line in hostile_lines(value):
        done = bash(line, tmp_path, "printf '%s\\0' \"$@\"; printf 'END\\0'")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split("\0") == [*shlex.split(line)[1:], "END", ""]
        assert value in done.stdout.split("\0")
    assert not marker.exists()


def test_a_payload_not_understood_gives_no_lines() -> None:
    plan = ActionPlan(tool="scale_deployment", args={}, workspace="shop", namespace="shop",
                      requester="U0ALICE", summary="", diff="", risk=Risk.LOW,
                      payload={"spec": {"replicas": 2}},
                      targets=(Target("Deployment", "shop", "web-app"),))
    deleting = dataclasses.replace(plan, tool="delete_resource", payload={
        "path": "/apis/apps/v1/namespaces/shop/deployments/web-app"})
    assert for_plan(plan) == ["kubectl scale deployment/web-app -n shop --replicas=2"]
    assert for_plan(deleting) == ["kubectl delete deployment web-app -n shop"]
    for odd in (dataclasses.replace(plan, tool="no_such_tool"),
                dataclasses.replace(plan, payload={"spec": {"replicas": "many"}}),
                dataclasses.replace(plan, payload={"replicas": 2}),
                dataclasses.replace(plan, targets=()),
                dataclasses.replace(plan, targets=(Target("Deployment", "shop", "-x"),)),
                dataclasses.replace(deleting, payload={"path": "/apis/apps/v1/namespaces/shop/"
                                                       "deployments/api-service"}),
                dataclasses.replace(deleting, tool="exec_command"),
                dataclasses.replace(plan, tool="apply_yaml", payload={"objects": [{"manifest": {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "namespace": "kube-system"}}}]})):
        assert for_plan(odd) == [], odd
