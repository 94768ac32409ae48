"""Property-based fuzzing of the chat API with schemathesis strategies (Hypothesis), against
the spec it serves: every operation, valid and invalid input, as alice, as bob and with no
token, never answers 5xx, and every error has the one error shape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from app.run import api_alone
from app.services import open_services
from app.settings import load_settings
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.test_api import KEY, auth


@pytest.fixture
def served_api(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API on its own event loop in a thread (the fuzzer's client blocks)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    public = tmp_path / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    config = load_settings(database_url=database_url, directory_file=directory,
                           api_token_public_key_file=public, api_host="127.0.0.1",
                           api_port=0, api_rate_per_minute=10_000)
    state: dict[str, Any] = {}
    ready = threading.Event()

    async def main() -> None:
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        async with open_services(config) as services, api_alone(services) as url:
            state["url"] = url
            ready.set()
            await state["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(60), "the API did not start"
    yield state["url"]
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(30)


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_input_makes_a_server_error(served_api: str, mode: str) -> None:
    """Each operation, each kind of input (valid per the schema, and not), three callers."""
    spec = schemathesis.openapi.from_url(f"{served_api}/api/v1/openapi.json")
    operations = [result.ok() for result in spec.get_all_operations()]
    assert len(operations) >= 8
    fuzzed = 0
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

        @given(case=strategy)
        @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            for headers in (auth(), auth("bob"), {}):
                response = case.call(base_url=served_api, headers=headers)
                assert response.status_code < 500, (case.method, case.path,
                                                    response.text[:300])
                if response.status_code >= 400:
                    assert set(response.json()) == {"error"}, response.text[:300]

        try:
            check()
        except Unsatisfiable:  # no input of this mode exists (e.g. only free-form strings)
            assert mode == "negative", operation.path
            continue
        fuzzed += 1
    assert fuzzed >= (len(operations) if mode == "positive" else 4)
