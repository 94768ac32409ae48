"""Build ToolEnvs for fixture users of the sandbox cluster (no database needed)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.sandbox_support import ThreadedSandbox
from tools.kube.client import UserCluster, api_client
from tools.security import (
    Credentials,
    ImpersonationCredentials,
    KubeconfigCredentials,
    SecurityContext,
)
from tools.spec import ToolEnv

NAMESPACES = ("shop", "shop-staging", "data")


def credentials(sandbox: ThreadedSandbox, user: str,
                impersonate: tuple[str, ...] | None = None) -> Credentials:
    document = yaml.safe_load(sandbox.sc.kubeconfig.read_text())
    if impersonate is not None:
        return ImpersonationCredentials(document, "hexabot", user, impersonate, "sandbox")
    return KubeconfigCredentials(document, user, "sandbox")


def env_for(sandbox: ThreadedSandbox, user: str, namespace: str = "shop",
            impersonate: tuple[str, ...] | None = None, **overrides: Any) -> ToolEnv:
    creds = credentials(sandbox, user, impersonate)
    ctx = SecurityContext(
        slack_id=f"U0{user.upper()}", hexabase_user=f"hxb-{user}", name=user,
        groups=impersonate or (), workspace="shop", namespaces=NAMESPACES, namespace=namespace,
        two_person_namespaces=("shop",), sensitive=False, credentials=creds)
    return ToolEnv(ctx, UserCluster(api_client(creds), creds), **overrides)

