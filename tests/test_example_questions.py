"""The bundled example users' question sets stay honest: the dev set (used to pick settings and gate thresholds)
shares no question with the held-out set, and no dev question is one the synthesizer writes word for word.

Run: python -m pytest tests/test_example_questions.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from data_synth.config import SynthConfig
from data_synth.dataset import build_dataset
from data_synth.grammar import norm
from memory_lora.ingest import read_memories, read_questions
from memory_lora.text import display_name

EXAMPLES = Path(__file__).resolve().parents[1] / "memory_lora" / "examples"
USERS = {"demo": ("questions.jsonl", "questions_more.jsonl"), "ravi": ("questions.jsonl",)}


def _held_out(folder: str):
    return [q for name in USERS[folder] for q in read_questions(EXAMPLES / folder / name)]


DEV = ("dev_questions.jsonl", "dev_questions_more.jsonl")  # the second adds the held-out set's other question types


def _dev(folder: str):
    return [q for name in DEV for q in read_questions(EXAMPLES / folder / name)]


STOP = set("what which who whom when where how is was are were do does did the a an of in on at to for s".split())


def _words(text: str) -> set[str]:
    """Content words: two questions that differ in these ask different things."""
    return set(re.findall(r"\w+", norm(text))) - STOP


@pytest.mark.parametrize("folder", sorted(USERS))
def test_dev_questions_are_neither_held_out_questions_nor_near_copies_of_one(folder):
    """A dev question that is also a test question makes every setting chosen on dev look better on test."""
    held, dev = _held_out(folder), _dev(folder)
    assert len({q.id for q in held + dev}) == len(held) + len(dev)
    close = []
    for d in dev:
        for h in held:
            a, b = _words(d.question), _words(h.question)
            if norm(d.question) == norm(h.question) or len(a & b) / len(a | b) >= 0.75:
                close.append((d.id, h.id))
    assert not close, close


@pytest.mark.parametrize("folder", sorted(USERS))
def test_no_dev_question_is_written_word_for_word_by_the_synthesizer(folder):
    """Dev measures answers to unseen wordings, like the held-out set; a dev question in the training prompts
    would be a recall test, not a generalization test (checked on the default synthesis, seed 0)."""
    memories = read_memories(EXAMPLES / folder / "memories.jsonl")
    prompts = {norm(p) for p in build_dataset(memories, display_name(memories[0].user), SynthConfig())["prompt"]}
    dev = _dev(folder)
    assert not [q.id for q in dev if norm(q.question) in prompts]


@pytest.mark.parametrize("folder", sorted(USERS))
def test_dev_questions_cover_every_type_the_held_out_set_scores(folder):
    """A setting chosen on a dev set without multi-hop or preference questions can cost those types unseen."""
    assert {q.type for q in _held_out(folder)} <= {q.type for q in _dev(folder)}
