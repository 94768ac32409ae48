"""The sandbox reads like a real cluster (issue 18, part 2), checked with the real kubectl:
Endpoints and EndpointSlices follow pods and Services, rollouts finish with observedGeneration,
PodMetrics carry their pod's labels, and the fault knobs do what `--help` says."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.kube.faults import Faults, FaultSpecError, parse_rule
from tests.sandbox_support import ADMIN_AND_NAMESPACE_T, ThreadedSandbox
from tests.test_sandbox_controllers import wait_for

SHOP_FIXTURE = ADMIN_AND_NAMESPACE_T + """apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {pool: a}}
---
apiVersion: v1
kind: Node
metadata: {name: node-2, labels: {pool: b}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: t}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "nginx:1.27", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: t}
spec: {selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: t}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: external, namespace: t}
subsets: [{addresses: [{ip: 192.168.0.9}], ports: [{port: 5432}]}]
"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP_FIXTURE)
    sb = ThreadedSandbox(path, tmp_path, pod_start_delay=0.05).start()
    yield sb
    sb.stop()


def _endpoints(sb: ThreadedSandbox, name: str) -> tuple[list[str], list[str], list[int]]:
    ep = sb.obj("", "v1", "endpoints", "t", name) or {}
    ready = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
    waiting = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("notReadyAddresses")
               or []]
    ports = [p["port"] for s in ep.get("subsets") or [] for p in s["ports"]]
    return ready, waiting, ports


