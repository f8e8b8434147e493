"""Behaviour tests for `memory-lora serve`: a real server on 127.0.0.1 answering the official `openai` client.

Twenty users each own a tiny adapter that answers "What is my secret?" with that user's secret alone, so every reply
shows which adapter produced it (see secret_adapters.py). The tests fire concurrent requests from all of them and
check that no reply ever carries another user's secret, that a new adapter version is picked up under load without a
restart, that bad keys get 401 before anything is loaded, and that malformed requests get clear 4xx errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from secret_adapters import QUESTION, greedy_reply, make_secrets, publish, train_secret
from transformers import AutoModelForCausalLM, AutoTokenizer

from memory_lora.config import ModelConfig
from memory_lora.keys import create_key, revoke_key
from memory_lora.server import ServeConfig, ServerThread
from memory_lora.store import Store

# "a.b" and "a_b" would share an adapter name if names were derived from user ids by replacing characters.
USERS = [f"u{i:02d}" for i in range(18)] + ["a.b", "a_b"]
SWAPPER = "swapper"  # gets a second adapter version in the middle of a load test
ASK = [{"role": "user", "content": QUESTION}]


@dataclass
class World:
    home: Path
    secrets: dict[str, str]  # user -> secret of their v1
    swap_secret: str  # SWAPPER's v2
    swap_model: object  # SWAPPER's v2, published by the hot-swap test
    keys: dict[str, str]


@pytest.fixture(scope="module")
def world(tiny_model_dir, tmp_path_factory) -> World:
    """A store with 20 secret-holding users plus SWAPPER, each with an API key, and "nobody" without an adapter."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    all_secrets = make_secrets(len(USERS) + 2)
    secrets = dict(zip([*USERS, SWAPPER], all_secrets, strict=False))
    home = tmp_path_factory.mktemp("server-home")
    with Store(home) as store:
        for i, (user, secret) in enumerate(secrets.items()):
            assert publish(store, user, train_secret(tiny_model_dir, tokenizer, secret, seed=i)) == 1
        keys = {user: create_key(store, user) for user in [*secrets, "nobody"]}
    base_reply, _ = greedy_reply(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tokenizer)
    assert not any(s in base_reply for s in all_secrets)  # only an adapter can produce a secret
    swap_model = train_secret(tiny_model_dir, tokenizer, all_secrets[-1], seed=99)
    return World(home, secrets, all_secrets[-1], swap_model, keys)


def serve_config(tiny_model_dir, **overrides) -> ServeConfig:
    # max_adapters below the user count: the load tests also exercise eviction and reloading.
    settings = dict(port=0, model=ModelConfig(base_model=str(tiny_model_dir), device="cpu"), max_adapters=8,
                    batch_window_ms=20, default_max_tokens=12, max_tokens_cap=64, max_body_bytes=20_000)
    return ServeConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def server(world, tiny_model_dir):
    with ServerThread(world.home, serve_config(tiny_model_dir)) as srv:
        yield srv


def client(server, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


async def ask(server, key: str, stream: bool, model: str = "any") -> tuple[str, str]:
    """(model field, reply text) for QUESTION, through the async openai client."""
    async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60) as c:
        if not stream:
            r = await c.chat.completions.create(model=model, messages=ASK)
            return r.model, r.choices[0].message.content
        parts, name = [], None
        async for chunk in await c.chat.completions.create(model=model, messages=ASK, stream=True):
            name = chunk.model
            parts.extend(choice.delta.content or "" for choice in chunk.choices)
        return name, "".join(parts)


def leaks(user: str, text: str, secrets: dict[str, str]) -> list[str]:
    return [other for other, secret in secrets.items() if other != user and secret in text]


