"""Run the reference back office with uvicorn — in the foreground (CLI) or in a thread
(tests and tools that want a real HTTP server on a free loopback port)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from backoffice.app import BackOfficeApp, Settings, create_app


def uvicorn_config(app: BackOfficeApp, host: str, port: int, *, log_level: str = "info", access_log: bool = True) -> uvicorn.Config:
    # h11 explicitly: fault injection reaches the connection's transport through it.
    return uvicorn.Config(
        app, host=host, port=port, http="h11", ws="none", lifespan="off", log_level=log_level,
        access_log=access_log, timeout_graceful_shutdown=1,
    )


class BackgroundServer:
    """A real server on 127.0.0.1:<free port> in a daemon thread. Use as a context manager."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0):
        self.app = create_app(settings)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says
        # TCP; without it Nagle + delayed ACK add ~40 ms to every response.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._stopped = False

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("back office did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
        self.app.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
