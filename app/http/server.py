"""One uvicorn server for the process's one ASGI app, on one or more listening sockets.

The sockets are bound here, before uvicorn starts, so a taken port fails the start with its
``OSError`` and port 0 resolves to a known free port at once.  uvicorn installs no signal
handlers of its own: the process's SIGTERM/SIGINT handling ends the ``with`` block, and leaving
it is uvicorn's own graceful shutdown (``should_exit``): the sockets close, open connections are
asked to finish, and requests still running get ``CLOSE_SECONDS`` before they are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from app.settings import ConfigError

CLOSE_SECONDS = 5


class Server(uvicorn.Server):
    """uvicorn without signal handling of its own, saying when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (port 0: a free one); a port that
    cannot be had is a :class:`~app.settings.ConfigError` naming it (exit 2, one line)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise ConfigError([f"HEXABOT_HTTP_PORT / HEXABOT_API_PORT: cannot listen on "
                           f"{host}:{port} ({exc.strerror or exc}); another process holds it "
                           "or the address is not this machine's — choose another port"]
                          ) from exc
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, *binds: tuple[str, int],
                  bound: Callable[[list[str]], None] | None = None
                  ) -> AsyncIterator[list[str]]:
    """Serve ``app`` on every ``(host, port)`` of ``binds`` with one uvicorn server for the
    ``with`` block; yields each socket's base URL, in the order given.  ``bound`` is told the
    URLs once the sockets are bound, before the first request can arrive."""
    sockets: list[socket.socket] = []
    try:
        for host, port in binds:
            sockets.append(listen(host, port))
    except ConfigError:
        for sock in sockets:
            sock.close()
        raise
    if bound is not None:
        bound([url(sock) for sock in sockets])
    server = Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False,
                                   timeout_graceful_shutdown=CLOSE_SECONDS))
    task = asyncio.create_task(server.serve(sockets))
    listening = asyncio.create_task(server.listening.wait())
    await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    if not server.listening.is_set():
        listening.cancel()
        for sock in sockets:
            sock.close()
        task.result()  # raises what stopped it
        raise RuntimeError("the HTTP server stopped before it listened")
    try:
        yield [url(sock) for sock in sockets]
    finally:
        server.should_exit = True
        await task