def test_openai_client_plain_streamed_and_models(server, world):
    user, secret = "a.b", world.secrets["a.b"]
    c = client(server, world.keys[user])
    # `model` names another user: the key alone decides whose adapter answers.
    r = c.chat.completions.create(model="a_b", messages=ASK)
    assert (r.model, r.choices[0].message.content, r.choices[0].finish_reason) == ("a.b@v1", secret, "stop")
    assert r.usage.completion_tokens == len(server.state.tokenizer(secret, add_special_tokens=False)["input_ids"])
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens

    chunks = list(c.chat.completions.create(model="a_b", messages=ASK, stream=True,
                                            stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == secret
    assert len([ch for ch in chunks if ch.choices and ch.choices[0].delta.content]) > 1  # token by token
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == r.usage.completion_tokens

    assert [m.id for m in c.models.list()] == ["a.b"]
    assert list(client(server, world.keys["nobody"]).models.list()) == []
    with pytest.raises(openai.NotFoundError):
        client(server, world.keys["nobody"]).chat.completions.create(model="a.b", messages=ASK)


def test_stop_strings_and_max_tokens(server, world):
    user, secret = "u03", world.secrets["u03"]
    c = client(server, world.keys[user])
    r = c.chat.completions.create(model="x", messages=ASK, stop=[secret[3:5]])
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == (secret[:3], "stop")
    streamed = c.chat.completions.create(model="x", messages=ASK, stop=secret[3:5], stream=True)
    assert "".join(ch.choices[0].delta.content or "" for ch in streamed if ch.choices) == secret[:3]
    r = c.chat.completions.create(model="x", messages=ASK, max_tokens=2)
    assert (r.choices[0].finish_reason, r.usage.completion_tokens) == ("length", 2)
    assert secret.startswith(r.choices[0].message.content) and r.choices[0].message.content != secret


def test_isolation_twenty_users_concurrent(server, world):
    """20 users x 3 simultaneous requests (plain and streamed): each reply is its own user's secret, and only that."""
    batcher, registry = server.state.batcher, server.state.registry
    jobs = [(user, i % 2 == 1, USERS[(n + 1) % len(USERS)]) for n, user in enumerate(USERS) for i in range(3)]

    async def fire():
        return await asyncio.gather(*(ask(server, world.keys[u], stream, model=other) for u, stream, other in jobs))

    results = asyncio.run(fire())
    found = [(u, leaks(u, text, world.secrets)) for (u, _, _), (_, text) in zip(jobs, results, strict=True)]
    assert [f for f in found if f[1]] == []  # zero leaks
    assert [(name, text) for name, text in results] == [(f"{u}@v1", world.secrets[u]) for u, _, _ in jobs]
    assert batcher.max_adapters_per_pass >= 2  # rows of different users really shared forward passes
    assert batcher.wait_idle()
    assert registry.evictions > 0 and len(registry.resident()) <= 8  # LRU kept the cache bounded


def test_hot_swap_under_load(server, world):
    """SWAPPER gets v2 while everyone is asking: replies follow the version each request started with, requests
    sent after the switch get v2, nobody else is affected, and v1 is unloaded once nothing uses it."""
    users = [SWAPPER, *USERS[:6]]
    secret_of = {(u, 1): world.secrets[u] for u in users} | {(SWAPPER, 2): world.swap_secret}
    results: list[tuple[str, float, float, str, str]] = []  # user, sent, answered, model, text
    published = {}

    async def loop(user: str, stream: bool):
        while "after" not in published or sum(1 for r in results if r[0] == user and r[1] > published["after"]) < 3:
            sent = time.monotonic()
            name, text = await ask(server, world.keys[user], stream)
            results.append((user, sent, time.monotonic(), name, text))

    def publish_v2() -> tuple[int, float]:
        with Store(world.home) as store:
            version = publish(store, SWAPPER, world.swap_model)
        return version, time.monotonic()  # taken on this thread: the event loop may be slow to resume

    async def swap():
        while sum(1 for r in results if r[0] == SWAPPER) < 4:
            await asyncio.sleep(0.01)
        published["before"] = time.monotonic()
        version, published["after"] = await asyncio.to_thread(publish_v2)
        assert version == 2

    async def run():
        await asyncio.gather(swap(), *(loop(u, s) for u in users for s in (False, True)))

    asyncio.run(run())
    for user, _, _, name, text in results:
        owner, version = name.rsplit("@v", 1)
        assert owner == user and text == secret_of[(user, int(version))], (user, name, text)
    # A request may be sent before the switch and still get v2 (it is routed when the server reads it); one
    # answered before the switch began must be v1, one sent after it finished must be v2.
    swapper = [(sent, answered, name) for user, sent, answered, name, _ in results if user == SWAPPER]
    assert {name for _, answered, name in swapper if answered < published["before"]} == {"swapper@v1"}, swapper
    assert {name for sent, _, name in swapper if sent > published["after"]} == {"swapper@v2"}, swapper
    # Nothing pins v1 any more: the next batch's clean-up dropped it.
    client(server, world.keys[SWAPPER]).chat.completions.create(model="x", messages=ASK)
    assert server.state.batcher.wait_idle()
    resident = {(r.user, r.version) for r in server.state.registry.resident()}
    assert (SWAPPER, 1) not in resident, resident


BAD_AUTH = [
    {},
    {"Authorization": ""},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer ml-short"},
    {"Authorization": "Bearer ml-" + "A" * 43},  # well-formed, unknown
    {"Authorization": "Bearer ../../etc/passwd"},
]


def test_bad_keys_get_401_and_load_nothing(server, world):
    state = server.state
    assert state.batcher.wait_idle()
    before = (state.registry.loads, state.batcher.batches, state.registry.resident())
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for headers in BAD_AUTH:
            for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
                # An invalid body too: authentication comes first.
                r = http.request(method, path, headers=headers, content=b"{not json" if method == "POST" else None)
                assert r.status_code == 401, (headers, path)
                assert r.json()["error"]["code"] == "invalid_api_key"
                assert r.headers["www-authenticate"] == "Bearer"

        with Store(world.home) as store:
            key = create_key(store, "u05")
        body = {"model": "u05", "messages": ASK}
        auth = {"Authorization": f"Bearer {key}"}
        assert http.post("/v1/chat/completions", headers=auth, json=body).status_code == 200
        assert state.batcher.wait_idle()
        before = (state.registry.loads, state.batcher.batches, state.registry.resident())
        with Store(world.home) as store:
            assert revoke_key(store, key)
        r = http.post("/v1/chat/completions", headers=auth, json=body)
        assert r.status_code == 401 and world.secrets["u05"] not in r.text
    assert (state.registry.loads, state.batcher.batches, state.registry.resident()) == before
    with pytest.raises(openai.AuthenticationError):
        client(server, "ml-" + "B" * 43).chat.completions.create(model="u01", messages=ASK)


MALFORMED = [
    (b"{not json", 400, None),
    (b"\xff\xfe", 400, None),
    (b"[1, 2]", 400, None),
    (json.dumps({"model": "x"}).encode(), 400, "messages"),
    (json.dumps({"messages": []}).encode(), 400, "messages"),
    (json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}).encode(), 400, "messages.0.role"),
    (json.dumps({"messages": [{"role": "user", "content": 5}]}).encode(), 400, "messages.0.content"),
    (json.dumps({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]})
     .encode(), 400, "messages.0.content.0.type"),
    (json.dumps({"messages": ASK, "stream": "yes"}).encode(), 400, "stream"),
    (json.dumps({"messages": ASK, "max_tokens": 0}).encode(), 400, "max_tokens"),
    (json.dumps({"messages": ASK, "max_tokens": "5"}).encode(), 400, "max_tokens"),
    (json.dumps({"messages": ASK, "max_tokens": 65}).encode(), 400, "max_tokens"),  # over the cap of 64
    (json.dumps({"messages": ASK, "n": 2}).encode(), 400, "n"),
    (json.dumps({"messages": ASK, "stop": ["a", "b", "c", "d", "e"]}).encode(), 400, "stop"),
    (json.dumps({"messages": [{"role": "user", "content": "word " * 3000}]}).encode(), 400, "messages"),
    (json.dumps({"messages": [{"role": "user", "content": "x" * 30_000}]}).encode(), 413, None),
]


