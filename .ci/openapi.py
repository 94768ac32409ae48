"""Write the chat API's OpenAPI document to docs/openapi.json (or check it, with --check).

The document comes from the real FastAPI app (app.api.routes), built over services on an
embedded PostgreSQL in a temporary directory; tests/test_api.py compares the served document
with the checked-in one, so run this after changing the API.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from app.api import routes
from app.services import open_services
from app.settings import load_settings

TARGET = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def render(document: dict[str, object]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


async def document() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "directory.yaml"
        directory.write_text("users: []\n")
        settings = load_settings(data_dir=Path(tmp) / "data", directory_file=directory)
        async with open_services(settings) as services:
            return routes.build(services).openapi()


def main(check: bool) -> int:
    text = render(asyncio.run(document()))
    if check:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python .ci/openapi.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
