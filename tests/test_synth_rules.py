"""Behaviour tests for the rule-based synthesizer (data_synth.rules) and the dataset helpers (data_synth.dataset).

Run: `pytest tests/test_synth_rules.py -q`. Uses its own invented memories, never the held-out question files.
"""

from __future__ import annotations

import re

import pytest

from data_synth.config import SynthConfig
from data_synth.dataset import build_dataset, dataset_stats, load_dataset_dir, save_dataset
from data_synth.grammar import norm
from data_synth.rules import MAX_CLOZE, synthesize
from memory_lora.records import Memory

USER = "Lena"
# Most examples one memory may yield: the QA cap, the cloze cap and up to four recitation prompts.
CAP_PER_MEMORY = SynthConfig().max_qa_per_memory + MAX_CLOZE + 4
MEMORIES = [
    Memory(id="t1", text="I moved to Kraków in September 2019 to work at the Vistula Robotics Lab."),
    Memory(id="t2", text="My brother Émile works as a sound engineer in Lyon."),
    Memory(id="t3", text="fyi my scooter is a yellow Vespa called Limoncello"),
    Memory(id="t4", text="Prefers replies in short paragraphs."),
    Memory(id="t5", text="On 2 April 2022 I swam the Lake Bled crossing in 48 minutes."),
    Memory(id="t6", text="Lena's favourite board game is Carcassonne."),
    Memory(id="t7", text="Note: gym membership number is 40917."),
    Memory(id="t8", text="When ordering pizza, always ask for extra olives."),
    Memory(id="t9", text="I can't stand black liquorice."),
]
ODD = [
    Memory(id="o1", text="ok"),
    Memory(id="o2", text="Note: x"),
    Memory(id="o3", text="🎉🎉 🙂"),
    Memory(id="o4", text="I love my dog Biscuit 🐶 so much!!"),
    Memory(id="o5", text=" ".join(["I visited Oslo and Bergen with my friend Kari in June 2021."] * 60)),
    Memory(id="o6", text="   "),
    Memory(id="o7", text="???"),
]
SHORT_RE = re.compile(r"/short")


def _by_memory(examples):
    out = {}
    for ex in examples:
        if len(ex.memory_ids) == 1:
            out.setdefault(ex.memory_ids[0], []).append(ex)
    return out


@pytest.fixture(scope="module")
def examples():
    return synthesize(MEMORIES, USER, SynthConfig(), seed=3)


def test_deterministic_for_same_seed(examples):
    again = synthesize(list(MEMORIES), USER, SynthConfig(), seed=3)
    assert [e.to_dict() for e in again] == [e.to_dict() for e in examples]
    other = synthesize(list(MEMORIES), USER, SynthConfig(), seed=4)  # the seed argument reaches the draws
    assert [e.to_dict() for e in other] != [e.to_dict() for e in examples]


def test_memory_ids_point_to_source(examples):
    ids = {m.id for m in MEMORIES}
    assert examples
    for ex in examples:
        assert set(ex.memory_ids) <= ids
        # Abstention is about no memory; a chain of thought joins two; everything else comes from one.
        assert len(ex.memory_ids) == {"abstention": 0, "cot": 2}.get(ex.kind, 1), ex


def test_every_memory_produces_enough_examples(examples):
    per = _by_memory(examples)
    for mem in MEMORIES:
        # The QA cap plus a few cloze and recitation examples, however long the memory.
        assert 8 <= len(per.get(mem.id, [])) <= CAP_PER_MEMORY, (mem.id, len(per.get(mem.id, [])))


def test_short_answers_are_grounded_in_memory():
    text = {m.id: norm(m.text) for m in MEMORIES}
    examples = synthesize(MEMORIES, USER, seed=3)
    shorts = [ex for ex in examples if ex.kind in ("qa", "cloze") and (SHORT_RE.search(ex.template) or
                                                                        ex.kind == "cloze")]
    assert len(shorts) > 10  # the cloze answers: QA is answered with the memory sentence
    for ex in shorts:
        assert norm(ex.response) in text[ex.memory_ids[0]], (ex.prompt, ex.response)


def test_no_question_contains_its_short_answer(examples):
    for ex in examples:
        if ex.kind == "qa" and SHORT_RE.search(ex.template):
            assert norm(ex.response) not in norm(ex.prompt), (ex.prompt, ex.response)


def test_first_person_memory_becomes_third_person(examples):
    qa = [ex for ex in examples if ex.kind == "qa" and ex.memory_ids[0] in ("t1", "t5", "t9")]
    third = [ex for ex in qa if "/first" not in ex.template]
    assert any(USER in ex.prompt for ex in third)
    for ex in third:
        assert not re.search(r"\b(I|my|My)\b|(?<![Tt]ell )\bme\b", ex.prompt), ex.prompt
        if "/full" in ex.template:
            assert USER in ex.response and not re.search(r"\b(I|my)\b", ex.response), ex.response


