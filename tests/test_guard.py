"""Guardrail evaluation is pure: every constraint type, without servers (freezegun for time)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time as _freeze_time

from confirmations import guard, rules
from confirmations.guard import Activity, ChangeInFlight, PastWrite
from confirmations.rules import Approvals, PolicyError
from tools import registry
from tools.security import KubeconfigCredentials, SecurityContext
from tools.spec import ActionPlan, Effect, Risk, Target

WRITES = {s.name for s in registry.TOOLS if s.effect is Effect.WRITE}
# freezegun scans every loaded module; kubernetes.client's lazy attributes must not be touched
freeze_time = functools.partial(_freeze_time, ignore=["kubernetes"])
NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)  # a Wednesday


def policy(document: dict[str, Any]) -> rules.Policy:
    return rules.parse(document, "test.yaml", WRITES)


def ctx(namespace: str = "shop", two_person: tuple[str, ...] = ()) -> SecurityContext:
    return SecurityContext("U0ALICE", "hxb-alice", "alice", ("dev",), "shop",
                           ("shop", "prod-web", "prod-db"), namespace, two_person, False,
                           KubeconfigCredentials({}, "alice", "test"))


def plan(tool: str = "scale_deployment", namespace: str = "prod-web", name: str = "web",
         labels: dict[str, str] | None = None, **fact: Any) -> ActionPlan:
    obj = {"kind": "Deployment", "namespace": namespace, "name": name,
           "labels": labels or {}, **fact}
    return ActionPlan(tool=tool, args={"name": name}, workspace="shop", namespace=namespace,
                      requester="U0ALICE", summary="s", diff="d", risk=Risk.LOW, payload={},
                      targets=(Target("Deployment", namespace, name),),
                      facts={"objects": [obj]})


def judge(p: rules.Policy, the_plan: ActionPlan, activity: Activity = Activity(),
          now: datetime = NOW, context: SecurityContext | None = None,
          args: dict[str, Any] | None = None) -> guard.Ruling:
    return guard.evaluate(p, the_plan.tool, args or the_plan.args, the_plan, context or ctx(),
                          activity, now)


CAPS = policy({"rules": [{"name": "prod-caps", "tools": ["scale_deployment", "apply_yaml"],
                          "scope": {"namespaces": ["prod-*"]},
                          "caps": {"max_replicas": 20, "max_scale_step": 5,
                                   "max_resource_change_pct": 50}}]})


def test_no_rules_allow_self_approval_and_two_person_namespaces_escalate() -> None:
    empty = policy({})
    assert judge(empty, plan(replicas=[2, 3])).outcome == "allow"
    ruling = judge(empty, plan(), context=ctx(two_person=("prod-web",)))
    assert ruling.outcome == "require" and ruling.approvals is Approvals.ONE_TEAMMATE
    assert ruling.rule == "two-person namespace"


def test_caps_on_replicas_scale_step_and_resource_change() -> None:
    over = judge(CAPS, plan(replicas=[10, 25]))
    assert over.outcome == "deny" and over.rule == "prod-caps"
    assert "above the cap of 20" in over.reason and "at most 20" in over.reason
    step = judge(CAPS, plan(replicas=[3, 10]))
    assert step.outcome == "deny" and "from 3, 0 to 8 would be allowed" in step.reason
    assert judge(CAPS, plan(replicas=[3, 8])).outcome == "allow"
    assert judge(CAPS, plan(resource_change_pct=75.0)).outcome == "deny"
    assert judge(CAPS, plan(resource_change_pct=40.0)).outcome == "allow"
    assert judge(CAPS, plan(namespace="shop", replicas=[3, 90])).outcome == "allow"  # scope


def test_protected_resources_by_label_and_name() -> None:
    p = policy({"protected": [{"name": "dbs", "labels": {"hexabot.io/protected": "true"}},
                              {"name": "payments", "names": ["payments-*"],
                               "namespaces": ["prod-*"]}]})
    restart = plan("restart", labels={"hexabot.io/protected": "true"})
    ruling = judge(p, restart)
    assert ruling.outcome == "deny" and ruling.rule == "dbs" and "never restarted" in ruling.reason
    assert judge(p, plan("delete_resource", name="payments-api")).rule == "payments"
    assert judge(p, plan(name="payments-api", replicas=[3, 0])).outcome == "deny"
    assert judge(p, plan(name="payments-api", replicas=[3, 4])).outcome == "allow"
    assert judge(p, plan("restart", name="checkout")).outcome == "allow"


def test_change_windows_refuse_or_escalate_outside_them() -> None:
    doc = {"timezone": "Europe/Berlin", "rules": [{
        "name": "office-hours", "tools": ["*"], "scope": {"namespaces": ["prod-*"]},
        "windows": [{"cron": "* 9-16 * * mon-fri"}]}]}
    strict = policy(doc)
    with freeze_time("2026-12-02 10:30:00"):   # 11:30 in Berlin, Wednesday
        assert judge(strict, plan(), now=datetime.now(UTC)).outcome == "allow"
    with freeze_time("2026-12-02 17:30:00"):   # 18:30 in Berlin
        ruling = judge(strict, plan(), now=datetime.now(UTC))
    assert ruling.outcome == "deny" and ruling.rule == "office-hours"
    assert "next window opens 2026-12-03 09:00 CET" in ruling.reason
    doc["rules"][0]["outside_windows"] = "two_people"
    lenient = policy(doc)
    with freeze_time("2026-12-05 12:00:00"):   # Saturday
        escalated = judge(lenient, plan(), now=datetime.now(UTC))
    assert escalated.outcome == "require" and escalated.approvals is Approvals.TWO_PEOPLE


def test_freezes_by_date_range_with_time_zone() -> None:
    p = policy({"rules": [{"name": "year-end", "tools": ["*"], "freezes": [
        {"start": "2026-12-20 00:00", "end": "2027-01-04 00:00", "timezone": "Asia/Tokyo",
         "reason": "year-end freeze"}]}]})
    with freeze_time("2026-12-19 14:59:00"):   # 23:59 in Tokyo: not yet
        assert judge(p, plan(), now=datetime.now(UTC)).outcome == "allow"
    with freeze_time("2026-12-19 15:00:00"):   # midnight in Tokyo
        ruling = judge(p, plan(), now=datetime.now(UTC))
    assert ruling.outcome == "require" and ruling.approvals is Approvals.TWO_PEOPLE
    assert ruling.rule == "year-end"
    deny = policy({"rules": [{"name": "hard", "tools": ["*"], "freezes": [
        {"start": "2026-12-20T00:00:00+00:00", "end": "2027-01-04T00:00:00+00:00",
         "then": "deny"}]}]})
    with freeze_time("2026-12-24 12:00:00"):
        refused = judge(deny, plan(), now=datetime.now(UTC))
    assert refused.outcome == "deny" and "it ends 2027-01-04 00:00 UTC" in refused.reason


def test_rate_limit_counts_the_users_writes_in_scope() -> None:
    p = policy({"rules": [{"name": "ten-an-hour", "tools": ["*"], "rate": "10/hour",
                           "scope": {"namespaces": ["prod-*"]}}]})
    writes = tuple(PastWrite(NOW - timedelta(minutes=50 - i), "restart", "shop", "prod-web")
                   for i in range(10))
    ruling = judge(p, plan(), Activity(writes=writes))
    assert ruling.outcome == "deny" and ruling.rule == "ten-an-hour"
    assert "10 writes in the last hour" in ruling.reason and "10:40 UTC" in ruling.reason
    assert judge(p, plan(), Activity(writes=writes[1:])).outcome == "allow"
    old = tuple(PastWrite(NOW - timedelta(minutes=61), "restart", "shop", "prod-web")
                for _ in range(10))
    assert judge(p, plan(), Activity(writes=old)).outcome == "allow"
    elsewhere = tuple(PastWrite(NOW, "restart", "shop", "shop") for _ in range(10))
    assert judge(p, plan(), Activity(writes=elsewhere)).outcome == "allow"


def test_rate_limit_counts_only_writes_whose_labels_and_kinds_are_in_scope() -> None:
    """A rule for `app: ledger` Deployments counts ledger's scales, not every scale."""
    p = policy({"rules": [{"name": "ledger-rate", "tools": ["*"], "rate": "3/hour",
                           "scope": {"labels": {"app": "ledger"}, "kinds": ["Deployment"]}}]})
    ledger = (("Deployment", (("app", "ledger"), ("tier", "db"))),)
    other = (("Deployment", (("app", "web"),)),)
    cm = (("ConfigMap", (("app", "ledger"),)),)

    def scales(touched: Any, n: int = 3) -> tuple[PastWrite, ...]:
        return tuple(PastWrite(NOW - timedelta(minutes=5 * (i + 1)), "scale_deployment",
                               "shop", "prod-web", touched) for i in range(n))

    target = plan(labels={"app": "ledger"})
    assert judge(p, target, Activity(writes=scales(other) + scales(cm))).outcome == "allow"
    denied = judge(p, target, Activity(writes=scales(ledger)))
    assert denied.outcome == "deny" and "3 writes in the last hour" in denied.reason
    assert PastWrite.touched({"objects": [{"kind": "Deployment", "labels": {
        "tier": "db", "app": "ledger"}}]}) == ledger


