"""Changes converge or fail as on a real cluster: crash-looping and unpullable images, and
PodMetrics that follow the load as a workload scales (the sandbox's kubelet and metrics-server).

Everything is driven and read through the sandbox's HTTP API (kubectl, the official client);
image behaviours are declared at run time with ``cluster.images.set`` or in a fixture."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sandbox.kube.fixture import FixtureError, parse
from sandbox.kube.images import Crash, PullFailure
from sandbox.kube.kubelet import RESTARTS
from sandbox.kube.metrics import MILLICORES, quantity
from sandbox.kube.resources import Registry
from tests.sandbox_support import ADMIN_AND_NAMESPACE_T, ThreadedSandbox
from tests.test_sandbox_controllers import wait_for

CRASHING = "registry.example.com/shop/web:2.0.0"
MISSING = "nginx:9.99"


def _pods(sandbox: ThreadedSandbox, image: str) -> list[dict[str, Any]]:
    pods = client.CoreV1Api(sandbox.api("carol")).list_namespaced_pod(
        "shop", label_selector="app=web-app")
    found = [sandbox.api("carol").sanitize_for_serialization(p) for p in pods.items]
    return [p for p in found if p["spec"]["containers"][0]["image"] == image]


def _deployment(sandbox: ThreadedSandbox) -> dict[str, Any]:
    result = sandbox.kubectl("carol", "get", "deployment", "web-app", "-n", "shop", "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _events(sandbox: ThreadedSandbox, pod: str) -> list[dict[str, Any]]:
    result = sandbox.kubectl("carol", "get", "events", "-n", "shop", "-o", "json",
                             "--field-selector", f"involvedObject.name={pod}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["items"]


def _cpu(sandbox: ThreadedSandbox) -> dict[str, Decimal]:
    """web-app's PodMetrics as served by metrics.k8s.io: pod name -> CPU millicores."""
    metrics = client.CustomObjectsApi(sandbox.api("carol")).list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", "shop", "pods", label_selector="app=web-app")
    return {m["metadata"]["name"]: quantity(m["containers"][0]["usage"]["cpu"], MILLICORES)
            for m in metrics["items"]}


def _ready_names(sandbox: ThreadedSandbox, image: str = "nginx:1.27") -> set[str]:
    return {p["metadata"]["name"] for p in _pods(sandbox, image)
            if p["status"]["phase"] == "Running"
            and all(s["ready"] for s in p["status"].get("containerStatuses") or [{}])}


def _set_image(sandbox: ThreadedSandbox, image: str) -> None:
    result = sandbox.kubectl("carol", "set", "image", "deployment/web-app", f"web={image}",
                             "-n", "shop")
    assert result.returncode == 0, result.stderr


def test_crashing_image_loops_until_rolled_back(sandbox: ThreadedSandbox) -> None:
    sandbox.call(lambda: sandbox.sc.cluster.images.set(
        CRASHING, Crash(exit_code=2, reason="Error", message="panic: DATABASE_URL not set")))
    _set_image(sandbox, CRASHING)
    # restartCount starts at 1 and grows on each back-off until the sandbox's cap
    wait_for(sandbox, lambda: len(_pods(sandbox, CRASHING)) == 3 and all(
        (p["status"].get("containerStatuses") or [{}])[0].get("restartCount") == RESTARTS
        for p in _pods(sandbox, CRASHING)))

    for pod in _pods(sandbox, CRASHING):
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        status = pod["status"]["containerStatuses"][0]
        assert pod["status"]["phase"] == "Running"
        assert status["ready"] is False and status["started"] is False
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["state"]["waiting"]["message"] == (  # the kubelet's 5m cap
            f"back-off 5m0s restarting failed container=web pod={name}_shop({uid})")
        assert status["lastState"]["terminated"] | {"startedAt": "", "finishedAt": ""} == {
            "exitCode": 2, "reason": "Error", "message": "panic: DATABASE_URL not set",
            "startedAt": "", "finishedAt": ""}
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["Ready"] == conditions["ContainersReady"] == "False"
        backoff = [e for e in _events(sandbox, name) if e["reason"] == "BackOff"]
        assert [(e["type"], e["message"]) for e in backoff] == [
            ("Warning", f"Back-off restarting failed container web in pod {name}_shop({uid})")]
        assert backoff[0]["count"] == RESTARTS  # one event, counted up on each restart
        assert backoff[0]["involvedObject"]["fieldPath"] == "spec.containers{web}"
    assert not set(_cpu(sandbox)) & {p["metadata"]["name"] for p in _pods(sandbox, CRASHING)}

    status = _deployment(sandbox)["status"]
    assert status["updatedReplicas"] == status["replicas"] == 3
    assert status["readyReplicas"] == status["availableReplicas"] == 0
    assert {c["type"]: c["status"] for c in status["conditions"]}["Available"] == "False"
    rollout = sandbox.kubectl("carol", "rollout", "status", "deployment/web-app", "-n", "shop",
                              "--watch=false")
    assert rollout.returncode == 0, rollout.stderr
    assert "0 of 3 updated replicas are available" in rollout.stdout

    undo = sandbox.kubectl("carol", "rollout", "undo", "deployment/web-app", "-n", "shop")
    assert undo.returncode == 0, undo.stderr
    wait_for(sandbox, lambda: len(_ready_names(sandbox)) == 3 and not _pods(sandbox, CRASHING))
    assert _deployment(sandbox)["status"]["availableReplicas"] == 3


