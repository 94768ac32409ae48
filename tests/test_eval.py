"""`hexabot eval` (issue 21): the shipped scenarios pass in command mode through the CLI as a
newcomer runs it; a scenario that fails is reported and exits 1, a broken scenario file is one
line naming it; against a model server each scenario's tokens are counted."""

from __future__ import annotations

import json
from pathlib import Path

from app import evals
from app.evals.run import run
from app.settings import load_settings
from tests.conftest import run_cli
from tests.llm_stubs import WireStub, serve


def test_the_shipped_scenarios_pass_in_command_mode(clean_env: dict[str, str],
                                                      tmp_path: Path) -> None:
    done = run_cli(["eval", "--json"], clean_env, tmp_path, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["summary"]["passed"] == report["summary"]["scenarios"] == len(evals.load())
    assert {s["scenario"] for s in report["scenarios"]} >= {"crashloop-root-cause",
                                                            "a-vague-write-is-asked-back"}
    crash = next(s for s in report["scenarios"] if s["scenario"] == "crashloop-root-cause")
    assert crash["tools"][0] == "troubleshoot_issues" and crash["mode"] == "command"


def test_a_failing_and_a_broken_scenario(clean_env: dict[str, str], tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "wrong.yaml").write_text("name: wants-a-restart\nquestion: show me the pods\n"
                                     "expect: {proposals: [restart], mentions: [nonsense]}\n")
    failed = run_cli(["eval", "--scenarios", str(mine)], clean_env, tmp_path, timeout=240)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "did not propose restart" in failed.stdout
    assert "does not mention 'nonsense'" in failed.stdout and "0/1 passed" in failed.stdout
    (mine / "broken.yaml").write_text("name: x\nquestion: pods\nexpect: {tool: [list_pods]}\n")
    broken = run_cli(["eval", "--scenarios", str(mine)], clean_env, tmp_path, timeout=240)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "broken.yaml: expect.tool: Extra inputs are not permitted" in broken.stderr


async def test_tokens_and_time_are_counted_against_a_model_server(
        database_url: str, tmp_path: Path) -> None:
    pods = next(s for s in evals.load() if s.name == "pods-worst-first")
    async with serve(WireStub([("tool", ("list_pods", {})),
                               ("text", "checkout-worker is in CrashLoopBackOff.")])) as stub:
        settings = load_settings(database_url=database_url, data_dir=tmp_path / "data",
                                 openai_api_key="sk-test", openai_base_url=f"{stub.url}/v1",
                                 openai_model="m")
        [outcome] = await run(settings, [pods], "openai")
    assert outcome.passed, outcome.failures
    assert outcome.mode == "llm" and outcome.tools == ["list_pods"]
    assert (outcome.input_tokens, outcome.output_tokens) == (2000, 100)
