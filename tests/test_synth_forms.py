"""Each slot of a memory is asked in every person form and answered short and in a sentence, whatever the seed.

The rules pick a memory's questions round-robin over its slots; when the person form ("Ravi", "I", "the user") and
the answer style followed the question's position in that list, a memory with an even number of slots asked each
slot in the same one or two forms every round, so which forms a slot was taught in depended on the seed (the bug
this file pins down: ravi's new address was asked only as "What is my address?" and its like on seed 1).

Run: `pytest tests/test_synth_forms.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

import re

import pytest

from data_synth.config import SynthConfig
from data_synth.qa import QA
from data_synth.rules import PERSONS, _select, _short_turn, _slot_turns, synthesize
from memory_lora.records import Memory

USER = "Lena"
# The shape of ravi-m021 (a landing, then the new place's address) with invented names: under the old rotation every
# address question of a seed came out in one form ("What is my address?" ... on one seed, "Lena's" on the next).
MOVE = Memory(id="m0", text="Landed in Dunedin, New Zealand on 5 April 2024, moved here for good. New place is "
              "9 Linden Terrace.", time="2024-04-06T08:00:00Z", kind="episodic")


def _form(prompt: str) -> str:
    if re.search(r"\b(?:I|my|me)\b", prompt):
        return "first"
    return "user" if re.search(r"\bthe user\b", prompt, re.I) else "name" if USER in prompt else "other"


def test_address_questions_take_more_than_one_person_form_on_every_seed():
    seen = set()
    for seed in range(8):
        exs = [e for e in synthesize([MOVE], USER, SynthConfig(min_examples_per_memory=40), seed=seed)
               if "/infer-address" in e.template]
        forms = {_form(e.prompt) for e in exs}
        assert len(exs) >= 3 and len(forms) >= 2, (seed, [e.prompt for e in exs])
        seen |= forms
    assert seen == {"first", "name", "user"}


@pytest.mark.parametrize("n_slots", [1, 2, 3, 4, 6])
def test_each_slot_turns_through_every_person_form_and_both_answer_styles(n_slots):
    slots = [[QA(f"Question {g}.{i}?", "x", f"slot{g}", "What") for i in range(8)] for g in range(n_slots)]
    picked = _select([qa for items in slots for qa in items], cap=1000)
    assert len(picked) == 8 * n_slots
    for offset in range(4):
        pairs: dict[str, set[tuple[str, bool]]] = {}
        for qa, n in zip(picked, _slot_turns(picked), strict=True):
            pairs.setdefault(qa.group, set()).add((PERSONS[(n + offset) % 4], _short_turn(n)))
        for group, got in pairs.items():
            assert got == {(p, s) for p in PERSONS for s in (True, False)}, (n_slots, offset, group, got)
