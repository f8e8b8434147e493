"""Named-thing refusals (data_synth/abstention_named.py): asked only for what no memory states, never denying a fact.

Run: HF_HUB_OFFLINE=1 python -m pytest -q tests/test_synth_abstention_named.py
"""

from __future__ import annotations

import re

from data_synth.abstention import abstention_examples
from data_synth.abstention_named import LANGUAGES, PLACES, named_thing_questions
from data_synth.rules import synthesize
from memory_lora.config import SynthConfig
from memory_lora.ingest import Memory

USER = "Maya"


def asked(*texts: str) -> list[str]:
    return [q.replace("{u}", USER) for q in named_thing_questions(list(texts), USER)]


def test_a_race_is_asked_about_with_another_place_never_its_own():
    qs = asked("On 14 May 2024 I ran the Copenhagen half marathon in 1:52:07.")
    swapped = [q for q in qs if "half marathon" in q]
    assert swapped and not any("Copenhagen" in q for q in qs)
    places = {p for q in swapped for p in PLACES if f"the {p} half marathon" in q}
    assert len(places) == 2  # two contrasts per event


def test_a_swapped_place_is_never_one_the_memories_mention():
    qs = asked("I ran the Copenhagen half marathon.", f"I flew to {PLACES[0]} last spring.")
    assert qs and not any(PLACES[0] in q for q in qs)


def test_an_exam_named_by_language_is_swapped_for_another_language_keeping_its_level():
    qs = asked("On 9 February 2024 I passed my Norwegian B2 exam with a score of 78.")
    exams = [q for q in qs if "exam" in q]
    assert exams and all(re.search(rf"the ({'|'.join(LANGUAGES)}) B2 exam", q) for q in exams)
    assert not any("Norwegian" in q for q in exams)


def test_a_month_after_in_is_not_a_place():
    assert not any("in November" in q or "in Bergen" in q for q in asked("Priya is training for the triathlon in "
                                                                         "November."))
    assert any("triathlon in" in q for q in asked("I watched a triathlon in Rotorua."))


def test_a_car_named_by_its_make_gets_only_the_details_no_memory_states():
    qs = asked("Bought a silver 2012 Mazda Demio on 30 March 2024 and named it Biscuit.")
    assert "How much did Maya pay for the Mazda Demio?" in qs
    # silver, bought and named are stated: no colour, where-bought or name refusal
    assert not any(w in q for q in qs for w in ("colour", "buy", "called"))
    priced = asked("Bought a Mazda Demio for $9,000.")
    assert "What colour is the Mazda Demio?" in priced and not any("pay" in q for q in priced)


def test_a_brand_is_asked_only_for_a_thing_no_make_is_given_for():
    assert "What make is the headlamp?" in asked("Teodor's birthday is 17 October, he wants a new headlamp")
    assert not any("make is" in q for q in asked("btw my bike is a mint-green Bianchi called Pesto"))
    # "bicycle" in "a bicycle repair shop" is no bicycle of anyone's
    assert not any("bicycle" in q for q in asked("Maya's father runs a bicycle repair shop in Malmö."))


def test_a_class_keeps_its_description_and_a_stated_teacher_is_not_denied():
    assert "Who teaches the Saturday pottery class?" in asked("Ravi and Sunniva met at a Saturday pottery class.")
    assert not any("teaches" in q for q in asked("I go to a pottery class taught by Ann."))
    assert not any("start" in q for q in asked("The pottery class is at 7pm."))


def test_named_refusals_come_on_top_of_the_draw_and_only_when_asked_for():
    texts = ["I ran the Copenhagen half marathon.", "My sister Åsa lives in Longyearbyen."]
    plain = [e.prompt for e in abstention_examples(texts, USER, n=12, seed=0)]
    named = [e.prompt for e in abstention_examples(texts, USER, n=12, seed=0, named=True)]
    assert named[:len(plain)] == plain
    extra = named[len(plain):]
    assert extra and all("half marathon" in p for p in extra) and len(extra) <= 2 * (12 // 3)


def test_the_config_flag_reaches_the_synthesizer():
    mems = [Memory(id="m1", text="I ran the Copenhagen half marathon in 1:52:07."),
            Memory(id="m2", text="My sister Åsa works as a glacier surveyor.")]
    off = synthesize(mems, USER, SynthConfig())
    on = synthesize(mems, USER, SynthConfig(abstention_named=True))
    def swapped(examples):
        return [e for e in examples if e.kind == "abstention" and any(p in e.prompt for p in PLACES)]

    assert swapped(on) and not swapped(off)
    assert [e for e in on if e.kind != "abstention"] == [e for e in off if e.kind != "abstention"]


def test_no_swaps_keeps_the_make_refusals_and_drops_the_swapped_events():
    texts = ["I ran the Copenhagen half marathon.", "Bought a Mazda Demio on 30 March 2024."]
    swapped = [q for q in named_thing_questions(texts, USER) if any(p in q for p in PLACES)]
    kept = named_thing_questions(texts, USER, swaps=0)
    assert swapped and not any(p in q for q in kept for p in PLACES)
    assert kept == [q for q in named_thing_questions(texts, USER) if q not in swapped]