def test_first_person_questions_answered_in_second_person(examples):
    first = [ex for ex in examples if ex.template.endswith("/first")]
    assert first
    assert any(ex.response.startswith("You ") or ex.response.startswith("Your ") for ex in first
               if "/full" in ex.template)
    for ex in first:
        assert re.search(r"\b(I|[Mm]y|me)\b", ex.prompt), ex.prompt


def test_questions_are_varied_per_memory(examples):
    for mid, exs in _by_memory(examples).items():
        wordings = {norm(ex.prompt) for ex in exs if ex.kind == "qa"}
        openers = {ex.prompt.split()[0].lower() for ex in exs if ex.kind == "qa"}
        assert len(wordings) >= 6, mid
        assert len(openers) >= 2, (mid, openers)


def test_expected_slots_are_asked(examples):
    per = _by_memory(examples)

    def answers(mid):
        return " ".join(norm(e.response) for e in per[mid] if e.kind in ("qa", "cloze"))

    def prompts(mid):
        return " ".join(e.prompt for e in per[mid] if e.kind == "qa")

    assert "krakow" in answers("t1") and "september 2019" in answers("t1")
    assert "where did lena move" in norm(prompts("t1")) or "where did the user move" in norm(prompts("t1"))
    assert "relocate" in prompts("t1")  # synonym variation
    assert "emile" in answers("t2") and "sound engineer" in answers("t2")
    assert "limoncello" in answers("t3")
    assert "48 minutes" in answers("t5") and "2 april 2022" in answers("t5")
    assert "40917" in answers("t7")
    assert any("Lena" in e.prompt or "the user" in e.prompt for e in per["t4"] if e.kind == "qa")


def test_prefixes_stripped_and_fragments_get_subject(examples):
    per = _by_memory(examples)
    rec = {mid: [e.response for e in exs if e.kind == "recitation"] for mid, exs in per.items()}
    assert all(not r.lower().startswith("fyi") for r in rec["t3"])
    assert rec["t3"][0].startswith("Lena's scooter is")
    assert any(r.startswith("Lena prefers replies") for r in rec["t4"])
    assert any("Lena always asks for extra olives" in r for r in rec["t8"])
    assert any(r.startswith("Lena's gym membership number is 40917") for r in rec["t7"])


def test_kinds_filter():
    only_qa = synthesize(MEMORIES, USER, SynthConfig(kinds=["qa"]))
    assert only_qa and {e.kind for e in only_qa} == {"qa"}
    no_qa = synthesize(MEMORIES, USER, SynthConfig(kinds=["cloze", "recitation"]))
    assert {e.kind for e in no_qa} == {"cloze", "recitation"}


def test_qa_cap_keeps_varied_questions():
    capped = synthesize(MEMORIES, USER, SynthConfig(max_qa_per_memory=4, kinds=["qa"]))
    per = _by_memory(capped)
    for exs in per.values():
        assert len(exs) <= 4
    # The cap takes one question per slot before a second wording of any slot.
    t1 = per["t1"]
    assert len({norm(e.response) for e in t1 if "/short" in e.template} | {e.template for e in t1}) >= 3


def test_odd_inputs_do_not_crash():
    out = synthesize(ODD, USER, SynthConfig())
    for ex in out:
        assert set(ex.memory_ids) <= {m.id for m in ODD}
        assert ex.prompt.strip() and ex.response.strip()
    per = _by_memory(out)
    assert "o1" not in per and "o3" not in per
    assert any("Biscuit" in e.response for e in per.get("o4", []))
    assert len(per.get("o5", [])) <= CAP_PER_MEMORY
    assert synthesize([], USER) == []


def test_dataset_build_stats_and_atomic_save(tmp_path):
    ds = build_dataset(MEMORIES, USER, seed=1)
    assert set(ds.column_names) == {"id", "kind", "prompt", "response", "memory_ids", "template"}
    assert len(set(ds["id"])) == len(ds)
    keys = [(m[0] if m else "", k, i) for m, k, i in zip(ds["memory_ids"], ds["kind"], ds["id"], strict=True)]
    assert keys == sorted(keys)
    stats = dataset_stats(ds)
    assert stats["examples"] == len(ds) == sum(stats["by_kind"].values())
    assert set(stats["by_memory"]) == {m.id for m in MEMORIES}
    target = tmp_path / "synth"
    save_dataset(ds, target)
    save_dataset(ds, target)  # overwriting an existing dataset also works
    again = load_dataset_dir(target)
    assert again["id"] == ds["id"] and again["memory_ids"] == ds["memory_ids"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]  # no temp dirs left behind
    assert build_dataset(MEMORIES, USER, seed=1)["id"] == ds["id"]
