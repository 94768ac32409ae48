"""apply_yaml under attack, planned as real users through the decision flow (Postgres, sandbox).

Each attack is its own test id.  A refused manifest must name what was wrong, leave the sandbox
cluster as it was (the store's revision and the object read back) and store no pending action.
Classes covered (issue 17): objects judged in the wrong namespace (4); replicas above the cap,
privileged pod templates, YAML alias bombs and malformed manifests (7).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from confirmations import guard, rules
from confirmations.flow import WRITE_TOOLS
from confirmations.guard import Activity
from tests.confirm_support import Rig, rig
from tests.sandbox_support import ThreadedSandbox
from tools import errors
from tools.spec import ActionPlan, Risk, Target
from tools.writes.common import MAX_REPLICAS
from tools.writes.workloads import ScaleArgs

STAGING = "shop-staging"   # not a two-person namespace: the requester may approve alone


@pytest.fixture
async def r(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(database_url, sandbox, tmp_path) as made:
        yield made


def revision(sandbox: ThreadedSandbox) -> int:
    return int(sandbox.call(lambda: sandbox.sc.cluster.store.revision))


def web_app(sandbox: ThreadedSandbox, namespace: str = STAGING) -> dict[str, Any]:
    return sandbox.obj("apps", "v1", "deployments", namespace, "web-app")


async def propose(r: Rig, manifest: str, user: str = "carol", default_ns: str = STAGING,
                  **args: Any) -> Any:
    """Propose as ``user`` whose default namespace (channel, --namespace) is ``default_ns``;
    ``args`` may choose the plan's namespace."""
    ctx = await r.identity.context(user, namespace=default_ns)
    return await r.flow.propose(ctx, "apply_yaml", {"manifest": manifest, **args})


async def refused(r: Rig, sandbox: ThreadedSandbox, manifest: str, *wanted: str,
                  user: str = "carol", default_ns: str = STAGING, **args: Any) -> str:
    """Propose ``manifest``; assert it is refused naming ``wanted`` and that nothing changed."""
    before, deployment = revision(sandbox), web_app(sandbox)
    with pytest.raises(errors.ToolError) as info:
        await propose(r, manifest, user, default_ns, **args)
    message = info.value.message
    for part in wanted:
        assert part in message, message
    assert revision(sandbox) == before
    assert web_app(sandbox) == deployment
    assert await r.rows("SELECT id FROM pending_actions") == []
    return message


def deployment(pod: dict[str, Any] | None = None, kind: str = "Deployment",
               **spec: Any) -> dict[str, Any]:
    """web-app (which exists in shop-staging) with ``pod`` merged into its pod spec."""
    template = {"metadata": {"labels": {"app": "web-app"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], **(pod or {})}}
    body: dict[str, Any] = {"replicas": 2, "selector": {"matchLabels": {"app": "web-app"}},
                            "template": template, **spec}
    if kind == "Job":
        body = {"template": {**template, "spec": {**template["spec"],
                                                  "restartPolicy": "Never"}}}
    if kind == "CronJob":
        body = {"schedule": "@daily", "jobTemplate": {"spec": {"template": {
            **template, "spec": {**template["spec"], "restartPolicy": "Never"}}}}}
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "web-app"}, "spec": body}


def dump(*docs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def container(**security: Any) -> dict[str, Any]:
    return {"containers": [{"name": "web", "image": "nginx:1.27", "securityContext": security}]}


# ---- class 4: every object is judged in the namespace it lives in ------------------------------

CONFIG_IN_SHOP = dump({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "web-app-config", "namespace": "shop"},
                       "data": {"CACHE_TTL_SECONDS": "1"}})


