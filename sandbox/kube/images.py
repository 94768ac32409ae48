"""Images that crash or cannot be pulled: what the kubelet would meet when it starts a container.

A real cluster learns that an image is bad only by running it: the kubelet pulls the image (a
missing tag or a registry refusing credentials ends in ``ErrImagePull``, then
``ImagePullBackOff``), starts the container, and restarts it with an exponential back-off when
it exits (``CrashLoopBackOff``).  The sandbox has no images, so a fixture (``kind: Image``, see
``fixture.py``) or a test at run time (:meth:`Images.set`) declares how a reference behaves;
every other image starts and stays ready.  The kubelet side lives in ``kubelet.py``.

References are compared as container runtimes resolve them: ``nginx``,
``nginx:latest``, ``docker.io/library/nginx:latest`` and ``index.docker.io/library/nginx``
name the same image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

DOCKER_HUB_PREFIXES = ("index.docker.io/library/", "docker.io/library/", "index.docker.io/",
                       "docker.io/")


@dataclass(frozen=True)
class Crash:
    """The container exits each time it starts (``lastState.terminated`` shows these)."""

    exit_code: int = 1
    reason: str = "Error"
    message: str = ""


@dataclass(frozen=True)
class PullFailure:
    """The image cannot be pulled (the reference does not exist or is not allowed)."""


Behaviour = Crash | PullFailure


def normalise(ref: str) -> str:
    """``ref`` as a runtime resolves it: Docker Hub prefixes dropped, ``:latest`` implied."""
    ref = ref.strip()
    for prefix in DOCKER_HUB_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    name = ref.split("@", 1)[0]
    if "@" not in ref and ":" not in name.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


class Images:
    """Declared image behaviours, by reference (what the sandbox's kubelet consults)."""

    def __init__(self) -> None:
        self._behaviours: dict[str, Behaviour] = {}

    def set(self, ref: str, behaviour: Behaviour | None) -> None:
        """Declare how ``ref`` behaves from the next container start on; ``None`` makes it a
        good image again.  Running containers are not affected (nor are they on a cluster:
        an image is pulled and run when a container starts).  A blank reference, or one with
        spaces, raises ValueError."""
        if not ref.strip() or any(c.isspace() for c in ref.strip()):
            raise ValueError(f"not an image reference: {ref!r}")
        if behaviour is None:
            self._behaviours.pop(normalise(ref), None)
        else:
            self._behaviours[normalise(ref)] = behaviour

    def get(self, ref: str) -> Behaviour | None:
        return self._behaviours.get(normalise(ref))

    def update(self, behaviours: dict[str, Behaviour]) -> None:
        for ref, behaviour in behaviours.items():
            self.set(ref, behaviour)


CRASH_KEYS = {"exitCode", "reason", "message"}


def parse_image(doc: dict[str, Any], fail: Callable[[str], NoReturn]) -> tuple[str, Behaviour]:
    """A fixture's ``sandbox.hexabot.io/v1 Image`` document as (reference, behaviour)."""
    ref = doc["metadata"]["name"]
    if not ref.strip() or any(c.isspace() for c in ref.strip()):
        fail(f"Image {ref!r}: metadata.name must be an image reference")
    if set(doc["metadata"]) - {"name"}:
        fail(f"Image {ref!r}: images are cluster-wide, metadata takes only 'name'")
    unknown = set(doc) - {"apiVersion", "kind", "metadata", "crash", "pull"}
    if unknown:
        fail(f"Image {ref!r}: unknown keys {sorted(unknown)}")
    if ("crash" in doc) == ("pull" in doc):
        fail(f"Image {ref!r} needs exactly one of 'crash: {{exitCode, reason, message}}' "
             "or 'pull: fail'")
    if "pull" in doc:
        if doc["pull"] != "fail":
            fail(f"Image {ref!r}: 'pull' takes only the value 'fail'")
        return ref, PullFailure()
    crash = doc["crash"] if doc["crash"] is not None else {}
    if not isinstance(crash, dict):
        fail(f"Image {ref!r}: 'crash' must be a mapping of exitCode, reason, message")
    if set(crash) - CRASH_KEYS:
        fail(f"Image {ref!r}: crash takes only {sorted(CRASH_KEYS)}, "
             f"not {sorted(set(crash) - CRASH_KEYS)}")
    code = crash.get("exitCode", 1)
    if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 255:
        fail(f"Image {ref!r}: crash.exitCode must be an integer from 0 to 255")
    reason, message = crash.get("reason", "Error"), crash.get("message", "")
    if not isinstance(reason, str) or not reason:
        fail(f"Image {ref!r}: crash.reason must be a non-empty string")
    if not isinstance(message, str):
        fail(f"Image {ref!r}: crash.message must be a string")
    return ref, Crash(exit_code=code, reason=reason, message=message)
