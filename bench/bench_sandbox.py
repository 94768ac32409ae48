"""Sandbox cluster benchmarks.

1. List 1,000 pods with the official client (target < 0.5 s; median of 7 lists).
2. 20 concurrent clients doing mixed reads and writes for 10 s (target: no error, and
   resourceVersions consistent: every client sees its own writes' versions strictly increase,
   and optimistic concurrency loses no update: the shared counter equals the successful writes).
"""

from __future__ import annotations

import itertools
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from bench.common import Result, admin_fixture

CLIENTS = 20
MIXED_SECONDS = 10.0


def _fixture(path: Path, pods: int) -> None:
    docs: list[dict[str, Any]] = admin_fixture("load", token="bench-admin")
    for i in range(pods):
        docs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i:04d}", "namespace": "load",
                         "labels": {"app": f"app-{i % 10}"}},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "main", "image": "nginx:1.27",
                 "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}}}]},
            "status": {"phase": "Running", "podIP": f"10.1.{i // 250}.{i % 250}",
                       "containerStatuses": [{"name": "main", "image": "nginx:1.27",
                                              "ready": True, "restartCount": 0,
                                              "state": {"running": {}}}]},
        })
    path.write_text(yaml.safe_dump_all(docs))


def _api(kubeconfig: Path) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(kubeconfig), context="admin")


def bench_list(kubeconfig: Path) -> Result:
    core = client.CoreV1Api(_api(kubeconfig))
    assert len(core.list_namespaced_pod("load").items) == 1000  # warm-up and sanity check
    timings = []
    for _ in range(7):
        began = time.perf_counter()
        items = core.list_namespaced_pod("load").items
        timings.append(time.perf_counter() - began)
        assert len(items) == 1000
    median = statistics.median(timings)
    return Result("list 1,000 pods (official client, median of 7)", f"{median * 1000:.0f} ms",
                  "< 500 ms", median < 0.5)


def _worker(kubeconfig: Path, index: int, stop: float, stats: dict[str, Any],
            lock: threading.Lock) -> None:
    api = _api(kubeconfig)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    own = f"own-{index}"
    versions: list[int] = []
    ops = errors = conflicts = shared_writes = 0
    core.create_namespaced_config_map("load", {"metadata": {"name": own}, "data": {"n": "0"}})
    step = 0
    while time.monotonic() < stop:
        step += 1
        try:
            kind = step % 4
            if kind == 0:
                core.list_namespaced_pod("load", label_selector=f"app=app-{index % 10}")
            elif kind == 1:
                cm = core.read_namespaced_config_map(own, "load")
                cm.data = {"n": str(int(cm.data["n"]) + 1)}
                written = core.replace_namespaced_config_map(own, "load", cm)
                versions.append(int(written.metadata.resource_version))
            elif kind == 2:
                shared = core.read_namespaced_config_map("shared", "load")
                shared.data = {"count": str(int(shared.data["count"]) + 1)}
                try:
                    core.replace_namespaced_config_map("shared", "load", shared)
                    shared_writes += 1
                except ApiException as exc:
                    if exc.status != 409:
                        raise
                    conflicts += 1
            else:
                apps.list_namespaced_deployment("load")
            ops += 1
        except ApiException:
            errors += 1
    final = core.read_namespaced_config_map(own, "load")
    monotonic = all(a < b for a, b in itertools.pairwise(versions))
    consistent = monotonic and int(final.data["n"]) == len(versions)
    with lock:
        stats["ops"] += ops
        stats["errors"] += errors
        stats["conflicts"] += conflicts
        stats["shared_writes"] += shared_writes
        stats["inconsistent"] += 0 if consistent else 1


def bench_mixed(kubeconfig: Path) -> list[Result]:
    core = client.CoreV1Api(_api(kubeconfig))
    core.create_namespaced_config_map("load", {"metadata": {"name": "shared"},
                                               "data": {"count": "0"}})
    stats = {"ops": 0, "errors": 0, "conflicts": 0, "shared_writes": 0, "inconsistent": 0}
    lock = threading.Lock()
    stop = time.monotonic() + MIXED_SECONDS
    threads = [threading.Thread(target=_worker, args=(kubeconfig, i, stop, stats, lock))
               for i in range(CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    counter = int(core.read_namespaced_config_map("shared", "load").data["count"])
    no_lost_update = counter == stats["shared_writes"]
    return [
        Result(f"{CLIENTS} clients mixed r/w for {MIXED_SECONDS:.0f} s: throughput",
               f"{stats['ops'] / elapsed:.0f} req/s ({stats['ops']} requests)", "no target",
               True),
        Result(f"{CLIENTS} clients mixed r/w: errors (409 on a stale write is expected)",
               f"{stats['errors']} errors, {stats['conflicts']} conflicts", "0 errors",
               stats["errors"] == 0),
        Result(f"{CLIENTS} clients mixed r/w: resourceVersion consistency",
               f"{stats['inconsistent']} inconsistent clients; shared counter {counter} = "
               f"{stats['shared_writes']} successful writes", "all consistent, no lost update",
               stats["inconsistent"] == 0 and no_lost_update),
    ]


def run() -> list[Result]:
    """Serve the load fixture from `hexabot sandbox serve` in its own process, as users do."""
    with tempfile.TemporaryDirectory() as tmp:
        fixture, kubeconfig = Path(tmp) / "load.yaml", Path(tmp) / "kubeconfig"
        _fixture(fixture, 1000)
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "sandbox", "serve", "--fixture", str(fixture),
             "--kubeconfig-out", str(kubeconfig)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            if not first.startswith("sandbox cluster serving"):
                raise RuntimeError(f"sandbox did not start: {first}{server.stderr.read()}")
            return [bench_list(kubeconfig), *bench_mixed(kubeconfig)]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