async def test_an_object_in_a_two_person_namespace_cannot_ride_on_another_namespace(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    config = sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")
    message = await refused(r, sandbox, CONFIG_IN_SHOP, "document 1 (ConfigMap web-app-config)",
                            "is in namespace 'shop'", "this plan is for namespace "
                            "'shop-staging'", "namespace=shop", user="alice")
    assert "one plan per namespace" in message
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config") == config
    # planned where the object lives, the two-person rule applies
    action = await propose(r, CONFIG_IN_SHOP, user="alice", namespace="shop")
    assert action.two_person and action.namespace == "shop"


async def test_a_namespace_scoped_deny_cannot_be_bypassed_from_another_namespace(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    r.flow.guardrails = rules.parse({"rules": [{
        "name": "no-apply-in-shop", "tools": ["apply_yaml"], "scope": {"namespaces": ["shop"]},
        "allow": False, "reason": "shop changes go through CI"}]}, "test.yaml", WRITE_TOOLS)
    await refused(r, sandbox, CONFIG_IN_SHOP, "is in namespace 'shop'", "namespace=shop")
    await refused(r, sandbox, CONFIG_IN_SHOP, "not allowed in shop/shop (rule no-apply-in-shop)",
                  namespace="shop")


async def test_a_mixed_manifest_names_every_object_outside_the_plans_namespace(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    mixed = dump(deployment(), {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "a", "namespace": "data"}},
                 {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "b", "namespace": "shop"}})
    await refused(r, sandbox, mixed, "document 2 (ConfigMap a) is in namespace 'data'",
                  "document 3 (ConfigMap b) is in namespace 'shop'", "namespace=data",
                  "namespace=shop")


def _forged(namespace: str, **where: str) -> ActionPlan:
    fact = {"kind": "ConfigMap", "namespace": where.get("fact", namespace), "name": "c",
            "labels": {}}
    return ActionPlan(tool="apply_yaml", args={}, workspace="shop", namespace=namespace,
                      requester="U0ALICE", summary="s", diff="d", risk=Risk.LOW, payload={},
                      targets=(Target("ConfigMap", where.get("target", namespace), "c"),),
                      facts={"objects": [fact]})


@pytest.mark.parametrize("where", [{"fact": "shop"}, {"target": "shop"}, {"fact": ""}],
                         ids=["fact-elsewhere", "target-elsewhere", "fact-without-namespace"])
async def test_the_guardrails_deny_any_plan_naming_another_namespace(
        r: Rig, where: dict[str, str]) -> None:
    ctx = await r.identity.context("alice", namespace=STAGING)
    plan = _forged(STAGING, **where)
    ruling = guard.evaluate(rules.parse({}, "t.yaml", WRITE_TOOLS), "apply_yaml", {}, plan, ctx,
                            Activity(), r.flow.clock())
    assert ruling.outcome == "deny" and ruling.rule == guard.ONE_NAMESPACE
    assert "outside the plan's namespace shop-staging" in ruling.reason


# ---- class 7: replicas above scale_deployment's cap ------------------------------------------

HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
       "metadata": {"name": "web-app"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "web-app"}, "minReplicas": 1, "maxReplicas": 5}}


def test_apply_and_scale_share_one_cap() -> None:
    assert ScaleArgs.model_json_schema()["properties"]["replicas"]["maximum"] == MAX_REPLICAS


@pytest.mark.parametrize(("doc", "wanted"), [
    (deployment(replicas=MAX_REPLICAS + 1), f"replicas {MAX_REPLICAS + 1}"),
    (deployment(kind="StatefulSet", replicas=5000, serviceName="web-app"), "replicas 5000"),
    ({**HPA, "spec": {**HPA["spec"], "maxReplicas": 500}}, "maxReplicas 500"),
    ({**HPA, "spec": {**HPA["spec"], "minReplicas": 101, "maxReplicas": 101}},
     "minReplicas 101, maxReplicas 101"),
], ids=["deployment", "statefulset", "hpa-max", "hpa-min"])
async def test_replicas_above_the_cap_are_refused(r: Rig, sandbox: ThreadedSandbox,
                                                  doc: dict[str, Any], wanted: str) -> None:
    await refused(r, sandbox, dump(doc), wanted, f"at most {MAX_REPLICAS} replicas")