def test_concurrency_per_object_and_per_user() -> None:
    p = policy({"rules": [{"name": "one-at-a-time", "tools": ["*"],
                           "concurrency": {"per_object": 1, "per_user": 2}}]})
    other = ChangeInFlight("a1", "U0CAROL", "scale_deployment", ("Deployment/prod-web/web",))
    ruling = judge(p, plan(), Activity(in_flight=(other,)))
    assert ruling.outcome == "deny" and "a1" in ruling.reason
    mine = tuple(ChangeInFlight(f"m{i}", "U0ALICE", "restart", (f"Deployment/shop/x{i}",))
                 for i in range(2))
    assert "you have 2 change(s) in flight" in judge(p, plan(), Activity(in_flight=mine)).reason
    assert judge(p, plan(), Activity(in_flight=mine[:1])).outcome == "allow"


def test_required_fields_on_apply_yaml() -> None:
    p = policy({"rules": [{"name": "complete-manifests", "tools": ["apply_yaml"],
                           "require_fields": ["resources", "probes"]}]})
    lacking = plan("apply_yaml", lacking={"probes": ["Deployment/web: app"]})
    ruling = judge(p, lacking)
    assert ruling.outcome == "deny" and "requires probes" in ruling.reason
    assert "Deployment/web: app" in ruling.reason
    assert judge(p, plan("apply_yaml", lacking={})).outcome == "allow"


