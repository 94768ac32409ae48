"""The Helm chart, rendered by a real helm (v4, fetched by `make test` into .venv/bin): lint
and template with the default and the HA values, every object validated against the
Kubernetes schemas (kubernetes-validate), RBAC limited to impersonation of named people and
access reviews, and the rendered directory and workflows accepted by Hexabot itself."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from agents.orchestrator.specialists import default_agents
from agents.orchestrator.workflow import load_all
from app.identity import static
from confirmations import rules
from confirmations.flow import WRITE_TOOLS
from tests.conftest import REPO

CHART = REPO / "helm"
HELM = REPO / ".venv" / "bin" / "helm"
KUBERNETES = "1.33.0"
VALUES = {"default": [], "ha": ["-f", str(CHART / "values-ha.yaml")]}
CRDS = ("monitoring.coreos.com/",)  # not in the Kubernetes schemas; checked by hand below
SECRET_ENV = {"HEXABOT_SLACK_BOT_TOKEN", "HEXABOT_SLACK_APP_TOKEN", "HEXABOT_DATABASE_URL",
              "HEXABOT_CLICKHOUSE_URL", "HEXABOT_OPENAI_API_KEY", "HEXABOT_ENCRYPTION_KEY",
              "HEXABOT_HEXABASE_CLIENT_SECRET"}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        raise RuntimeError(f"{HELM} is missing: `make test` fetches it (.ci/fetch_helm.py)")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=60)


def render(values: str) -> list[dict[str, Any]]:
    result = helm("template", "hexabot", str(CHART), "--namespace", "ops", *VALUES[values])
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("values", sorted(VALUES))
def test_lint_and_schemas(values: str) -> None:
    linted = helm("lint", str(CHART), *VALUES[values])
    assert linted.returncode == 0 and "0 chart(s) failed" in linted.stdout, linted.stdout
    docs = render(values)
    assert {d["kind"] for d in docs} >= {"Deployment", "ServiceAccount", "ClusterRole",
                                         "ClusterRoleBinding", "Service",
                                         "PodDisruptionBudget", "NetworkPolicy"}
    for doc in docs:
        if doc["apiVersion"].startswith(CRDS):
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("values", sorted(VALUES))
def test_rbac_grants_only_impersonation_and_access_reviews(values: str) -> None:
    docs = render(values)
    allowed = {("", "users", "impersonate"), ("", "groups", "impersonate"),
               ("authorization.k8s.io", "subjectaccessreviews", "create")}
    assert not of_kind(docs, "Role") and not of_kind(docs, "RoleBinding")
    for role in of_kind(docs, "ClusterRole"):
        for rule in role["rules"]:
            granted = {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"]
                       for v in rule["verbs"]}
            assert granted <= allowed, granted - allowed
            if "impersonate" in rule["verbs"]:
                assert rule.get("resourceNames"), "impersonation must name whom"
    for binding in of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "hexabot",
                                        "namespace": "ops"}]
        assert binding["roleRef"]["name"] == "hexabot"
    text = yaml.safe_dump_all([d for d in docs if d["kind"] in (
        "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")])  # "*" elsewhere: policy
    for word in ("system:masters", "escalate", "bind", "'*'"):
        assert word not in text


def test_the_deployment_is_operable() -> None:
    for values, replicas in (("default", 2), ("ha", 3)):
        [deployment] = of_kind(render(values), "Deployment")
        spec = deployment["spec"]["template"]["spec"]
        [container] = spec["containers"]
        assert deployment["spec"]["replicas"] == replicas
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["terminationGracePeriodSeconds"] == 40  # 25 s of shutdown + 15
        env = {e["name"]: e for e in container["env"]}
        for name in SECRET_ENV & set(env):
            assert "value" not in env[name] and env[name]["valueFrom"]["secretKeyRef"]
        assert {"HEXABOT_SLACK_BOT_TOKEN", "HEXABOT_DATABASE_URL"} <= set(env)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        if values == "ha":  # the chat API: its port, and the platform key from a Secret
            assert ports == {"http": 8080, "api": 8081}
            assert env["HEXABOT_API_TOKEN_PUBLIC_KEY_FILE"]["value"] == \
                "/etc/hexabot/api/public.pem"
            assert {"name": "api-key", "mountPath": "/etc/hexabot/api", "readOnly": True} in \
                container["volumeMounts"]
        else:
            assert ports == {"http": 8080} and "HEXABOT_API_PORT" not in env


def test_rendered_configuration_is_what_hexabot_accepts(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    [config] = of_kind(render("ha"), "ConfigMap")
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("token")
    monkeypatch.setattr(static, "SERVICE_ACCOUNT", account)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    directory = tmp_path / "directory.yaml"
    directory.write_text(config["data"]["directory.yaml"])
    loaded = static.load(directory)
    assert [u.name for u in loaded.users] == ["alice"]
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    for key, text in config["data"].items():
        if key.startswith("workflow-"):
            (workflows / key.removeprefix("workflow-")).write_text(text)
    assert "nightly_review" in load_all(default_agents(), workflows)
    policy = tmp_path / "policy.yaml"
    policy.write_text(config["data"]["policy.yaml"])
    guardrails = rules.load(policy, WRITE_TOOLS)
    assert [r.name for r in guardrails.rules] == ["deletes-need-a-teammate", "shop-caps",
                                                  "year-end-freeze"]
    [deployment] = of_kind(render("ha"), "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HEXABOT_POLICY_FILE"]["value"] == "/etc/hexabot/policy/policy.yaml"
    [monitor] = of_kind(render("ha"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics",
                                             "interval": "30s"}]


def test_every_top_level_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith((" ", "#")) and ":" in line:
            above = lines[index - 1] if index else ""
            nested = lines[index + 1].strip() if index + 1 < len(lines) else ""
            assert above.startswith("#") or nested.startswith("# --"), \
                f"values.yaml: {line.split(':')[0]} has no comment"