async def test_replicas_at_the_cap_are_planned(r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await propose(r, dump(deployment(replicas=MAX_REPLICAS)))
    assert action.tool == "apply_yaml" and web_app(sandbox)["spec"]["replicas"] != MAX_REPLICAS


# ---- class 7: privileged pod templates ---------------------------------------------------------

PRIVILEGED = {
    "hostprocess-pod": (deployment({"securityContext": {"windowsOptions": {
        "hostProcess": True}}, "hostNetwork": True}), "the pod is a Windows hostProcess"),
    "hostprocess-container": (deployment(container(windowsOptions={"hostProcess": True})),
                              "container 'web' is a Windows hostProcess"),
    "privileged": (deployment(container(privileged=True)), "privileged container 'web'"),
    "privileged-init": (deployment({"initContainers": [{
        "name": "init", "image": "busybox", "securityContext": {"privileged": True}}]}),
        "privileged initContainer 'init'"),
    "privileged-ephemeral": (deployment({"ephemeralContainers": [{
        "name": "debug", "image": "busybox", "securityContext": {"privileged": True}}]}),
        "privileged ephemeralContainer 'debug'"),
    "privilege-escalation": (deployment(container(allowPrivilegeEscalation=True)),
                             "container 'web' allows privilege escalation"),
    "cap-sys-admin": (deployment(container(capabilities={"add": ["SYS_ADMIN"]})),
                      "adds capabilities ['SYS_ADMIN']"),
    "cap-all": (deployment(container(capabilities={"add": ["ALL"]})), "['ALL']"),
    "cap-prefixed": (deployment(container(capabilities={"add": ["CAP_SYS_PTRACE"]})),
                     "['CAP_SYS_PTRACE']"),
    "host-path": (deployment({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
                  "hostPath volume 'root'"),
    "host-network": (deployment({"hostNetwork": True}), "hostNetwork: true"),
    "host-pid": (deployment({"hostPID": True}), "hostPID: true"),
    "host-ipc": (deployment({"hostIPC": True}), "hostIPC: true"),
    "host-port": (deployment({"containers": [{"name": "web", "image": "nginx", "ports": [
        {"containerPort": 80, "hostPort": 80}]}]}), "container 'web' uses hostPort 80"),
    "proc-mount-unmasked": (deployment(container(procMount="Unmasked")), "procMount Unmasked"),
    "seccomp-unconfined-pod": (deployment({"securityContext": {"seccompProfile": {
        "type": "Unconfined"}}}), "the pod has seccompProfile Unconfined"),
    "seccomp-unconfined-container": (deployment(container(seccompProfile={
        "type": "Unconfined"})), "container 'web' has seccompProfile Unconfined"),
    "apparmor-unconfined-pod": (deployment({"securityContext": {"appArmorProfile": {
        "type": "Unconfined"}}}), "the pod has appArmorProfile Unconfined"),
    "apparmor-unconfined-container": (deployment(container(appArmorProfile={
        "type": "Unconfined"})), "appArmorProfile Unconfined"),
    "apparmor-annotation": (
        {**deployment(), "spec": {**deployment()["spec"], "template": {
            **deployment()["spec"]["template"], "metadata": {"annotations": {
                "container.apparmor.security.beta.kubernetes.io/web": "unconfined"}}}}},
        "annotation container.apparmor.security.beta.kubernetes.io/web: unconfined"),
    "seccomp-annotation": (
        {**deployment(), "spec": {**deployment()["spec"], "template": {
            **deployment()["spec"]["template"], "metadata": {"annotations": {
                "seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}}}},
        "seccomp.security.alpha.kubernetes.io/pod: unconfined"),
    "selinux-spc": (deployment(container(seLinuxOptions={"type": "spc_t"})), "SELinux"),
    "selinux-user": (deployment({"securityContext": {"seLinuxOptions": {"user": "root"}}}),
                     "the pod sets SELinux options"),
    "unsafe-sysctl": (deployment({"securityContext": {"sysctls": [
        {"name": "kernel.msgmax", "value": "1"}]}}), "unsafe sysctls ['kernel.msgmax']"),
    "cronjob-template": (deployment(container(privileged=True), kind="CronJob"),
                         "CronJob web-app) is refused: privileged container 'web'"),
    "job-template": (deployment({"hostPID": True}, kind="Job"), "Job web-app) is refused"),
    "statefulset-template": (deployment({"volumes": [{"name": "r", "hostPath": {
        "path": "/var/run/docker.sock"}}]}, kind="StatefulSet", serviceName="web-app"),
        "hostPath volume 'r'"),
}


@pytest.mark.parametrize(("doc", "wanted"), PRIVILEGED.values(), ids=PRIVILEGED.keys())
async def test_privileged_pod_templates_are_refused(r: Rig, sandbox: ThreadedSandbox,
                                                    doc: dict[str, Any], wanted: str) -> None:
    await refused(r, sandbox, dump(doc), "document 1", wanted)


async def test_unprivileged_settings_stay_possible(r: Rig, sandbox: ThreadedSandbox) -> None:
    """Root, NET_BIND_SERVICE, RuntimeDefault profiles and a user namespace are not refused."""
    safe = deployment({"hostUsers": False, "securityContext": {
        "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{
            "name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
            "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                                "capabilities": {"add": ["NET_BIND_SERVICE"],
                                                 "drop": ["ALL"]}}}]})
    action = await propose(r, dump(safe))
    assert action.tool == "apply_yaml"


# ---- class 7: YAML alias bombs and other parser abuse ------------------------------------------

LAUGHS = "\n".join(
    ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", 'a: &a ["lol","lol","lol",'
     '"lol","lol","lol","lol","lol","lol"]']
    + [f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]" for p, x in zip("abcdefgh", "bcdefghi",
                                                                  strict=True)]
    + ["data: {x: *i}"])
QUADRATIC = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: q}\nx: &x [" + ",".join(
    ["lol"] * 4000) + "]\ny: [" + ",".join(["*x"] * 4000) + "]\n")
