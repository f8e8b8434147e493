"""The FastAPI app: OpenAI-compatible `POST /v1/chat/completions` (plain and streamed) and `GET /v1/models`.

Identity comes from the bearer key alone: the key's user is the only user whose adapter can answer, whatever the
request's `model` says. Every check that can fail on the request (key, body size, JSON, fields, max_tokens, prompt
length) runs before anything is queued or loaded; a missing, unknown or revoked key is a 401 before the body is read.

Replies come from the same answer pipeline and recipe as `ask` and `eval` (ServeConfig.answer). With `"stream":
true`, greedy replies without a gate stream token by token; a reply chosen by beam search, the reranker or the
"I don't know" gate exists only once it is whole, so it is sent as one content chunk, and every streamed response
says which it is in the `X-Memory-Lora-Stream` header: `tokens` or `reply`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from memory_lora import keys
from memory_lora.prompts import messages_prompt
from memory_lora.server.batcher import Batcher, Busy, Job
from memory_lora.server.config import ServeConfig
from memory_lora.server.registry import AdapterRegistry
from memory_lora.server.schemas import ApiError, chunk_body, completion_body, completion_id, parse_request, usage
from memory_lora.store import Store

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """The request body passed ServeConfig.max_body_bytes while being read."""


class BodyLimit:
    """ASGI middleware: 413 for bodies over the limit, by Content-Length up front or by counting as they stream in
    (chunked uploads have no length), so an oversized body is never held in memory whole."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            response = JSONResponse(_too_large().body(), status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        return await self.app(scope, limited, send)


def _too_large() -> ApiError:
    return ApiError(413, "request body too large", code="request_too_large")


@dataclass
class ServerState:
    """What the endpoints share; built at startup."""

    config: ServeConfig
    store: Store
    tokenizer: object
    tokenizer_lock: threading.Lock
    registry: AdapterRegistry
    batcher: Batcher
    context_length: int

    def user(self, request: Request) -> str:
        """The caller's user, from `Authorization: Bearer KEY`.

        Raises:
            ApiError: 401 when the key is missing, malformed, unknown or revoked.
        """
        header = request.headers.get("authorization")
        if not header:
            raise ApiError(401, "missing API key: send 'Authorization: Bearer KEY'", code="invalid_api_key")
        scheme, _, token = header.partition(" ")
        user = keys.authenticate(self.store, token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "invalid or revoked API key", code="invalid_api_key")
        return user


