"""Running the server: `serve` for the command line (blocks), `ServerThread` for tests and benchmarks.

Run: memory-lora serve --home HOME [--port 8000]
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

from memory_lora.server.app import create_app
from memory_lora.server.config import ServeConfig

log = logging.getLogger(__name__)


def serve(home: str | Path, config: ServeConfig) -> None:
    """Serves the store's users on config.host:config.port until interrupted (uvicorn, one process).

    Args:
        home: The store folder.
        config: Server settings.
    """
    import uvicorn

    log.info("serving %s on http://%s:%d", home, config.host, config.port)
    uvicorn.run(create_app(home, config), host=config.host, port=config.port, log_level="info")


class ServerThread:
    """A real server on a background thread, listening on 127.0.0.1 (or config.host) at a free port.

    Use as a context manager: on entry the model is loaded and `url` ("http://127.0.0.1:PORT") answers; on exit the
    server finishes in-flight requests and stops. `state` is the running ServerState (registry, batcher, ...).

    Args:
        home: The store folder.
        config: Server settings; port 0 picks a free port.
        start_timeout_s: How long to wait for startup (model loading) before giving up.
    """

    def __init__(self, home: str | Path, config: ServeConfig, start_timeout_s: float = 300.0):
        self.app = create_app(home, config)
        self.config = config
        self.start_timeout_s = start_timeout_s
        self.url = ""

    @property
    def state(self):
        return self.app.state.server

    def __enter__(self) -> ServerThread:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name="memory-lora-server")
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                raise RuntimeError("the server did not start (see the log above)")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