def _slices(sb: ThreadedSandbox, service: str) -> list[dict]:
    result = sb.kubectl("admin", "get", "endpointslices", "-n", "t", "-l",
                        f"kubernetes.io/service-name={service}", "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["items"]


def _pod_ips(sb: ThreadedSandbox, prefix: str) -> set[str]:
    return {sb.obj("", "v1", "pods", "t", n)["status"].get("podIP", "")
            for n in sb.names("", "v1", "pods", "t", prefix)}


def test_endpoints_and_slices_follow_pods(shop: ThreadedSandbox) -> None:
    wait_for(shop, lambda: len(_endpoints(shop, "web")[0]) == 2)
    ready, waiting, ports = _endpoints(shop, "web")
    assert set(ready) == _pod_ips(shop, "web-") and not waiting
    assert set(ports) == {8080}  # the named targetPort resolved through the container port
    listed = shop.kubectl("admin", "get", "endpoints", "web", "-n", "t")
    assert listed.returncode == 0, listed.stderr
    assert ":8080" in listed.stdout and "ENDPOINTS" in listed.stdout

    (slice_,) = _slices(shop, "web")
    assert slice_["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert {e["addresses"][0] for e in slice_["endpoints"]} == set(ready)
    assert all(e["conditions"]["ready"] and e["targetRef"]["kind"] == "Pod"
               for e in slice_["endpoints"])

    # readiness flips: the pod moves to notReadyAddresses / ready=false
    first = shop.names("", "v1", "pods", "t", "web-")[0]
    pod = shop.obj("", "v1", "pods", "t", first)
    status = {**pod["status"], "conditions": [{"type": "Ready", "status": "False"}]}
    patched = shop.kubectl("admin", "patch", "pod", first, "-n", "t", "--subresource=status",
                           "--type=merge", "-p", json.dumps({"status": status}))
    assert patched.returncode == 0, patched.stderr
    wait_for(shop, lambda: _endpoints(shop, "web")[1] == [pod["status"]["podIP"]])
    (slice_,) = _slices(shop, "web")
    flags = {e["targetRef"]["name"]: e["conditions"]["ready"] for e in slice_["endpoints"]}
    assert flags[first] is False and list(flags.values()).count(True) == 1

    # a label change takes the pod out of the Service
    relabel = shop.kubectl("admin", "label", "pod", first, "-n", "t", "app=debug", "--overwrite")
    assert relabel.returncode == 0, relabel.stderr
    wait_for(shop, lambda: pod["status"]["podIP"] not in _endpoints(shop, "web")[1])

    # scaling to zero empties both; the Service keeps one empty slice, like the real controller
    scaled = shop.kubectl("admin", "scale", "deployment/web", "-n", "t", "--replicas=0")
    assert scaled.returncode == 0, scaled.stderr
    wait_for(shop, lambda: _endpoints(shop, "web") == ([], [], []))
    (slice_,) = _slices(shop, "web")
    assert slice_["endpoints"] == []


def test_selectorless_service_keeps_its_fixture_endpoints(shop: ThreadedSandbox) -> None:
    shop.settle(0.2)
    assert _endpoints(shop, "external") == (["192.168.0.9"], [], [5432])
    assert _slices(shop, "external") == []


def test_service_created_and_deleted_with_kubectl(shop: ThreadedSandbox) -> None:
    wait_for(shop, lambda: len(_endpoints(shop, "web")[0]) == 2)
    created = shop.kubectl("admin", "expose", "deployment/web", "-n", "t", "--name=web2",
                           "--port=81", "--target-port=8080")
    assert created.returncode == 0, created.stderr
    wait_for(shop, lambda: len(_endpoints(shop, "web2")[0]) == 2)
    assert len(_slices(shop, "web2")) == 1
    deleted = shop.kubectl("admin", "delete", "service", "web2", "-n", "t")
    assert deleted.returncode == 0, deleted.stderr
    wait_for(shop, lambda: shop.obj("", "v1", "endpoints", "t", "web2") is None)
    assert _slices(shop, "web2") == []


def test_discovery_and_rbac_know_endpointslices(sandbox: ThreadedSandbox) -> None:
    resources = sandbox.kubectl("carol", "api-resources", "--api-group=discovery.k8s.io")
    assert resources.returncode == 0, resources.stderr
    assert "endpointslices" in resources.stdout and "EndpointSlice" in resources.stdout
    allowed = sandbox.kubectl("bob", "get", "endpointslices", "-n", "shop")
    assert allowed.returncode == 0, allowed.stderr
    assert "web-app-" in allowed.stdout and "IPv4" in allowed.stdout
    denied = sandbox.kubectl("bob", "delete", "endpointslices", "--all", "-n", "shop")
    assert denied.returncode != 0 and "forbidden" in denied.stderr


def test_rollout_status_finishes_and_generation_tracks_spec(sandbox: ThreadedSandbox) -> None:
    done = sandbox.kubectl("carol", "rollout", "status", "deploy/web-app", "-n", "shop",
                           "--timeout=20s")
    assert done.returncode == 0, done.stderr
    assert 'deployment "web-app" successfully rolled out' in done.stdout
    before = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    labelled = sandbox.kubectl("carol", "label", "deploy/web-app", "-n", "shop", "tier=front")
    assert labelled.returncode == 0, labelled.stderr
    after_label = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    assert after_label["metadata"]["generation"] == before["metadata"]["generation"]
    restart = sandbox.kubectl("carol", "rollout", "restart", "deploy/web-app", "-n", "shop")
    assert restart.returncode == 0, restart.stderr
    done = sandbox.kubectl("carol", "rollout", "status", "deploy/web-app", "-n", "shop",
                           "--timeout=30s")
    assert done.returncode == 0, done.stderr
    assert "successfully rolled out" in done.stdout
    final = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    assert final["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert final["status"]["observedGeneration"] == final["metadata"]["generation"]
    sts = sandbox.kubectl("carol", "rollout", "status", "sts/user-db", "-n", "data",
                          "--timeout=20s")
    assert sts.returncode == 0, sts.stderr


def test_seeded_status_without_observed_generation_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(SHOP_FIXTURE + """
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frozen, namespace: t}
spec:
  replicas: 1
  selector: {matchLabels: {app: frozen}}
  template:
    metadata: {labels: {app: frozen}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
status: {replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: t}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {nodeSelector: {pool: a}, containers: [{name: agent, image: "fluent-bit:3"}]}
""")
    sb = ThreadedSandbox(path, tmp_path, pod_start_delay=0.05).start()
    try:
        frozen = sb.kubectl("admin", "rollout", "status", "deploy/frozen", "-n", "t",
                            "--timeout=20s")
        assert frozen.returncode == 0, frozen.stderr
        agent = sb.kubectl("admin", "rollout", "status", "ds/agent", "-n", "t", "--timeout=20s")
        assert agent.returncode == 0, agent.stderr
        assert "successfully rolled out" in agent.stdout
        pods = [sb.obj("", "v1", "pods", "t", n) for n in sb.names("", "v1", "pods", "t",
                                                                      "agent-")]
        assert [p["spec"]["nodeName"] for p in pods] == ["node-1"]  # nodeSelector pool=a
    finally:
        sb.stop()


def test_top_pods_by_label(sandbox: ThreadedSandbox) -> None:
    top = sandbox.kubectl("carol", "top", "pods", "-n", "shop", "-l", "app=web-app")
    assert top.returncode == 0, top.stderr
    assert top.stdout.count("web-app-") == 3 and "api-service" not in top.stdout
    # labels come from the pod, kept current as the pod changes
    relabel = sandbox.kubectl("carol", "label", "pod", "web-app-7c9d8f6b5d-x2k9p", "-n", "shop",
                              "app=canary", "--overwrite")
    assert relabel.returncode == 0, relabel.stderr
    sandbox.settle()
    top = sandbox.kubectl("carol", "top", "pods", "-n", "shop", "-l", "app=canary")
    assert top.returncode == 0, top.stderr
    assert "web-app-7c9d8f6b5d-x2k9p" in top.stdout and top.stdout.count("web-app-") == 1


# -- fault knobs ----------------------------------------------------------------------------
def test_fault_specs_parse_and_refuse() -> None:
    rule = parse_rule("fail", "patch:deployments=0.5:503")
    assert (rule.selector.verb, rule.selector.resource, rule.rate, rule.code) == (
        "patch", "deployments", 0.5, 503)
    assert rule.selector.matches("patch", "deployments/scale")
    assert not rule.selector.matches("get", "deployments")
    assert parse_rule("latency", "0.2").selector.resource == "*"
    for action, text in (("fail", "patch:deployments"), ("fail", "poke:pods=1"),
                         ("fail", "get:pods=2"), ("hold", "get:pods=1"),
                         ("fail", "get:pods=1:299")):
        with pytest.raises(FaultSpecError):
            parse_rule(action, text)


def test_failures_latency_and_seed_are_recorded(tmp_path: Path) -> None:
    faults_file = tmp_path / "faults.yaml"
    faults_file.write_text("seed: 7\nlatency: ['list:pods=0.05']\n"
                           "fail: ['patch:deployments=1:500', 'get:configmaps=0.5:503']\n")
    faults = Faults.from_options(file=faults_file)
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, faults=faults).start()
    try:
        failed = sb.kubectl("carol", "scale", "deploy/web-app", "-n", "shop", "--replicas=4")
        assert failed.returncode != 0
        assert "failed with 500 (injected)" in failed.stderr
        assert sb.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 3
        listed = sb.kubectl("carol", "get", "pods", "-n", "shop")
        assert listed.returncode == 0, listed.stderr
        outcomes = [sb.kubectl("carol", "get", "configmap", "web-app-config", "-n", "shop",
                               "--request-timeout=5s").returncode for _ in range(8)]
    finally:
        sb.stop()
    slow = [r for r in faults.records if r.verb == "list" and r.resource == "pods"]
    assert slow and all(r.delay == 0.05 for r in slow)
    assert all(r.delay == 0 for r in faults.records if r.resource != "pods")
    assert [r.fault for r in faults.records if r.resource == "deployments/scale"] == ["fail:500"]
    cm = [r.fault for r in faults.records if r.resource == "configmaps"]
    assert [f == "" for f in cm] == [rc == 0 for rc in outcomes]
    # the same seed replays the same choices, and the rate really splits them
    replay = Faults.from_options(file=faults_file)
    assert [not replay._hit(replay.rules[2]) for _ in cm] == [f == "" for f in cm]
    assert 0 < cm.count("fail:503") < len(cm)


def test_blackhole_and_held_writes(tmp_path: Path) -> None:
    faults = Faults.from_options(blackhole=["get:pods/log"], hold=["patch:configmaps"])
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, faults=faults).start()
    try:
        silent = sb.kubectl("carol", "logs", "web-app-7c9d8f6b5d-x2k9p", "-n", "shop",
                            "--request-timeout=1s")
        assert silent.returncode != 0, silent.stdout
        assert "Unable to connect to the server" in silent.stderr  # no answer came
        assert sb.call(lambda: [r.fault for r in faults.records
                                if r.resource == "pods/log"]) == ["blackhole"]
        result: dict[str, object] = {}

        def patch() -> None:
            result["run"] = sb.kubectl("carol", "patch", "configmap", "web-app-config", "-n",
                                       "shop", "--type=merge", "-p",
                                       '{"data":{"CACHE_TTL_SECONDS":"60"}}')

        writer = threading.Thread(target=patch)
        writer.start()
        wait_for(sb, lambda: sb.call(lambda: faults.held) == 1)
        data = sb.obj("", "v1", "configmaps", "shop", "web-app-config")["data"]
        assert data["CACHE_TTL_SECONDS"] == "300"  # accepted, not applied
        assert sb.call(faults.release) == 1
        writer.join(timeout=30)
        assert result["run"].returncode == 0, result["run"].stderr  # type: ignore[attr-defined]
        data = sb.obj("", "v1", "configmaps", "shop", "web-app-config")["data"]
        assert data["CACHE_TTL_SECONDS"] == "60"
    finally:
        sb.stop()
    assert faults.counts()["blackhole"] >= 1 and faults.counts()["hold"] == 1
