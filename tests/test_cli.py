"""The `hexabot` entrypoint as a user runs it: help, version, configuration errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, run_cli

# Loaded only by the commands that use them: importing any of these at start-up costs every
# call (``version``, ``--help``, ``whoami``) up to a second.
HEAVY = ("langchain_core.language_models", "langchain_openai", "langchain_ollama", "openai",
         "ollama", "fastapi", "uvicorn", "alembic", "clickhouse_driver", "opentelemetry.sdk",
         "slack_bolt", "aiohttp", "matplotlib", "kubernetes", "app.services", "app.demo")


def test_help_lists_every_command_with_one_line(clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["--help"], clean_env, tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("version", "migrate", "doctor", "demo"):
        lines = [line for line in result.stdout.splitlines() if f" {command} " in line]
        assert len(lines) == 1, (command, result.stdout)
        assert len(lines[0].split(command, 1)[1].strip()) > 10  # a real description


def test_the_cli_starts_without_its_heavy_dependencies(tmp_path: Path) -> None:
    probe = ("import sys, app.cli; print(' '.join(sorted(m for m in sys.modules if any("
             f"m == h or m.startswith(h + '.') for h in {HEAVY!r}))))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, text=True,
                            capture_output=True, env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert {m.split(".")[0] for m in loaded.stdout.split()} == set(), loaded.stdout


def test_version(clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["version"], clean_env, tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("hexabot 0.")


def test_bad_database_url_is_one_line_and_exit_2(clean_env: dict[str, str], tmp_path: Path) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": "mysql://root@localhost/hexabot"}
    result = run_cli(["migrate"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: HEXABOT_DATABASE_URL: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_database_is_one_line_and_exit_2(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": "postgresql://hexabot:s3cret@127.0.0.1:1/hexabot"}
    result = run_cli(["migrate"], env, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot connect to postgresql+asyncpg://hexabot:***@127.0.0.1:1/hexabot" in lines[0]
    assert "s3cret" not in result.stderr


def test_each_bad_variable_gets_its_own_line(clean_env: dict[str, str], tmp_path: Path) -> None:
    env = {**clean_env, "HEXABOT_SLACK_BOT_TOKEN": "nope", "HEXABOT_LLM": "magic"}
    result = run_cli(["migrate"], env, tmp_path)  # (doctor reports them as FAIL rows instead)
    assert result.returncode == 2
    lines = sorted(result.stderr.strip().splitlines())
    assert len(lines) == 2
    assert lines[0].startswith("configuration error: HEXABOT_LLM: ")
    assert lines[1].startswith("configuration error: HEXABOT_SLACK_BOT_TOKEN: ")
