"""The demo's people as a Hexabot static directory, for a running sandbox cluster (used by
``hexabot demo`` and ``hexabot eval``)."""

from __future__ import annotations

from sandbox.kube.serve import SandboxCluster


def demo_directory(sc: SandboxCluster) -> dict[str, object]:
    """The static directory of the demo's people (alice, bob, carol), reaching ``sc`` as
    their fixture users: alice by impersonation, bob and carol by their own contexts."""
    kubeconfig = str(sc.kubeconfig)
    team = ["shop", "shop-staging", "data"]
    return {
        "bot": {"kubeconfig": kubeconfig, "context": "hexabot"},
        "users": [
            {"slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
             "groups": ["developers", "shop-team"],
             "workspaces": [{"name": "shop", "impersonate": {
                 "user": "alice", "groups": ["developers", "shop-team"]},
                 "namespaces": team, "two_person_namespaces": ["shop"]}]},
            {"slack_id": "U0BOB", "name": "bob", "hexabase_user": "hxb-bob",
             "groups": ["viewers"], "workspaces": [{"name": "shop", "kubeconfig": kubeconfig,
                                                    "context": "bob", "namespaces": team}]},
            {"slack_id": "U0CAROL", "name": "carol", "hexabase_user": "hxb-carol",
             "groups": ["admins"], "workspaces": [{"name": "shop", "kubeconfig": kubeconfig,
                                                   "context": "carol", "namespaces": team}]},
        ],
    }