def test_exec_allowlist_default_and_policy_wide_open() -> None:
    def exec_plan() -> ActionPlan:
        return plan("exec_command")

    builtin = policy({})
    ok = judge(builtin, exec_plan(), args={"command": ["df", "-h"]})
    assert ok.outcome == "allow"
    no = judge(builtin, exec_plan(), args={"command": ["rm", "-rf", "/"]})
    assert no.outcome == "deny" and "'rm -rf /' is not an allowed command" in no.reason
    open_lab = policy({"rules": [{"name": "lab", "tools": ["exec_command"],
                                  "scope": {"namespaces": ["prod-web"]}, "commands": ["*"]}]})
    assert judge(open_lab, exec_plan(), args={"command": ["rm", "x"]}).outcome == "allow"
    listed = policy({"rules": [{"name": "dns", "tools": ["exec_command"],
                                "commands": ["cat /etc/resolv.conf"]}]})
    assert judge(listed, exec_plan(), args={"command": ["env"]}).rule == "dns"


def test_disallowed_tools_risk_and_strictest_approvals_win() -> None:
    p = policy({"rules": [
        {"name": "no-deletes", "tools": ["delete_resource"], "scope": {"namespaces": ["prod-db"]},
         "allow": False, "reason": "databases are deleted by the DBA team"},
        {"name": "teammate", "tools": ["*"], "approvals": "one_teammate", "risk": "high"},
        {"name": "web-two", "tools": ["*"], "scope": {"labels": {"tier": "web"}},
         "approvals": "two_people"}]})
    denied = judge(p, plan("delete_resource", namespace="prod-db"))
    assert denied.outcome == "deny" and "DBA team" in denied.reason
    ruling = judge(p, plan(labels={"tier": "web"}))
    assert ruling.approvals is Approvals.TWO_PEOPLE and ruling.rule == "web-two"
    assert ruling.risk is Risk.HIGH and ruling.rules == ("teammate", "web-two")
    assert judge(p, plan()).approvals is Approvals.ONE_TEAMMATE


def test_built_in_default_policy_loads_and_guards() -> None:
    default = rules.load(None, WRITES)
    delete = judge(default, plan("delete_resource", namespace="shop"))
    assert delete.outcome == "require" and delete.approvals is Approvals.ONE_TEAMMATE
    assert judge(default, plan("restart", labels={"hexabot.io/protected": "true"})
                 ).outcome == "deny"