MERGE = ("apiVersion: v1\nkind: ConfigMap\nbase: &b {name: m}\nmetadata: {<<: *b}\n")


@pytest.mark.parametrize(("manifest", "wanted"), [
    (LAUGHS, "line 5: YAML aliases (*a) are refused"),
    (QUADRATIC, "line 5: YAML aliases (*x) are refused"),
    (MERGE, "line 4: YAML aliases (*b) are refused"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: " + "[" * 5000 + "]" * 5000,
     "nests deeper than 32 levels"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\nx: [" + "0," * 25000 + "0]",
     "more than 20000 values"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!python/object/apply:os.system "
     "[touch /tmp/x]}\n", "explicit YAML tags (tag:yaml.org,2002:python/object/apply"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ndata: {n: !!int abc}\n",
     "explicit YAML tags (tag:yaml.org,2002:int)"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n", "not valid YAML"),
    ("---\n" * 30 + "".join(f"---\n{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}}}}}"
                            "\n" for i in range(21)), "give 1 to 20 objects"),
], ids=["billion-laughs", "quadratic-blowup", "merge-key-alias", "deep-nesting", "too-many-nodes",
        "python-tag", "explicit-int-tag", "invalid-yaml", "too-many-documents"])
async def test_yaml_bombs_are_refused_while_parsing(r: Rig, sandbox: ThreadedSandbox,
                                                    manifest: str, wanted: str) -> None:
    assert len(manifest) <= 64 * 1024
    await refused(r, sandbox, manifest, wanted)


def test_the_bombs_are_small() -> None:
    assert len(LAUGHS) < 600 and len(QUADRATIC) < 40 * 1024


async def test_a_date_like_value_stays_a_string(r: Rig, sandbox: ThreadedSandbox) -> None:
    """An impossible date used to raise ValueError from PyYAML's timestamp constructor."""
    action = await propose(r, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dated, "
                              "annotations: {at: 2024-02-30}}\ndata: {a: b}\n")
    assert action.plan.payload["objects"][0]["manifest"]["metadata"]["annotations"] == {
        "at": "2024-02-30"}


# ---- class 7: malformed manifests are refused naming the path ----------------------------------

BASE = "apiVersion: apps/v1\nkind: Deployment\n"
TEMPLATE = ("metadata: {name: web-app}\nspec:\n  selector: {matchLabels: {app: web-app}}\n"
            "  template:\n    metadata: {labels: {app: web-app}}\n    spec:\n")


def pod(body: str) -> str:
    return BASE + TEMPLATE + "      " + body + "\n"


MALFORMED = {
    "metadata-string": (BASE + 'metadata: "x"\n', "document 1: metadata must be a mapping, "
                                                  "got a string"),
    "spec-list": (BASE + "metadata: {name: a}\nspec: [1, 2]\n",
                  "spec must be a mapping, got a list"),
    "labels-number": (BASE + "metadata: {name: a, labels: 5}\n",
                      "metadata.labels must be a mapping, got a number"),
    "label-value-number": (BASE + "metadata: {name: a, labels: {app: 1}}\n",
                           "metadata.labels.app must be a string, got a number"),
    "label-key-number": (BASE + "metadata: {name: a, labels: {1: a}}\n",
                         "metadata.labels has a key that is a number"),
    "containers-string": (pod('containers: "x"'),
                          "spec.template.spec.containers must be a list, got a string"),
    "container-list": (pod("containers: [[1]]"),
                       "spec.template.spec.containers[0] must be a mapping, got a list"),
    "kind-list": ("apiVersion: v1\nkind: [1]\nmetadata: {name: a}\n",
                  "kind must be a string, got a list"),
    "name-number": (BASE + "metadata: {name: 5}\n", "metadata.name must be a DNS-1123 name"),
    "name-traversal": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../../secrets/x}\n",
                       "metadata.name must be a DNS-1123 name"),
    "namespace-traversal": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: "
                            "'shop-staging/../kube-system'}\n",
                            "metadata.namespace must be a namespace name"),
    "replicas-string": (BASE + "metadata: {name: a}\nspec: {replicas: many}\n",
                        "spec.replicas must be a whole number ≥ 0, got a string"),
    "replicas-negative": (BASE + "metadata: {name: a}\nspec: {replicas: -3}\n",
                          "spec.replicas must be a whole number ≥ 0, got -3"),
    "replicas-boolean": (BASE + "metadata: {name: a}\nspec: {replicas: true}\n",
                         "spec.replicas must be a whole number ≥ 0, got a boolean"),
    "replicas-nan": (BASE + "metadata: {name: a}\nspec: {replicas: .nan}\n",
                     "spec.replicas is not a finite number"),
    "template-string": (BASE + "metadata: {name: a}\nspec: {template: x}\n",
                        "spec.template must be a mapping, got a string"),
    "template-spec-list": (BASE + "metadata: {name: a}\nspec: {template: {spec: [1]}}\n",
                           "spec.template.spec must be a mapping, got a list"),
    "job-template-list": ("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: a}\n"
                          "spec: {jobTemplate: [1]}\n",
                          "spec.jobTemplate must be a mapping, got a list"),
    "security-context-string": (pod('containers: [{name: w, securityContext: "privileged"}]'),
                                "containers[0].securityContext must be a mapping"),
    "capabilities-string": (pod("containers: [{name: w, securityContext: {capabilities: "
                                "{add: SYS_ADMIN}}}]"),
                            "securityContext.capabilities.add must be a list, got a string"),
    "capability-mapping": (pod("containers: [{name: w, securityContext: {capabilities: "
                               "{add: [{x: 1}]}}}]"),
                           "capabilities.add[0] must be a string, got a mapping"),
    "host-network-string": (pod('hostNetwork: "yes"'),
                            "spec.template.spec.hostNetwork must be true or false, got a string"),
    "host-port-string": (pod('containers: [{name: w, ports: [{hostPort: "80"}]}]'),
                         "ports[0].hostPort must be a whole number ≥ 0, got a string"),
    "volumes-mapping": (pod("volumes: {a: 1}"),
                        "spec.template.spec.volumes must be a list, got a mapping"),
    "quantity-garbage": (pod("containers: [{name: w, resources: {requests: {cpu: 1.2.3}}}]"),
                         "resources.requests.cpu must be a quantity"),
    "quantity-huge": (pod("containers: [{name: w, resources: {requests: {cpu: '" + "9" * 400
                          + "'}}}]"), "resources.requests.cpu must be a quantity"),
    "number-beyond-64-bits": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                              "data: {x: " + "9" * 30 + "}\n", "data.x is a number beyond 64 bits"),
    "infinity": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: .inf}\n",
                 "data.x is not a finite number"),
    "document-list": ("- a\n- b\n", "document 1 is not a Kubernetes object (a mapping), it is "
                                    "a list"),
    "document-string": ("hello\n", "document 1 is not a Kubernetes object (a mapping), it is "
                                   "a string"),
    "metadata-missing": ("apiVersion: v1\nkind: ConfigMap\n", "metadata is missing"),
    "name-missing": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n",
                     "metadata.name is missing"),
    "api-version-missing": ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion is missing"),
    "second-document": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"
                        + BASE + "metadata: {name: b}\nspec: 7\n",
                        "document 2: spec must be a mapping, got a number"),
}


@pytest.mark.parametrize(("manifest", "wanted"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_manifests_are_refused_naming_the_path(
        r: Rig, sandbox: ThreadedSandbox, manifest: str, wanted: str) -> None:
    await refused(r, sandbox, manifest, wanted)
