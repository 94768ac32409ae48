"""``{{ }}`` templates in workflow parameters: dotted paths into the run's inputs and the
outputs of earlier steps, nothing else (no expressions, no calls — a template is data).

    {{ inputs.name }}                    an input
    {{ steps.find.namespace }}           a field of step ``find``'s output
    {{ steps.diagnose.findings.0.code }} list items by index
    {{ inputs.replicas | default(3) }}   a fallback when the path is missing or null

A parameter that is exactly one template keeps the value's type (a number stays a number);
templates inside longer text are rendered as text.  ``references`` lists what a value refers
to, so the loader can refuse unknown inputs and steps that are not dependencies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
EXPRESSION = re.compile(
    r"^\s*(?P<path>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)"
    r"(?:\s*\|\s*default\((?P<default>[^()]*)\))?\s*$")
ROOTS = ("inputs", "steps")
_MISSING = object()


class TemplateError(ValueError):
    """A template that cannot be parsed, or a path that has no value at run time."""


def _parse(expression: str) -> tuple[list[str], Any]:
    match = EXPRESSION.match(expression)
    if match is None:
        raise TemplateError(f"'{{{{{expression}}}}}' is not a dotted path "
                            "(like inputs.name or steps.find.namespace)")
    path = match["path"].split(".")
    if path[0] not in ROOTS or len(path) < 2:
        raise TemplateError(f"'{{{{{expression}}}}}' must start with inputs.NAME or "
                            "steps.STEP")
    default = _MISSING
    if match["default"] is not None:
        default = yaml.safe_load(match["default"]) if match["default"].strip() else None
    return path, default


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def references(value: Any) -> list[tuple[str, str]]:
    """[(root, name)] — ("inputs", "name") or ("steps", "find") — every template refers to.
    Raises TemplateError for a malformed template (also an unclosed ``{{``)."""
    found = []
    for text in _strings(value):
        if text.count("{{") != text.count("}}"):
            raise TemplateError(f"unbalanced braces in {text!r}")
        for match in TAG.finditer(text):
            path, _ = _parse(match[1])
            found.append((path[0], path[1]))
    return found


def _lookup(scope: Mapping[str, Any], path: list[str]) -> Any:
    current: Any = scope
    for part in path:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _value(expression: str, scope: Mapping[str, Any]) -> Any:
    path, default = _parse(expression)
    found = _lookup(scope, path)
    if found is _MISSING or found is None:
        if default is not _MISSING:
            return default
        if found is None:
            return None
        raise TemplateError(f"'{{{{{expression.strip()}}}}}' has no value "
                            f"({'.'.join(path[:2])} has no field {'.'.join(path[2:])!r})"
                            if path[0] == "steps" else
                            f"'{{{{{expression.strip()}}}}}' has no value")
    return found


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every template replaced from ``scope`` ({"inputs": …, "steps": …})."""
    if isinstance(value, Mapping):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = TAG.fullmatch(value.strip())
    if whole is not None and "{{" not in whole[1]:
        return _value(whole[1], scope)

    def text(match: re.Match[str]) -> str:
        found = _value(match[1], scope)
        return found if isinstance(found, str) else json.dumps(found, default=str)

    return TAG.sub(text, value)
