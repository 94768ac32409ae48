"""The guardrail policy in force, re-read when its file changes.

A policy file mounted from a ConfigMap changes in place; every replica notices within
``check_every`` seconds (a ``stat`` of the file, then a reload only if its mtime or size moved)
and judges the next plan or approval with it.  A bad edit never takes effect: the previous
policy stays in force, the problem is logged with the file and path, and :attr:`error` says it
until a good file replaces it.  With no file, the built-in default is used and never re-read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from confirmations.rules import Policy, PolicyError, load

log = logging.getLogger("hexabot.policy")
CHECK_SECONDS = 5.0


class PolicySource:
    def __init__(self, path: Path | None, tools: set[str], check_every: float = CHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.tools, self.check_every, self.clock = path, tools, check_every, clock
        self.policy = load(path, tools)  # a bad file at start is the caller's error
        self.error = ""
        self._stamp = self._stat()
        self._checked = clock()

    @classmethod
    def fixed(cls, policy: Policy) -> PolicySource:
        source = cls.__new__(cls)
        source.path, source.tools, source.check_every = None, set(), CHECK_SECONDS
        source.clock, source.policy, source.error = time.monotonic, policy, ""
        source._stamp, source._checked = None, 0.0
        return source

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def current(self) -> Policy:
        """The policy to judge with now (reloaded first if the file changed)."""
        if self.path is None or self.clock() - self._checked < self.check_every:
            return self.policy
        self._checked = self.clock()
        stamp = self._stat()
        if stamp == self._stamp:
            return self.policy
        self._stamp = stamp
        try:
            self.policy = load(self.path, self.tools)
        except PolicyError as exc:
            self.error = str(exc)
            log.error("the changed policy file is refused; the previous policy stays in "
                      "force: %s", exc)
        else:
            self.error = ""
            log.info("policy reloaded from %s: %d rule(s)", self.path, len(self.policy.rules))
        return self.policy
