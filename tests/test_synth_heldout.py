"""Abstention questions held out of training for gate calibration (data_synth/heldout.py).

Run: python -m pytest -q tests/test_synth_heldout.py
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from data_synth.abstention import _draw, _first_person
from data_synth.config import SynthConfig
from data_synth.dataset import build_dataset
from data_synth.grammar import norm
from data_synth.heldout import held_out_abstention
from data_synth.rules import abstention_draw, analyse_memory
from memory_lora.ingest import read_memories


@pytest.fixture(scope="module")
def demo():
    path = Path(str(resources.files("memory_lora").joinpath("examples/demo/memories.jsonl")))
    memories = read_memories(path)
    config = SynthConfig()
    return memories, config, build_dataset(memories, "Maya", config, seed=3)


def test_held_out_questions_are_never_trained_on_in_any_person_form(demo):
    memories, config, ds = demo
    prompts = {norm(p) for p in ds["prompt"]}
    questions = held_out_abstention(memories, "Maya", config, 40, ds["prompt"], seed=3)
    assert len(questions) == 40 == len(set(questions))
    for q in questions:
        for form in (q, re.sub(r"\bMaya\b", "the user", q), _first_person(q, "Maya")):
            assert norm(form) not in prompts, q
    # the same inputs give the same questions, and a smaller k is a prefix of a larger one
    assert held_out_abstention(memories, "Maya", config, 10, ds["prompt"], seed=3) == questions[:10]


def test_held_out_questions_come_from_the_draws_pool_minus_what_it_asked(demo):
    memories, config, ds = demo
    analysed = [analyse_memory(m, "Maya") for m in memories]
    picks, mixed, unasked, _ = _draw(**abstention_draw(analysed, "Maya", config, seed=3))
    asked = {q for _, q, _ in picks}
    assert asked and unasked and not asked & set(unasked)
    pool = {q for q, _ in mixed}
    assert set(unasked) <= pool
    questions = held_out_abstention(memories, "Maya", config, 1000, ds["prompt"], seed=3)
    assert set(questions) <= {q.replace("{u}", "Maya") for q in unasked}
    # each abstention question the training data holds, asked by name, is one the draw picked, never a held-out one
    trained = {norm(p) for p, kind in zip(ds["prompt"], ds["kind"], strict=True) if kind == "abstention"}
    assert not trained & {norm(q) for q in questions}
    # the sources are taken in turn, so the first questions are not all of one kind
    assert len({q.split()[0] for q in questions[:12]}) > 2


def test_a_pool_smaller_than_k_gives_what_there_is(demo):
    memories, config, ds = demo
    everything = held_out_abstention(memories, "Maya", config, 10_000, ds["prompt"], seed=3)
    assert 0 < len(everything) < 10_000
