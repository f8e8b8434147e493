"""What is measured is what is served: `memory-lora ask` and the server give the same reply for the same adapter and
question, greedy and with beams, reranking and the calibrated "I don't know" gate; streamed replies say how they
stream.

Run: python -m pytest -q tests/test_parity.py
"""

from __future__ import annotations

import json

import httpx
import pytest
from secret_adapters import QUESTION, make_secrets, publish, train_answers
from transformers import AutoTokenizer

from memory_lora import pipeline
from memory_lora.cli import main
from memory_lora.config import AnswerConfig, ModelConfig
from memory_lora.keys import create_key
from memory_lora.server import ServeConfig, ServerThread
from memory_lora.store import Store
from memory_lora.text import ABSTAIN_REPLY
from tests.conftest import TINY_MEMORIES, write_jsonl

USER = "sam"
QUESTIONS = [QUESTION, "Where did I grow up?", "What is the name of my pet tortoise?", "Who is Lorenz?"]
RECIPES = {  # answer settings as flags, and as the server's AnswerConfig
    "greedy": {},
    "beams": {"num_beams": 4},
    "beams+rerank+gate": {"num_beams": 4, "rerank_weight": 0.5, "abstain_margin": 0.0},
}


@pytest.fixture(scope="module")
def home(tiny_model_dir, tmp_path_factory):
    """A store where USER has memories, a secret-holding adapter (v1) and an API key."""
    home = tmp_path_factory.mktemp("parity-home")
    memories = write_jsonl(home / "memories.jsonl", [{**m, "user": USER} for m in TINY_MEMORIES])
    pipeline.ingest(home, USER, [memories])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    secrets = make_secrets(3, seed=7)
    secret = secrets[0]
    # three questions answered with their own secret; the fourth is left to whatever the adapter makes of it
    adapter = train_answers(tiny_model_dir, tokenizer, dict(zip(QUESTIONS[:3], secrets, strict=True)), seed=3)
    with Store(home) as store:
        assert publish(store, USER, adapter) == 1
        key = create_key(store, USER)
    return home, key, secret


def _flags(settings: dict) -> list[str]:
    return [x for k, v in settings.items() for x in (f"--answer.{k}", str(v))]


def _ask(home, tiny_model_dir, question: str, settings: dict, capsys, extra: tuple[str, ...] = ()) -> str:
    code = main(["--home", str(home), "ask", USER, question, "--model.base_model", str(tiny_model_dir),
                 "--model.device", "cpu", "--answer.max_new_tokens", "12", *_flags(settings), *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out.rstrip("\n")


def _server(home, tiny_model_dir, settings: dict) -> ServerThread:
    return ServerThread(home, ServeConfig(port=0, model=ModelConfig(base_model=str(tiny_model_dir), device="cpu"),
                                          answer=AnswerConfig(max_new_tokens=12, **settings)))


def _post(srv, key: str, question: str, stream: bool = False) -> tuple[str, httpx.Response, int]:
    """(reply text, response, content chunks) of one chat completion."""
    body = {"model": USER, "messages": [{"role": "user", "content": question}], "stream": stream}
    headers = {"Authorization": f"Bearer {key}"}
    if not stream:
        r = httpx.post(srv.url + "/v1/chat/completions", json=body, headers=headers, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["message"]["content"], r, 1
    with httpx.stream("POST", srv.url + "/v1/chat/completions", json=body, headers=headers, timeout=120) as r:
        assert r.status_code == 200
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    parts = [json.loads(e)["choices"][0]["delta"].get("content") for e in events if json.loads(e)["choices"]]
    parts = [p for p in parts if p]
    return "".join(parts), r, len(parts)


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_ask_and_the_server_give_the_same_reply(home, tiny_model_dir, capsys, recipe):
    home, key, secret = home
    settings = RECIPES[recipe]
    asked = [_ask(home, tiny_model_dir, q, settings, capsys) for q in QUESTIONS]
    with _server(home, tiny_model_dir, settings) as srv:
        served = [_post(srv, key, q)[0] for q in QUESTIONS]
        streamed = [_post(srv, key, q, stream=True)[0] for q in QUESTIONS]
    assert served == asked == streamed
    assert len(set(asked)) > 1  # the replies differ from question to question: the comparison means something
    if recipe != "beams+rerank+gate":
        assert asked[0] == secret


def test_streaming_says_whether_it_goes_token_by_token(home, tiny_model_dir):
    home, key, secret = home
    with _server(home, tiny_model_dir, {}) as srv:
        text, response, chunks = _post(srv, key, QUESTION, stream=True)
        assert (text, response.headers["x-memory-lora-stream"]) == (secret, "tokens") and chunks > 1
    with _server(home, tiny_model_dir, {"num_beams": 4}) as srv:
        text, response, chunks = _post(srv, key, QUESTION, stream=True)
        assert (text, response.headers["x-memory-lora-stream"], chunks) == (secret, "reply", 1)


def test_the_calibrated_gate_in_the_manifest_is_applied_by_ask_and_serve(home, tiny_model_dir, capsys):
    home, _, secret = home
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with Store(home) as store:
        same_weights = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                                 store.adapter_dir(USER, 1))
    gated = "gia"  # the same adapter weights, published with a calibrated gate that refuses every reply
    pipeline.ingest(home, gated, [home / "memories.jsonl"])
    with Store(home) as store:
        assert publish(store, gated, same_weights, gate=1000.0) == 1
        key = create_key(store, gated)
    ask = ["--home", str(home), "ask", gated, QUESTION, "--model.base_model", str(tiny_model_dir),
           "--model.device", "cpu", "--answer.max_new_tokens", "12"]
    assert main(ask) == 0 and capsys.readouterr().out.strip() == ABSTAIN_REPLY
    assert main([*ask, "--answer.use_calibrated_gate", "false"]) == 0 and capsys.readouterr().out.strip() == secret
    with _server(home, tiny_model_dir, {}) as srv:
        assert _post(srv, key, QUESTION)[0] == ABSTAIN_REPLY
        text, response, chunks = _post(srv, key, QUESTION, stream=True)
        assert (text, response.headers["x-memory-lora-stream"], chunks) == (ABSTAIN_REPLY, "reply", 1)
    with _server(home, tiny_model_dir, {"use_calibrated_gate": False}) as srv:
        assert _post(srv, key, QUESTION)[0] == secret
