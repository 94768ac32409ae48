"""Fixture loading errors, defaults filled in, and `hexabot sandbox serve` end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sandbox.kube.cluster import Cluster
from sandbox.kube.fixture import FixtureError, parse
from sandbox.kube.resources import Registry
from tests.conftest import REPO
from tests.sandbox_support import kubectl_binary

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"


@pytest.mark.parametrize(("text", "index", "reason"), [
    ("a: [unclosed", None, "not valid YAML"),
    (NS + "---\n- just\n- a list\n", 1, "expected a mapping"),
    (NS + "---\napiVersion: v1\nmetadata: {name: x}\n", 1, "missing 'apiVersion' or 'kind'"),
    (NS + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", 1, "missing 'metadata.name'"),
    (NS + "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", 1,
     "unknown kind 'Widget'"),
    (NS + "---\n" + NS, 1, "duplicate Namespace team"),
    ("apiVersion: sandbox.hexabot.io/v1\nkind: User\nmetadata: {name: u}\n", 0,
     "needs a non-empty string 'token'"),
    ("apiVersion: sandbox.hexabot.io/v1\nkind: User\nmetadata: {name: u}\ntoken: t\nrole: x\n",
     0, "unknown keys ['role']"),
    (NS + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: team\n"
     "  ownerReferences: [{kind: ReplicaSet, name: ghost}]\nspec: {containers: []}\n", 1,
     "ownerReference ReplicaSet/ghost not in the fixture"),
])
def test_malformed_fixture_names_file_document_and_reason(text: str, index: int | None,
                                                         reason: str) -> None:
    with pytest.raises(FixtureError) as info:
        parse(text, "bad.yaml", Registry())
    message = str(info.value)
    where = f"bad.yaml: document {index}: " if index is not None else "bad.yaml: "
    assert message.startswith(where), message
    assert reason in message


def test_undeclared_namespace_is_refused() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n"
    with pytest.raises(FixtureError) as info:
        Cluster().seed(parse(text, "f.yaml", Registry()))
    assert "namespace 'nowhere' is not declared" in str(info.value)


def test_missing_metadata_is_filled_in() -> None:
    cluster = Cluster()
    cluster.seed(parse(NS + "---\napiVersion: v1\nkind: ConfigMap\n"
                       "metadata: {name: c, namespace: team}\n", "f.yaml", Registry()))
    stored = cluster.get(cluster.registry.require("", "v1", "configmaps"), "team", "c")
    assert stored["metadata"]["uid"] and stored["metadata"]["creationTimestamp"]
    assert int(stored["metadata"]["resourceVersion"]) > 1


def test_serve_command_end_to_end(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "serve", "--kubeconfig-out", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("sandbox cluster serving https://127.0.0.1:"), first
        config = yaml.safe_load(kubeconfig.read_text())
        assert [c["name"] for c in config["contexts"]] == ["alice", "bob", "carol", "hexabot"]
        assert config["current-context"] == "alice"
        result = subprocess.run(
            [kubectl_binary(), "--kubeconfig", str(kubeconfig), "--cache-dir",
             str(tmp_path / "cache"), "get", "deploy", "-n", "shop", "-o", "name"],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "deployment.apps/web-app" in result.stdout.split()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "sandbox cluster stopped" in out


def test_serve_refuses_a_bad_fixture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(NS + "---\napiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n")
    result = subprocess.run(
        [sys.executable, "-m", "app", "sandbox", "serve", "--fixture", str(bad)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"fixture error: {bad}: document 1: unknown kind 'Gizmo' in apiVersion 'v1'")
