"""Behaviour tests for memory_lora.replay: mix ratio, drawing without repetition, seeding, and the on-disk cache
of the base model's own answers.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from memory_lora import replay
from memory_lora.generation import Reply
from memory_lora.records import Example
from memory_lora.replay import load_replay_prompts, mix_replay, replay_count, replay_pool


def memory_examples(n: int) -> list[Example]:
    return [Example(prompt=f"Memory question {i}?", response=f"Answer {i}.", kind="qa") for i in range(n)]


def pool_of(n: int) -> list[Example]:
    return [Example(prompt=f"Generic prompt {i}", response=f"Generic answer {i}.", kind="replay") for i in range(n)]


# -- counting and mixing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ratio", "expected"), [(100, 0.2, 25), (100, 0.5, 100), (80, 0.25, 27), (3, 0.2, 1)])
def test_replay_count_makes_ratio_of_final_mix(n, ratio, expected):
    count = replay_count(n, ratio)
    assert count == expected
    assert abs(count / (n + count) - ratio) <= 0.5 / (n + count) + 1e-9  # as close as whole examples allow


def test_replay_count_zero_cases():
    assert replay_count(100, 0.0) == 0
    assert replay_count(0, 0.2) == 0


def test_mix_replay_holds_ratio_and_draws_without_repetition():
    memories, pool = memory_examples(100), pool_of(40)
    mixed = mix_replay(memories, pool, 0.2, seed=0)
    assert mixed[:100] == memories  # memory examples kept, in order
    drawn = mixed[100:]
    assert len(drawn) == 25 and len(drawn) / len(mixed) == 0.2
    assert all(ex.kind == "replay" and ex in pool for ex in drawn)
    assert len({ex.id for ex in drawn}) == 25  # no repeats while the pool lasts


def test_mix_replay_reuses_a_small_pool_evenly():
    pool = pool_of(10)
    drawn = mix_replay(memory_examples(100), pool, 0.2, seed=0)[100:]
    assert len(drawn) == 25
    counts = Counter(ex.id for ex in drawn)
    assert set(counts) == {ex.id for ex in pool}  # the whole pool used before anything repeats
    assert set(counts.values()) <= {2, 3}
    assert len({ex.id for ex in drawn[:10]}) == 10 and len({ex.id for ex in drawn[10:20]}) == 10


def test_mix_replay_is_seeded():
    memories, pool = memory_examples(100), pool_of(40)
    first = mix_replay(memories, pool, 0.2, seed=5)
    assert mix_replay(memories, pool, 0.2, seed=5) == first
    assert mix_replay(memories, pool, 0.2, seed=6) != first


def test_mix_replay_ratio_zero_or_empty_pool_gives_memories_only():
    memories = memory_examples(10)
    assert mix_replay(memories, pool_of(10), 0.0, seed=0) == memories
    assert mix_replay(memories, [], 0.3, seed=0) == memories


def test_bundled_replay_prompts_load():
    prompts = load_replay_prompts()
    assert len(prompts) >= 50
    assert all(isinstance(p, str) and p.strip() for p in prompts)
    assert len(set(prompts)) == len(prompts)


# -- replay_pool: generation and cache -----------------------------------------------------------------------


def _forbid_generate(*args, **kwargs):
    raise AssertionError("replay_pool generated although its answers were cached")


def test_replay_pool_generates_once_then_reads_the_cache(fresh_tiny, tmp_path, monkeypatch):
    model, tok = fresh_tiny
    prompts = load_replay_prompts()[:6]
    pool = replay_pool(model, tok, "tiny", "", tmp_path, prompts=prompts, max_new_tokens=16)
    assert pool, "the tiny chat model answers with a full sentence, so nothing should be dropped"
    assert all(ex.kind == "replay" and ex.template == "self-distill" for ex in pool)
    assert [ex.prompt for ex in pool] == prompts
    assert all(ex.response.strip() for ex in pool)

    files = list((tmp_path / "replay").glob("*.jsonl"))
    assert len(files) == 1
    rows = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert [(r["prompt"], r["response"]) for r in rows] == [(ex.prompt, ex.response) for ex in pool]
    assert not [p for p in (tmp_path / "replay").iterdir() if p.name.startswith(".tmp-")]

    monkeypatch.setattr(replay, "generate", _forbid_generate)
    assert replay_pool(model, tok, "tiny", "", tmp_path, prompts=prompts, max_new_tokens=16) == pool


def test_replay_pool_cache_key_depends_on_base_and_format(fresh_tiny, tmp_path, monkeypatch):
    model, tok = fresh_tiny
    prompts = load_replay_prompts()[:2]
    replay_pool(model, tok, "tiny", "", tmp_path, prompts=prompts, max_new_tokens=16)
    calls = []
    real = replay.generate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(replay, "generate", counting)
    replay_pool(model, tok, "other-base", "", tmp_path, prompts=prompts, max_new_tokens=16)
    replay_pool(model, tok, "tiny", "You are helpful.", tmp_path, prompts=prompts, max_new_tokens=16)
    assert len(calls) == 2
    assert len(list((tmp_path / "replay").glob("*.jsonl"))) == 3


def test_replay_pool_drops_empty_and_cuts_unfinished_answers(fresh_tiny, tmp_path, monkeypatch):
    model, tok = fresh_tiny
    prompts = ["finished", "empty", "cut", "no sentence end", "whitespace"]
    texts = {
        "finished": ("A whole answer.", True),
        "empty": ("", True),
        "cut": ("First sentence. Second one is cut", False),
        "no sentence end": ("never ends", False),
        "whitespace": ("   ", True),
    }

    def fake_generate(model_, tokenizer_, rendered, max_new_tokens, batch_size=1):
        out = []
        for text in rendered:
            key = next(p for p in prompts if f"\n{p}<|im_end|>" in text)
            reply, finished = texts[key]
            out.append(Reply(text=reply.strip(), prompt_tokens=1, completion_tokens=1, latency_s=0.0,
                             finished=finished))
        return out

    monkeypatch.setattr(replay, "generate", fake_generate)
    pool = replay_pool(model, tok, "fake", "", tmp_path, prompts=prompts)
    assert [(ex.prompt, ex.response) for ex in pool] == [("finished", "A whole answer."), ("cut", "First sentence.")]


def test_bundled_replay_has_short_world_questions_none_of_them_a_probe_question():
    """Memory data is short questions, so replay must hold short questions too, or the adapter answers every
    question as if it were about the user; none may be (or nearly be) a question of the general probe."""
    import re

    from eval.configs import bundled_general_probe

    instructions = load_replay_prompts(questions=False)
    everything = load_replay_prompts()
    questions = everything[len(instructions):]
    assert everything[: len(instructions)] == instructions
    assert len(questions) >= 90 and all(q.endswith("?") and len(q.split()) <= 14 for q in questions)
    stop = set("what is the of a an in which who how many do does did are you to on for and with from called".split())

    def words(q: str) -> set[str]:
        return {w for w in re.findall(r"[a-z0-9]+", q.lower()) if w not in stop}

    probe = [json.loads(line)["question"] for line in bundled_general_probe().read_text().splitlines() if line]
    close = [(q, p) for q in questions for p in probe
             if len(words(q) & words(p)) / max(1, min(len(words(q)), len(words(p)))) >= 0.6]
    assert not close, close