def test_image_that_cannot_be_pulled(sandbox: ThreadedSandbox) -> None:
    sandbox.call(lambda: sandbox.sc.cluster.images.set(MISSING, PullFailure()))
    _set_image(sandbox, MISSING)
    wait_for(sandbox, lambda: len(_pods(sandbox, MISSING)) == 3 and all(
        "waiting" in (p["status"].get("containerStatuses") or [{}])[0].get("state", {})
        for p in _pods(sandbox, MISSING)))
    for pod in _pods(sandbox, MISSING):
        status = pod["status"]["containerStatuses"][0]
        assert pod["status"]["phase"] == "Pending"
        assert status["ready"] is False and status["restartCount"] == 0
        assert status["state"]["waiting"] == {"reason": "ImagePullBackOff",
                                              "message": f'Back-off pulling image "{MISSING}"'}
        failed = [e for e in _events(sandbox, pod["metadata"]["name"])
                  if e["reason"] == "Failed"]
        assert [e["type"] for e in failed] == ["Warning"]
        assert failed[0]["message"].startswith(f'Failed to pull image "{MISSING}": ')
    status = _deployment(sandbox)["status"]
    assert status["updatedReplicas"] == 3 and status["availableReplicas"] == 0
    assert status["unavailableReplicas"] == 3

    _set_image(sandbox, "nginx:1.27")
    wait_for(sandbox, lambda: len(_ready_names(sandbox)) == 3 and not _pods(sandbox, MISSING))
    assert _deployment(sandbox)["status"]["availableReplicas"] == 3


def test_cpu_is_spread_over_the_ready_pods(sandbox: ThreadedSandbox) -> None:
    before = _cpu(sandbox)
    assert len(before) == 3
    demand = sum(before.values())  # 675m in the demo fixture: the load the pods share

    def spread(replicas: int) -> bool:
        cpu, ready = _cpu(sandbox), _ready_names(sandbox)
        # Each pod's share is rounded to whole millicores (half up), so it lies within
        # 0.5m of demand / replicas; anything further off is not an even split.
        return len(ready) == replicas and set(cpu) == ready and all(
            abs(value - demand / replicas) <= Decimal("0.5") for value in cpu.values())

    scale = sandbox.kubectl("carol", "scale", "deployment/web-app", "-n", "shop", "--replicas=4")
    assert scale.returncode == 0, scale.stderr
    wait_for(sandbox, lambda: spread(4))
    after = _cpu(sandbox)
    assert all(after[name] < before[name] for name in before)  # 3/4 of ~225m each
    [new] = set(after) - set(before)
    top = sandbox.kubectl("carol", "top", "pod", new, "-n", "shop", "--no-headers")
    assert top.returncode == 0, top.stderr
    assert top.stdout.split()[1:] == ["169m", "317Mi"]  # 675m / 4; mean of 318, 316, 319Mi

    scale = sandbox.kubectl("carol", "scale", "deployment/web-app", "-n", "shop", "--replicas=2")
    assert scale.returncode == 0, scale.stderr
    wait_for(sandbox, lambda: spread(2))
    assert all(value > max(before.values()) for value in _cpu(sandbox).values())


def test_no_usage_is_invented(sandbox: ThreadedSandbox) -> None:
    """shop-staging's web-app has no fixture metrics: its running pod gets none."""
    wait_for(sandbox, lambda: _deployment_ready(sandbox, "shop-staging") == 1)
    metrics = client.CustomObjectsApi(sandbox.api("carol")).list_namespaced_custom_object(
        "metrics.k8s.io", "v1beta1", "shop-staging", "pods")
    assert metrics["items"] == []


