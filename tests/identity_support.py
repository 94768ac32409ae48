"""Directory files and kubeconfigs for identity tests."""

from __future__ import annotations

from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from app.settings import Settings, load_settings
from sandbox.hexabase import FakeHexabase, FakeUser

KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": n, "user": {"token": f"token-{n}"}} for n in ("alice", "bob", "hexabot")],
    "contexts": [{"name": n, "context": {"cluster": "c", "user": n}}
                 for n in ("alice", "bob", "hexabot")],
    "current-context": "alice",
}


def directory(tmp: Path, kubeconfig: Path | None = None) -> dict:
    """A directory document; kubeconfig paths are relative to the file (kube/config)."""
    if kubeconfig is None:
        (tmp / "kube").mkdir(exist_ok=True)
        kubeconfig = tmp / "kube" / "config"
        kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    relative = str(kubeconfig.relative_to(tmp)) if kubeconfig.is_relative_to(tmp) \
        else str(kubeconfig)
    return {
        "bot": {"kubeconfig": relative, "context": "hexabot"},
        "users": [
            {"slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
             "groups": ["developers", "shop-team"],
             "workspaces": [
                 {"name": "shop", "kubeconfig": relative, "context": "alice",
                  "namespaces": ["shop", "shop-staging"], "default_namespace": "shop",
                  "two_person_namespaces": ["shop"]},
                 {"name": "data", "impersonate": {"user": "alice",
                                                  "groups": ["developers", "shop-team"]},
                  "namespaces": ["data"], "sensitive": True}]},
            {"slack_id": "U0BOB", "name": "bob", "hexabase_user": "hxb-bob",
             "groups": ["viewers"],
             "workspaces": [
                 {"name": "shop", "kubeconfig": relative, "context": "bob",
                  "namespaces": ["shop", "shop-staging"]},
                 {"name": "bob-lab", "kubeconfig": relative, "context": "bob",
                  "namespaces": ["lab"]}]},
        ],
    }


def write(tmp: Path, document: dict, name: str = "directory.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def hexabase_users() -> list[FakeUser]:
    """alice (shop, with a two-person namespace) and bob (a sensitive lab) on the fake
    Hexabase."""
    return [
        FakeUser("hxb-alice", "alice", ["developers", "shop-team"], {
            "shop": {"namespaces": ["shop", "shop-staging"], "two_person": ["shop"],
                     "kubeconfig": KUBECONFIG, "context": "alice"}}),
        FakeUser("hxb-bob", "bob", ["viewers"], {
            "bob-lab": {"namespaces": ["lab"], "kubeconfig": KUBECONFIG, "context": "bob",
                        "sensitive": True}}),
    ]


def hexabase_settings(fake: FakeHexabase, database_url: str, port: int) -> Settings:
    """Settings for Hexabase login against ``fake``, the OAuth callback on ``port``."""
    return load_settings(
        database_url=database_url, identity_provider="hexabase",
        encryption_key=Fernet.generate_key().decode(),
        hexabase_authorize_url=f"{fake.url}/oauth/authorize",
        hexabase_token_url=f"{fake.url}/oauth/token",
        hexabase_jwks_url=f"{fake.url}/oauth/jwks", hexabase_issuer=fake.issuer,
        hexabase_api_url=f"{fake.url}/api",
        oauth_redirect_url=f"http://127.0.0.1:{port}/oauth/callback")
