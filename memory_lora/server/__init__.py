"""OpenAI-compatible inference server with per-user adapters on one shared base model (SPEC section 6).

- config.py    ServeConfig: every `memory-lora serve` setting
- app.py       FastAPI endpoints, API-key identity, request limits
- schemas.py   the OpenAI wire format (requests, responses, stream chunks, errors)
- registry.py  resident adapters: verified loading, pins, LRU, hot swap
- batcher.py   the worker thread: mixed-adapter batches through the answer pipeline, streaming
- run.py       `serve` (uvicorn) and `ServerThread` (tests, benchmarks)
"""

from memory_lora.server.config import ServeConfig

__all__ = ["ServeConfig", "ServerThread", "serve"]


def __getattr__(name: str):
    # The app (FastAPI, uvicorn, torch) loads only when a server is wanted, not when the CLI reads ServeConfig.
    if name in ("ServerThread", "serve"):
        from memory_lora.server import run

        return getattr(run, name)
    raise AttributeError(name)