def _deployment_ready(sandbox: ThreadedSandbox, namespace: str) -> int:
    got = client.AppsV1Api(sandbox.api("carol")).read_namespaced_deployment("web-app", namespace)
    return got.status.ready_replicas or 0


IMAGE_FIXTURE = ADMIN_AND_NAMESPACE_T + """apiVersion: sandbox.hexabot.io/v1
kind: Image
metadata: {name: "registry.example.com/t/api:2.5.0"}
crash: {}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: api, namespace: t}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: "registry.example.com/t/api:2.5.0"}]
"""


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    path = tmp_path / "images.yaml"
    path.write_text(IMAGE_FIXTURE)
    # restarts come 1s, 2s, 4s... apart: a pending restart timer is there to be seen
    sb = ThreadedSandbox(path, tmp_path, pod_start_delay=0.5).start()
    yield sb
    sb.stop()


def test_fixture_image_crashes_until_declared_good(images: ThreadedSandbox) -> None:
    core = client.CoreV1Api(images.api("admin"))

    def state() -> dict[str, Any]:
        pod = core.read_namespaced_pod("api-0", "t")
        return images.api("admin").sanitize_for_serialization(pod)["status"]

    wait_for(images, lambda: "containerStatuses" in state()
             and "waiting" in state()["containerStatuses"][0]["state"])
    status = state()["containerStatuses"][0]
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1  # the defaults of `crash: {}`
    assert status["lastState"]["terminated"]["reason"] == "Error"

    uid = images.obj("", "v1", "pods", "t", "api-0")["metadata"]["uid"]
    assert uid in images.call(lambda: set(images.sc.controllers.kubelet.backoffs))

    images.call(lambda: images.sc.cluster.images.set("registry.example.com/t/api:2.5.0", None))
    core.delete_namespaced_pod("api-0", "t")
    images.settle()
    assert uid not in images.call(lambda: set(images.sc.controllers.kubelet.backoffs))
    wait_for(images, lambda: bool(images.obj("", "v1", "pods", "t", "api-0")) and all(
        s.get("ready") for s in state().get("containerStatuses") or [{}]))
    sts = client.AppsV1Api(images.api("admin")).read_namespaced_stateful_set("api", "t")
    assert sts.status.ready_replicas == 1


IMAGE = "apiVersion: sandbox.hexabot.io/v1\nkind: Image\nmetadata: {name: 'shop/api:2.5.0'}\n"


@pytest.mark.parametrize(("body", "reason"), [
    ("", "needs exactly one of 'crash"),
    ("crash: {}\npull: fail\n", "needs exactly one of 'crash"),
    ("pull: sometimes\n", "'pull' takes only the value 'fail'"),
    ("crash: [1]\n", "'crash' must be a mapping"),
    ("crash: {exitCode: '1'}\n", "crash.exitCode must be an integer"),
    ("crash: {exitCode: 300}\n", "crash.exitCode must be an integer"),
    ("crash: {reason: ''}\n", "crash.reason must be a non-empty string"),
    ("crash: {signal: 9}\n", "crash takes only"),
    ("crash: {}\nrestarts: 3\n", "unknown keys ['restarts']"),
])
def test_malformed_image_document_is_refused(body: str, reason: str) -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: t}\n---\n" + IMAGE + body
    with pytest.raises(FixtureError) as info:
        parse(text, "bad.yaml", Registry())
    message = str(info.value)
    assert message.startswith("bad.yaml: document 1: Image 'shop/api:2.5.0'"), message
    assert reason in message


def test_image_documents_parse_with_defaults() -> None:
    text = (IMAGE + "crash: {message: boom}\n---\napiVersion: sandbox.hexabot.io/v1\n"
            "kind: Image\nmetadata: {name: 'shop/api:9.9'}\npull: fail\n")
    fixture = parse(text, "ok.yaml", Registry())
    assert fixture.images == {"shop/api:2.5.0": Crash(1, "Error", "boom"),
                              "shop/api:9.9": PullFailure()}
    with pytest.raises(FixtureError, match=re.escape("document 1: duplicate Image shop/api:2.5.0")):
        parse(IMAGE + "pull: fail\n---\n" + IMAGE + "pull: fail\n", "dup.yaml", Registry())
