"""The registry's guarantees: deny by default, no identity in arguments, no write without a plan."""

from __future__ import annotations

import inspect

import pytest

from tools import errors, registry
from tools.args import FORBIDDEN_FIELDS
from tools.spec import ActionPlan, Effect, ToolSpec


def test_every_write_tool_can_only_plan() -> None:
    writes = [s for s in registry.TOOLS if s.effect is Effect.WRITE]
    assert {s.name for s in writes} == {"scale_deployment", "restart", "rollback_deployment",
                                        "update_configmap",
                                        "create_cronjob", "create_backup_job",
                                        "create_backup_cronjob", "apply_yaml",
                                        "delete_resource", "exec_command"}
    for spec in writes:
        assert spec.run is None and spec.plan is not None and spec.execute is not None
        first = list(inspect.signature(spec.execute).parameters.values())[1]
        assert first.annotation in (ActionPlan, "ActionPlan"), spec.name  # a stored plan only


def test_a_spec_with_a_write_run_is_refused_at_declaration() -> None:
    async def sneaky(env, args):  # type: ignore[no-untyped-def]
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="must have plan\\(\\) and execute\\(\\), no run\\(\\)"):
        ToolSpec("sneaky", "x", Effect.WRITE, registry.TOOLS[0].args, registry.TOOLS[0].needs,
                 run=sneaky)


async def test_running_a_write_tool_is_refused() -> None:
    for spec in registry.TOOLS:
        if spec.effect is Effect.WRITE:
            with pytest.raises(errors.PlanRefused, match="can only be planned"):
                await registry.run(spec, None, {})  # type: ignore[arg-type]


def test_arguments_carry_no_identity_and_refuse_extras() -> None:
    for spec in registry.TOOLS:
        fields = set(spec.args.model_fields)
        assert not fields & FORBIDDEN_FIELDS, (spec.name, fields & FORBIDDEN_FIELDS)
        assert spec.args.model_config.get("extra") == "forbid", spec.name
    with pytest.raises(errors.InvalidArguments) as info:
        registry.parse_args(registry.get("list_pods"), {"user": "carol"})
    assert info.value.message == "list_pods: user: unknown argument"
    with pytest.raises(errors.InvalidArguments, match="name: String should match pattern"):
        registry.parse_args(registry.get("scale_deployment"),
                            {"name": "Web_App; rm -rf /", "replicas": 2})
    with pytest.raises(errors.InvalidArguments, match="replicas: Input should be less"):
        registry.parse_args(registry.get("scale_deployment"), {"name": "web", "replicas": 5000})


def test_descriptions_are_short_unique_prompt_copy() -> None:
    descriptions = [s.description for s in registry.TOOLS]
    assert len(set(descriptions)) == len(descriptions)
    for spec in registry.TOOLS:
        assert 20 <= len(spec.description) <= 120, spec.name
        assert spec.needs, spec.name
        assert ("needs approval" in spec.description) == (spec.effect is Effect.WRITE)