def _sse(body: dict) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def create_app(home: str | Path, config: ServeConfig) -> FastAPI:
    """The server app; the base model is loaded and the batcher started when the app starts (ASGI lifespan).

    Args:
        home: The store folder (keys, adapter versions).
        config: Server settings, including the base model.

    Returns:
        A FastAPI app; `app.state.server` holds the ServerState while it runs.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from memory_lora.base_model import load_base

        if config.threads is not None:
            import torch

            torch.set_num_threads(config.threads)
        store = Store(home)
        model, tokenizer = load_base(config.model)
        lock = threading.Lock()
        registry = AdapterRegistry(model, store, config.max_adapters)
        embedder = None
        if config.answer.rerank_weight > 0 and config.answer.num_beams > 1:
            from memory_lora.retrieval import load_embedder

            embedder = load_embedder(config.answer.embedder)
        if config.answer.num_beams > 1:
            log.info("answer.num_beams %d: streamed replies are sent whole, as one chunk", config.answer.num_beams)
        batcher = Batcher(registry, tokenizer, config, lock, embedder)
        batcher.start()
        context = int(getattr(model.config, "max_position_embeddings", 2048))
        app.state.server = ServerState(config, store, tokenizer, lock, registry, batcher, context)
        try:
            yield
        finally:
            batcher.stop()
            registry.close()  # the base model may be cached process-wide: hand it back without adapters
            store.close()

    app = FastAPI(title="memory_lora", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge):
        return JSONResponse(_too_large().body(), status_code=413)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models(request: Request):
        state: ServerState = request.app.state.server
        user = state.user(request)
        latest = state.store.latest_adapter(user)
        data = []
        if latest is not None:  # the caller's own adapter, nobody else's
            created = int(datetime.fromisoformat(latest["created_at"]).timestamp())
            data.append({"id": user, "object": "model", "created": created, "owned_by": user,
                         "adapter": f"{user}@v{latest['version']}", "root": latest["manifest"].get("base_model")})
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        state: ServerState = request.app.state.server
        cfg = state.config
        user = state.user(request)  # before the body is even read
        try:
            data = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ApiError(400, f"request body is not valid JSON ({e})") from None
        req = parse_request(data)
        max_tokens = req.max_completion_tokens or req.max_tokens or cfg.default_max_tokens
        if max_tokens > cfg.max_tokens_cap:
            raise ApiError(400, f"max_tokens {max_tokens} exceeds this server's cap of {cfg.max_tokens_cap}",
                           param="max_tokens")
        try:
            prompt = messages_prompt(state.tokenizer, req.chat(), cfg.model.system_prompt)
        except Exception as e:  # chat templates raise on turn orders they do not accept
            raise ApiError(400, f"messages cannot be rendered with this model's chat template ({e})",
                           param="messages") from None
        with state.tokenizer_lock:
            ids = state.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        limit = min(cfg.max_prompt_tokens or state.context_length, state.context_length - max_tokens)
        if len(ids) > limit:
            raise ApiError(400, f"prompt is {len(ids)} tokens; at most {limit} fit with max_tokens {max_tokens}",
                           param="messages", code="context_length_exceeded")

        key = state.registry.pin_latest(user)
        if key is None:
            raise ApiError(404, f"no adapter trained for user {user!r} yet; run `memory-lora train {user}`",
                           code="model_not_found", param="model")
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def emit(kind: str, payload: object) -> None:  # called on the worker thread
            try:
                loop.call_soon_threadsafe(events.put_nowait, (kind, payload))
            except RuntimeError:  # the event loop is gone (shutdown); nobody is listening
                pass

        question = next((m["content"] for m in reversed(req.chat()) if m["role"] == "user"), "")
        job = Job(prompt_ids=ids, max_tokens=max_tokens, stop=req.stop or [], key=key, emit=emit, question=question)
        try:
            state.batcher.submit(job)
        except Busy:
            state.registry.unpin(key)
            raise ApiError(429, "server busy, retry later", type_="rate_limit_error", code="busy") from None
        cid, model_name = completion_id(), f"{user}@v{key[1]}"

        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            tokens = cfg.answer.num_beams == 1 and cfg.answer.gate_for(state.registry.recorded_gate(key)) is None
            headers = {"Cache-Control": "no-cache", "X-Memory-Lora-Stream": "tokens" if tokens else "reply"}
            return StreamingResponse(_stream(job, events, cid, model_name, include_usage, len(ids)),
                                     media_type="text/event-stream", headers=headers)
        parts = []
        try:
            while True:
                kind, payload = await events.get()
                if kind != "delta":
                    break
                parts.append(payload)
        finally:
            job.cancelled = True  # no effect once finished; frees the row if this handler was cancelled
        if kind == "error":
            raise ApiError(500, str(payload), type_="server_error")
        return JSONResponse(completion_body(cid, model_name, "".join(parts), payload,
                                            usage(len(ids), job.completion_tokens)))

    return app


async def _stream(job: Job, events: asyncio.Queue, cid: str, model: str, include_usage: bool, prompt_tokens: int):
    """Server-sent events as OpenAI streams them: a role chunk, content chunks, a finish chunk, usage, [DONE]."""
    try:
        yield _sse(chunk_body(cid, model, {"role": "assistant", "content": ""}))
        while True:
            kind, payload = await events.get()
            if kind == "delta":
                yield _sse(chunk_body(cid, model, {"content": payload}))
            elif kind == "done":
                yield _sse(chunk_body(cid, model, {}, finish_reason=payload))
                if include_usage:
                    yield _sse(chunk_body(cid, model, {}, usage_=usage(prompt_tokens, job.completion_tokens),
                                          choices=False))
                yield "data: [DONE]\n\n"
                return
            else:
                yield _sse(ApiError(500, str(payload), type_="server_error").body())
                return
    finally:
        job.cancelled = True  # the client went away (or the stream ended): stop decoding this row
