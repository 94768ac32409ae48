"""Settings: names from ARCHITECTURE.md, one clear line per bad variable, nothing at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.settings import ConfigError, load_settings
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _no_hexabot_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("HEXABOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_need_nothing() -> None:
    settings = load_settings()
    assert settings.database_url is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.llm == "auto"
    assert settings.llm_order() == []


def test_every_architecture_name_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text("users: []\n")
    values = {
        "DATABASE_URL": "postgresql://u:p@db.example:5432/hexabot",
        "CLICKHOUSE_URL": "clickhouse://default@ch.example:9000/audit",
        "SLACK_BOT_TOKEN": "xoxb-1-2",
        "SLACK_APP_TOKEN": "xapp-1-2",
        "SLACK_API_URL": "http://127.0.0.1:9/api",
        "DIRECTORY_FILE": str(directory),
        "OLLAMA_URL": "http://127.0.0.1:11434",
        "OLLAMA_MODEL": "qwen2.5",
        "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_MODEL": "gpt-x",
        "LLM": "openai, ollama",
    }
    for key, value in values.items():
        monkeypatch.setenv(f"HEXABOT_{key}", value)
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == values["DATABASE_URL"]
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.directory_file == directory
    assert settings.ollama_model == "qwen2.5"
    assert settings.openai_model == "gpt-x"
    assert settings.llm_order() == ["openai", "ollama"]
    # secrets never show in a repr
    assert "sk-test" not in repr(settings) and "xoxb-1-2" not in repr(settings)


def test_auto_orders_configured_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXABOT_OPENAI_API_KEY", "sk-x")
    assert load_settings().llm_order() == ["openai"]
    monkeypatch.setenv("HEXABOT_OLLAMA_URL", "http://127.0.0.1:11434")
    assert load_settings().llm_order() == ["ollama", "openai"]
    monkeypatch.setenv("HEXABOT_LLM", "off")
    assert load_settings().llm_order() == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://x@h/db", "PostgreSQL URL"),
        ("DATABASE_URL", "postgresql://u@host", "database name"),
        ("CLICKHOUSE_URL", "http://h:8123", "clickhouse://"),
        ("SLACK_BOT_TOKEN", "xapp-wrong", "'xoxb-'"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "'xapp-'"),
        ("SLACK_API_URL", "slack.com/api", "http:// or https://"),
        ("OLLAMA_URL", "ftp://h", "Ollama"),
        ("LLM", "gemini", "'auto', 'off'"),
        ("DIRECTORY_FILE", "/nonexistent/dir.yaml", "existing directory YAML file"),
        ("PROMETHEUS_URL", "prom:9090", "http:// or https://"),
        ("PROMETHEUS_LATENCY_QUERY", 'up{job="x"}', "only use the placeholders {ns} and {pods}"),
        ("PROMETHEUS_ERROR_QUERY", "sum(errors)", "must use both {ns} and {pods}"),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"HEXABOT_{key}", value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith(f"HEXABOT_{key}: ")
    assert expected in line


def test_several_problems_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEXABOT_DATABASE_URL", "nonsense")
    monkeypatch.setenv("HEXABOT_LLM", "nope")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert sorted(p.split(":")[0] for p in info.value.problems) == [
        "HEXABOT_DATABASE_URL", "HEXABOT_LLM"]


def test_dotenv_file_is_read(tmp_path) -> None:
    (tmp_path / ".env").write_text("HEXABOT_OLLAMA_MODEL=from-dotenv\n")
    assert load_settings().ollama_model == "from-dotenv"


def test_importing_the_packages_reads_no_environment() -> None:
    """A broken environment must not break imports: settings are built in the entrypoint."""
    env = {"HEXABOT_DATABASE_URL": "garbage", "HEXABOT_LLM": "nope", "PATH": "/usr/bin:/bin"}
    code = "import app.cli, app.doctor, app.database, app.migrate, agents, tools, confirmations"
    result = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
