"""``key=value`` arguments, as the CLI and ``/hexabot policy`` take them.

Values are YAML scalars (``replicas=3``, ``previous=true``); ``key.sub=value`` builds a map
(``set.LOG_LEVEL=debug``; values stay strings); JSON for lists (``remove='["A","B"]'``).
``key=@FILE`` reads a file — but only when the caller passes ``read_file``, which only the
CLI does, for the person running it on their own machine.  Arguments from a door (Slack, the
chat API) are data: a ``@`` value from there is refused, never looked up on the bot's disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tools import errors

ReadFile = Callable[[str], str]


def read_local_file(path: str) -> str:
    """The CLI's ``@FILE``: the file on the machine of the person running the command."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise errors.InvalidArguments(f"cannot read {path}: {exc.strerror}") from exc


def parse_pairs(pairs: list[str], read_file: ReadFile | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise errors.InvalidArguments(f"{pair!r}: arguments are key=value")
        if value.startswith("@"):
            if read_file is None:
                raise errors.InvalidArguments(
                    f"{key}: values starting with @ name a file, and files are read only by "
                    "the hexabot CLI on its user's own machine; give the value itself")
            try:
                parsed: Any = read_file(value[1:])
            except errors.InvalidArguments as exc:
                raise errors.InvalidArguments(f"{key}: {exc.message}") from exc
        elif "." in key:
            outer, inner = key.split(".", 1)
            if not isinstance(result.setdefault(outer, {}), dict):
                raise errors.InvalidArguments(f"{key}: {outer} is given twice, as a value and "
                                              "as a map")
            result[outer][inner] = value
            continue
        else:
            try:
                parsed = yaml.safe_load(value) if value else ""
            except yaml.YAMLError:
                parsed = value
        result[key] = parsed
    return result
