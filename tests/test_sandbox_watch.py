"""Watch streams and resourceVersion semantics, with the official client and kubectl."""

from __future__ import annotations

import subprocess
import threading
import time

from kubernetes import client, watch

from tests.sandbox_support import ThreadedSandbox, kubectl_binary


def wait_for_watch(sandbox: ThreadedSandbox, plural: str, namespace: str) -> None:
    """Until the sandbox has a watch stream open on ``plural`` (a fact it records), not a
    guess at how long a client takes to connect."""
    deadline = time.monotonic() + 30
    while not sandbox.call(lambda: sandbox.sc.cluster.store.watching(plural, namespace)):
        assert time.monotonic() < deadline, f"no watch on {plural} in {namespace} after 30 s"
        time.sleep(0.02)


def test_watch_with_the_client_sees_changes_and_ends_on_timeout(
    sandbox: ThreadedSandbox,
) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    start = core.list_namespaced_config_map("shop").metadata.resource_version
    writer = client.CoreV1Api(sandbox.api("alice"))

    def write() -> None:
        wait_for_watch(sandbox, "configmaps", "shop")
        writer.create_namespaced_config_map("shop", {"metadata": {"name": "w1"}})
        writer.patch_namespaced_config_map("w1", "shop", {"data": {"k": "v"}})
        client.CoreV1Api(sandbox.api("carol")).delete_namespaced_config_map("w1", "shop")

    thread = threading.Thread(target=write)
    thread.start()
    began = time.monotonic()
    events = [(e["type"], e["object"].metadata.name, e["object"].metadata.resource_version)
              for e in watch.Watch().stream(core.list_namespaced_config_map, "shop",
                                            resource_version=start, timeout_seconds=2)]
    thread.join()
    assert time.monotonic() - began < 10  # the server ended the stream at timeoutSeconds
    assert [(t, n) for t, n, _ in events] == [("ADDED", "w1"), ("MODIFIED", "w1"),
                                             ("DELETED", "w1")]
    versions = [int(v) for _, _, v in events]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert versions[0] > int(start)


def test_watch_from_an_old_version_replays_history(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    start = core.list_namespaced_config_map("shop").metadata.resource_version
    core.create_namespaced_config_map("shop", {"metadata": {"name": "early"}})
    events = list(watch.Watch().stream(core.list_namespaced_config_map, "shop",
                                       resource_version=start, timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "early")]


def test_kubectl_get_watch(sandbox: ThreadedSandbox) -> None:
    env_args = ["--kubeconfig", str(sandbox.sc.kubeconfig), "--context", "alice",
                "--cache-dir", str(sandbox.workdir / "cache")]
    process = subprocess.Popen(
        [kubectl_binary(), *env_args, "get", "configmaps", "-n", "shop", "--watch-only",
         "--request-timeout=3s", "-o", "name"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_watch(sandbox, "configmaps", "shop")
    created = sandbox.kubectl("alice", "create", "-n", "shop", "-f", "-",
                              stdin='{"apiVersion": "v1", "kind": "ConfigMap", '
                                    '"metadata": {"name": "watched"}}')
    assert created.returncode == 0, created.stderr
    out, _ = process.communicate(timeout=30)
    assert "configmap/watched" in out.split()