def test_malformed_requests_get_clear_4xx(server, world):
    state = server.state
    auth = {"Authorization": f"Bearer {world.keys['u07']}", "Content-Type": "application/json"}
    assert state.batcher.wait_idle()
    before = (state.registry.loads, state.batcher.batches)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for body, status, param in MALFORMED:
            r = http.post("/v1/chat/completions", headers=auth, content=body)
            assert r.status_code == status, (body[:60], r.text)
            error = r.json()["error"]
            assert error["message"] and error["param"] == param, (body[:60], error)

        def chunks():  # no Content-Length: the limit must hold while the body streams in
            yield b'{"messages": [{"role": "user", "content": "'
            for _ in range(30):
                yield b"y" * 1000
            yield b'"}]}'

        r = http.post("/v1/chat/completions", headers=auth, content=chunks())
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    assert (state.registry.loads, state.batcher.batches) == before  # nothing reached the model


def test_batching_off_serves_one_adapter_per_pass(world, tiny_model_dir):
    """The benchmark's baseline: the same concurrent load, decoded one adapter at a time, still answers correctly."""
    with ServerThread(world.home, serve_config(tiny_model_dir, mixed_batching=False)) as srv:
        users = USERS[:6]

        async def fire():
            return await asyncio.gather(*(ask(srv, world.keys[u], stream=False) for u in users for _ in range(2)))

        results = asyncio.run(fire())
        assert [text for _, text in results] == [world.secrets[u] for u in users for _ in range(2)]
        assert srv.state.batcher.max_adapters_per_pass == 1
        assert srv.state.batcher.generate_calls > srv.state.batcher.batches  # batches were split by adapter
