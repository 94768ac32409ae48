"""The static directory: loading, refusals that name file and key, and the CLI on top of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import asyncpg
import pytest

from app.identity import static
from app.identity.static import DirectoryError
from tests.conftest import run_cli
from tests.identity_support import directory, write
from tools.security import ImpersonationCredentials, KubeconfigCredentials


async def test_load_resolves_paths_and_credentials(tmp_path: Path) -> None:
    path = write(tmp_path, directory(tmp_path))
    loaded = static.load(path)
    alice = await loaded.lookup("U0ALICE")
    assert alice is not None and alice is await loaded.lookup("alice")
    shop, data = alice.workspaces
    assert isinstance(shop.credentials, KubeconfigCredentials)
    assert shop.credentials.context == "alice"
    assert shop.credentials.source == str(tmp_path / "kube" / "config")
    assert shop.two_person_namespaces == ("shop",)
    assert isinstance(data.credentials, ImpersonationCredentials)
    assert data.credentials.groups == ("developers", "shop-team")
    assert data.credentials.bot_context == "hexabot" and data.sensitive
    assert data.default_namespace == "data"
    assert await loaded.lookup("U0NOBODY") is None
    assert "token-alice" not in repr(shop)  # credentials never show in a repr


def _mutate(tmp: Path, change) -> Path:  # type: ignore[no-untyped-def]
    document = copy.deepcopy(directory(tmp))
    change(document)
    return write(tmp, document, "bad.yaml")


@pytest.mark.parametrize(("change", "where", "reason"), [
    (lambda d: d["users"][0]["workspaces"][0].update(namespace="x"),
     "users[0].workspaces[0].namespace", "unknown key"),
    (lambda d: d["users"][1].pop("hexabase_user"), "users[1].hexabase_user",
     "required key is missing"),
    (lambda d: d["users"][0]["workspaces"][0].update(context="nobody"),
     "users[0].workspaces[0].context", "context 'nobody' is not in"),
    (lambda d: d["users"][0]["workspaces"][0].update(kubeconfig="missing.yaml"),
     "users[0].workspaces[0].kubeconfig", "cannot read"),
    (lambda d: d.pop("bot"), "users[0].workspaces[1].impersonate",
     "impersonation needs the bot's credentials"),
    (lambda d: d["users"][0]["workspaces"][0].update(default_namespace="prod"),
     "users[0].workspaces[0]", "default_namespace 'prod' is not one of"),
    (lambda d: d["users"][1].update(slack_id="U0ALICE"), "users[1]",
     "'U0ALICE' is already used by users[0]"),
    (lambda d: d["users"][0]["workspaces"][0].pop("context"), "users[0].workspaces[0]",
     "kubeconfig and context go together"),
    (lambda d: d.update(admins=[]), "admins", "unknown key"),
    (lambda d: d["bot"].update(in_cluster=True), "bot",
     "give either kubeconfig and context, or in_cluster: true"),
    (lambda d: d.update(bot={"in_cluster": True}), "bot.in_cluster",
     "not running in a pod with a ServiceAccount token"),
])
def test_refusals_name_file_path_and_reason(tmp_path: Path, change, where: str,  # type: ignore[no-untyped-def]
                                            reason: str) -> None:
    path = _mutate(tmp_path, change)
    with pytest.raises(DirectoryError) as info:
        static.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert reason in message


def test_in_cluster_bot_uses_the_pods_service_account(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("projected-token")
    monkeypatch.setattr(static, "SERVICE_ACCOUNT", account)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    document = copy.deepcopy(directory(tmp_path))
    document["bot"] = {"in_cluster": True}
    loaded = static.load(write(tmp_path, document, "pod.yaml"))
    credentials = loaded.users[0].workspaces[1].credentials
    assert isinstance(credentials, ImpersonationCredentials)
    kubeconfig = credentials.bot_kubeconfig
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://10.96.0.1:443"
    assert kubeconfig["users"][0]["user"] == {"tokenFile": str(account / "token")}
    assert "projected-token" not in json.dumps(kubeconfig)  # read by the client, not copied


def _cli_env(clean_env: dict[str, str], database_url: str, path: Path) -> dict[str, str]:
    return {**clean_env, "HEXABOT_DATABASE_URL": database_url,
            "HEXABOT_DIRECTORY_FILE": str(path)}


async def _rows(database_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def test_cli_whoami_switch_and_logout(tmp_path: Path, clean_env: dict[str, str],
                                            database_url: str) -> None:
    env = _cli_env(clean_env, database_url, write(tmp_path, directory(tmp_path)))
    me = run_cli(["whoami", "--as", "alice"], env, tmp_path)
    assert me.returncode == 0, me.stderr
    assert "alice (Slack U0ALICE, Hexabase hxb-alice)" in me.stdout
    assert "namespace: shop (allowed: shop, shop-staging)" in me.stdout
    assert "cluster access: context 'alice' of" in me.stdout

    switched = run_cli(["namespace", "shop-staging", "--as", "U0ALICE"], env, tmp_path)
    assert switched.returncode == 0, switched.stderr
    assert (await _rows(database_url, "SELECT workspace, namespace FROM user_context"))[0][
        "namespace"] == "shop-staging"
    again = run_cli(["namespace", "--as", "alice"], env, tmp_path)
    assert again.stdout.startswith("namespace: shop-staging")

    refused = run_cli(["namespace", "kube-system", "--as", "alice"], env, tmp_path)
    assert refused.returncode == 1
    assert "Namespace 'kube-system' is not yours in workspace 'shop'. Yours: shop, " \
        "shop-staging." in refused.stderr
    other = run_cli(["workspace", "bob-lab", "--as", "alice"], env, tmp_path)
    assert other.returncode == 1 and "Yours: shop, data." in other.stderr
    moved = run_cli(["workspace", "data", "--as", "alice"], env, tmp_path)
    assert moved.returncode == 0 and "workspace: data (namespace data)" in moved.stdout

    events = [json.loads(r["event"]) for r in
              await _rows(database_url, "SELECT event FROM audit_outbox ORDER BY id")]
    assert [(e["kind"], e["outcome"], e["namespace"] or e["workspace"]) for e in events] == [
        ("context.switch_namespace", "ok", "shop-staging"),
        ("context.switch_namespace", "denied", "kube-system"),
        ("context.switch_workspace", "denied", "bob-lab"),
        ("context.switch_workspace", "ok", "data")]
    assert all(e["actor"] == "U0ALICE" for e in events)

    await _rows(database_url, "INSERT INTO workflow_runs (id, workflow, slack_id, workspace, "
                "namespace, state, inputs, data) VALUES ('r1', 'scale_application', 'U0ALICE', "
                "'data', 'data', 'done', '{}', '{}')")
    logout = run_cli(["logout", "--as", "alice"], env, tmp_path)
    assert logout.returncode == 0, logout.stderr
    assert "1 workflow_runs" in logout.stdout
    assert await _rows(database_url, "SELECT * FROM user_context") == []
    assert await _rows(database_url, "SELECT * FROM workflow_runs") == []


async def test_unknown_user_gets_a_way_forward_and_is_audited(
        tmp_path: Path, clean_env: dict[str, str], database_url: str) -> None:
    env = _cli_env(clean_env, database_url, write(tmp_path, directory(tmp_path)))
    result = run_cli(["whoami", "--as", "U0MALLORY"], env, tmp_path)
    assert result.returncode == 1
    assert "Ask your Hexabot administrator to add your Slack user to directory.yaml" \
        in result.stderr
    rows = await _rows(database_url, "SELECT event FROM audit_outbox")
    assert len(rows) == 1
    assert '"request.unknown_user"' in rows[0]["event"] and '"U0MALLORY"' in rows[0]["event"]


def test_bad_directory_file_is_a_config_error(tmp_path: Path, clean_env: dict[str, str],
                                              database_url: str) -> None:
    path = _mutate(tmp_path, lambda d: d["users"][0].update(role="admin"))
    result = run_cli(["whoami", "--as", "alice"], _cli_env(clean_env, database_url, path),
                     tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"configuration error: HEXABOT_DIRECTORY_FILE: {path}: users[0].role: unknown key")
