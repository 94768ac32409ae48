"""delete_resource and exec_command against the sandbox: plans show what hangs on the object,
execution is exact, idempotent and refuses a changed target; exec output is bounded/redacted."""

from __future__ import annotations

import pytest

from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.spec import ActionPlan, Risk

ALICE = ("developers", "shop-team")


def alice(sandbox: ThreadedSandbox):  # type: ignore[no-untyped-def]
    return env_for(sandbox, "alice", "shop", impersonate=ALICE)


async def _plan(env, tool: str, **args) -> ActionPlan:  # type: ignore[no-untyped-def]
    return await registry.plan(registry.get(tool), env, args)


def _exists(sandbox: ThreadedSandbox, group: str, plural: str, name: str) -> bool:
    return sandbox.obj(group, "v1", plural, "shop", name) is not None


async def test_delete_configmap_shows_its_users_and_is_idempotent(
        sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "delete_resource", kind="configmap", name="api-service-config")
    assert plan.risk is Risk.HIGH and _exists(sandbox, "", "configmaps", "api-service-config")
    assert "Deployment api-service mounts or reads it" in plan.diff
    assert plan.facts["objects"][0]["labels"] == {"app": "api-service"}
    done = await registry.execute(env, ActionPlan.from_dict(plan.to_dict()))
    assert done.data == {"changed": True}
    assert not _exists(sandbox, "", "configmaps", "api-service-config")
    again = await registry.execute(env, plan)
    assert again.data == {"changed": False} and "already gone" in again.text


async def test_delete_refuses_a_recreated_object(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "delete_resource", kind="configmap", name="web-app-config")
    carol = env_for(sandbox, "carol")
    path = "/api/v1/namespaces/shop/configmaps"
    await carol.cluster.call("DELETE", f"{path}/web-app-config")
    await carol.cluster.call("POST", path, body={"metadata": {"name": "web-app-config"},
                                                 "data": {"new": "1"}})
    with pytest.raises(errors.Conflict, match="changed since the plan"):
        await registry.execute(env, plan)
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"] == {"new": "1"}


async def test_delete_deployment_lists_owned_and_selecting_objects(
        sandbox: ThreadedSandbox) -> None:
    carol = env_for(sandbox, "carol")
    plan = await _plan(carol, "delete_resource", kind="deployment", name="web-app")
    assert "owns ReplicaSet web-app-7c9d8f6b5d (deleted with it)" in plan.diff
    assert "Service web-app selects its pods" in plan.diff
    await registry.execute(carol, plan)
    assert not _exists(sandbox, "apps", "deployments", "web-app")


async def test_delete_needs_the_permission_and_an_allowlisted_kind(
        sandbox: ThreadedSandbox) -> None:
    with pytest.raises(errors.Forbidden, match="alice may not delete deployments"):
        await _plan(alice(sandbox), "delete_resource", kind="deployment", name="web-app")
    with pytest.raises(errors.InvalidArguments, match="kind: Input should be"):
        await _plan(alice(sandbox), "delete_resource", kind="secret", name="api-service-secrets")


async def test_exec_runs_argv_bounded_and_redacted(sandbox: ThreadedSandbox) -> None:
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("POST", "/api/v1/namespaces/shop/pods", body={
        "metadata": {"name": "debug"}, "spec": {"containers": [{
            "name": "box", "image": "busybox",
            "env": [{"name": "DB_PASSWORD", "value": "hunter2-very-secret"},
                    {"name": "GREETING", "value": "hello from the box"}]}]}})
    await carol.cluster.call("PATCH", "/api/v1/namespaces/shop/pods/debug/status",
                             body={"status": {"phase": "Running"}},
                             content_type="application/merge-patch+json")
    env = alice(sandbox)
    plan = await _plan(env, "exec_command", pod="debug", command="env")
    assert plan.summary == "Run `env` in pod shop/debug (container box)"
    done = await registry.execute(env, plan)
    assert "GREETING=hello from the box" in done.text and "HOSTNAME=debug" in done.text
    assert "hunter2-very-secret" not in done.text and "DB_PASSWORD=[REDACTED]" in done.text
    failing = await registry.execute(env, await _plan(env, "exec_command", pod="debug",
                                                      command=["ls", "/no/such/dir"]))
    assert failing.data["exit_code"] == 2 and "[exit code 2]" in failing.text
    env.limit = 600
    big = await registry.execute(env, await _plan(env, "exec_command", pod="debug",
                                                  command=["seq", "1", "5000"]))
    assert big.truncated and len(big.text.encode()) <= 600


async def test_exec_refuses_a_replaced_pod_and_users_without_exec(
        sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    pod = "web-app-7c9d8f6b5d-x2k9p"
    plan = await _plan(env, "exec_command", pod=pod, command=["df", "-h"])
    carol = env_for(sandbox, "carol")
    body = sandbox.obj("", "v1", "pods", "shop", pod)
    await carol.cluster.call("DELETE", f"/api/v1/namespaces/shop/pods/{pod}")
    await carol.cluster.call("POST", "/api/v1/namespaces/shop/pods", body={
        "metadata": {"name": pod}, "spec": body["spec"]})
    with pytest.raises(errors.Conflict, match="replaced since the plan"):
        await registry.execute(env, plan)
    bob = env_for(sandbox, "bob")
    with pytest.raises(errors.Forbidden, match="bob may not create pods/exec"):
        await _plan(bob, "exec_command", pod=pod, command=["env"])


def test_sandbox_exec_speaks_kubectls_protocol(sandbox: ThreadedSandbox) -> None:
    pod = "web-app-7c9d8f6b5d-x2k9p"
    ok = sandbox.kubectl("alice", "-n", "shop", "exec", pod, "--", "df", "-h")
    assert ok.returncode == 0 and ok.stdout.startswith("Filesystem"), ok.stderr
    failing = sandbox.kubectl("alice", "-n", "shop", "exec", pod, "--", "ls", "/no/such/dir")
    assert failing.returncode == 2 and "command terminated with exit code 2" in failing.stderr
    denied = sandbox.kubectl("bob", "-n", "shop", "exec", pod, "--", "env")
    assert denied.returncode == 1
    assert 'User "bob" cannot create resource "pods/exec"' in denied.stderr


async def test_exec_that_does_not_end_is_cut_off(sandbox: ThreadedSandbox,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.writes import exec as execs

    monkeypatch.setattr(execs, "TIMEOUT_SECONDS", 0.5)
    env = alice(sandbox)
    plan = await _plan(env, "exec_command", pod="web-app-7c9d8f6b5d-x2k9p",
                       command=["sh", "-c", "echo started; sleep 3"])
    done = await registry.execute(env, plan)
    assert done.data["timed_out"] and done.data["exit_code"] is None
    assert "[no end after 0 s: stream closed, output so far]" in done.text