@pytest.mark.parametrize(("document", "message"), [
    ({"rules": [{"name": "r", "tools": ["*"], "capz": {}}]},
     "test.yaml: rules.0.capz: unknown key"),
    ({"rules": [{"name": "r", "tools": ["*"], "windows": [{"cron": "* 25 * * *"}]}]},
     "rules.0.windows.0.cron: '* 25 * * *' is not a cron expression"),
    ({"rules": [{"name": "r", "tools": ["*"], "freezes": [
        {"start": "2026-12-20 00:00", "end": "2026-12-01 00:00"}]}]},
     "rules.0.freezes.0: impossible range"),
    ({"rules": [{"name": "r", "tools": ["*"], "windows": [{"cron": "* * * * *",
                                                           "timezone": "Mars/Base"}]}]},
     "unknown time zone 'Mars/Base'"),
    ({"rules": [{"name": "r", "tools": ["scale_everything"]}]},
     "rules.0.tools: unknown write tools scale_everything"),
    ({"rules": [{"name": "r", "tools": ["*"], "rate": "ten per hour"}]},
     "rules.0.rate: rate 'ten per hour'"),
    ({"rules": [{"name": "r", "tools": ["*"], "approvals": "everyone"}]},
     "rules.0.approvals: approvals must be one of"),
    ({"rules": [{"name": "r", "tools": ["*"], "caps": {"max_replicas": -1}}]},
     "rules.0.caps.max_replicas"),
    ({"rules": [{"name": "r", "tools": ["*"]}, {"name": "r", "tools": ["*"]}]},
     "rule names must be unique; repeated: r"),
    ({"protected": [{"name": "all"}]}, "protected.0: a protected entry needs names or labels"),
    ({"rules": [{"name": "r", "tools": ["*"], "commands": ["cat 'unclosed"]}]},
     "rules.0.commands: command \"cat 'unclosed\" cannot be parsed"),
])
def test_policy_file_errors_name_file_and_path(document: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy(document)
    assert message in str(caught.value)


def test_policy_file_that_is_not_yaml_or_missing(tmp_path: Any) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("rules: [unclosed\n")
    with pytest.raises(PolicyError, match=f"{bad}: not valid YAML"):
        rules.load(bad, WRITES)
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        rules.load(tmp_path / "absent.yaml", WRITES)


@pytest.mark.parametrize("expr", ["* 9-17 * * mon-fri", "*/15 * 1,15 * *", "0 0 * * 0",
                                  "* * * * 7", "* 8 1 * mon", "30 22 * 12 fri", "* * L * *"])
def test_cron_windows_match_like_croniter(expr: str) -> None:
    from croniter import croniter

    start = datetime(2026, 11, 28, 0, 0)
    for step in range(0, 60 * 24 * 9, 7):  # nine days, every seventh minute
        at = start + timedelta(minutes=step)
        assert rules.cron_match(expr, at) == croniter.match(expr, at), (expr, at)


def test_a_changed_policy_file_is_reloaded_and_a_bad_edit_refused(tmp_path: Any) -> None:
    from confirmations.source import PolicySource

    path = tmp_path / "policy.yaml"
    path.write_text("rules: [{name: caps, tools: ['*'], caps: {max_replicas: 5}}]\n")
    now = [0.0]
    source = PolicySource(path, WRITES, check_every=5.0, clock=lambda: now[0])
    assert judge(source.current(), plan(replicas=[3, 8])).outcome == "deny"
    path.write_text("rules: [{name: caps, tools: ['*'], caps: {max_replicas: 10}}]\n")
    assert judge(source.current(), plan(replicas=[3, 8])).outcome == "deny"  # not yet looked
    now[0] = 6.0
    assert judge(source.current(), plan(replicas=[3, 8])).outcome == "allow"
    path.write_text("rules: [{name: caps, tools: ['*'], capz: {}}]\n")
    now[0] = 12.0
    kept = source.current()
    assert kept.rules[0].caps.max_replicas == 10  # the bad edit never takes effect
    assert f"{path}: rules.0.capz: unknown key" in source.error
    path.write_text("rules: []\n")
    now[0] = 18.0
    assert source.current().rules == [] and source.error == ""
