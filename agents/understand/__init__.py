"""Command mode's understanding layer: a request as people type it → an intent, the tool's
arguments with names resolved against the person's live objects, a confidence, or a question
with the likely choices (:func:`understand`).  Pure functions over an :class:`Inventory`,
fetched once per turn as the person (:func:`inventory`)."""

from __future__ import annotations

from agents.understand.names import Inventory, Obj
from agents.understand.parse import understand
from agents.understand.result import Understanding
from tools.reads import names
from tools.security import SecurityContext
from tools.spec import ToolEnv


async def inventory(env: ToolEnv, ctx: SecurityContext) -> Inventory:
    order = [ctx.namespace, *(n for n in ctx.namespaces if n != ctx.namespace)]
    entries = await names.inventory(env, order)
    objects = [Obj(e["kind"], e["name"], e["namespace"], e.get("replicas"),
                   tuple(e.get("containers") or ()), tuple(e.get("images") or ()),
                   tuple(e.get("keys") or ()), e.get("restarts", 0), e.get("owner", ""),
                   e.get("selector", ""))
               for e in entries]
    return Inventory(ctx.namespace, tuple(order), objects)


__all__ = ["Inventory", "Obj", "Understanding", "inventory", "understand"]
