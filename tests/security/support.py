"""What the adversarial suite shares: a second cluster whose admin names their workspace like
ours, a directory with the attackers in it, and an approve/reject/list door matrix."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from app.identity.service import IdentityService
from confirmations.model import PendingAction
from tests.confirm_support import DIRECTORY, Rig, rig
from tests.sandbox_support import ThreadedSandbox

# mallory: an admin of *another* cluster whose workspace there is also named "shop".
# erin: a cluster-admin on our cluster (carol's credentials) whose entry lists only `data`.
ATTACKERS = """\
  - {{slack_id: U0MALLORY, name: mallory, hexabase_user: hxb-mallory, groups: [admins],
     workspaces: [{{name: shop, kubeconfig: {other}, context: carol,
                   namespaces: [shop, shop-staging, data]}}]}}
  - {{slack_id: U0ERIN, name: erin, hexabase_user: hxb-erin, groups: [admins],
     workspaces: [{{name: shop, kubeconfig: {kc}, context: carol, namespaces: [data]}}]}}
"""


def directory(other: ThreadedSandbox, alice_elsewhere: bool = False) -> str:
    """DIRECTORY plus the attackers (a ``str.format`` template of ``kc`` like DIRECTORY);
    ``alice_elsewhere``: alice's "shop" now points at the other cluster."""
    people = DIRECTORY + ATTACKERS.replace("{other}", str(other.sc.kubeconfig))
    if alice_elsewhere:
        people = people.replace(
            "workspaces: [{{name: shop, impersonate: {{user: alice, groups: [developers, "
            "shop-team]}},",
            f"workspaces: [{{{{name: shop, kubeconfig: {other.sc.kubeconfig}, context: alice,",
            1)
    return people


@contextlib.asynccontextmanager
async def attacked(database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox,
                   tmp_path: Path, migrated: bool = False,
                   alice_elsewhere: bool = False) -> AsyncIterator[Rig]:
    async with rig(database_url, sandbox, tmp_path, migrated,
                   directory(other, alice_elsewhere)) as found:
        yield found


async def propose_scale(identity: IdentityService, r: Rig, namespace: str = "shop-staging",
                        name: str = "web-app", replicas: int = 5) -> PendingAction:
    alice = await identity.context("U0ALICE", namespace=namespace)
    return await r.flow.propose(alice, "scale_deployment", {"name": name, "replicas": replicas})


def replicas(sandbox: ThreadedSandbox, namespace: str, name: str) -> int:
    found = sandbox.obj("apps", "v1", "deployments", namespace, name)
    assert found is not None
    return int(found["spec"]["replicas"])


API_KEY = ec.generate_private_key(ec.SECP256R1())
HEXABASE = {"U0ALICE": "hxb-alice", "U0BOB": "hxb-bob", "U0CAROL": "hxb-carol",
            "U0MALLORY": "hxb-mallory", "U0ERIN": "hxb-erin"}


def bearer(slack_id: str, **override: Any) -> dict[str, str]:
    """An internal platform token for ``slack_id`` (signed with :data:`API_KEY`)."""
    now = int(time.time())
    claims = {"iss": "hexabase", "aud": "hexabot-ai", "sub": HEXABASE[slack_id],
              "slack_id": slack_id, "iat": now, "exp": now + 300, "workspace": "shop",
              "namespaces": ["shop", "shop-staging", "data"], **override}
    signed = jwt.encode(claims, API_KEY, algorithm="ES256", headers={"kid": "platform"})
    return {"Authorization": f"Bearer {signed}"}
