"""Two-hop chains that reach a person through what a memory says they are or do (`synth.cot_descriptions`).

Run: `pytest tests/test_synth_descriptions.py -q`. Invented memories only.
"""

from __future__ import annotations

from data_synth.descriptions import describe_people
from data_synth.rules import analyse_memory, synthesize
from memory_lora.config import SynthConfig
from memory_lora.records import Memory

USER = "Lena"


def _analysed(mems: list[Memory]):
    return [(m.id, analyse_memory(m, USER).clauses) for m in mems]


def test_people_are_described_by_role_possession_and_deed():
    mems = [Memory(id="d1", text="Ada is a marine biologist."),
            Memory(id="d2", text="Kofi's signature dish is jollof rice."),
            Memory(id="d3", text="Bram runs a spice stall at the market."),
            Memory(id="d4", text="I run a book club on Fridays.")]
    found = {(name, text) for name, text, _ in describe_people(_analysed(mems), USER)}
    assert ("Ada", "the marine biologist") in found, found
    assert ("Kofi", "the person whose signature dish is jollof rice") in found, found
    assert ("Bram", "the person who runs a spice stall") in found, found
    assert not [t for name, t in found if name == USER], found  # the user is in every memory: never a bridge


def test_a_description_two_people_share_is_dropped_and_things_keep_only_their_role():
    mems = [Memory(id="a", text="Ada is a nurse."), Memory(id="b", text="Ola is a nurse."),
            Memory(id="c", text="Pixel is a tabby."), Memory(id="d", text="Pixel weighs 5 kg.")]
    found = {(name, text) for name, text, _ in describe_people(_analysed(mems), USER, things={"Pixel"})}
    assert not [f for f in found if f[1] == "the nurse"], found
    assert ("Pixel", "the tabby") in found and not [f for f in found if f[1].startswith("the person")], found


def test_chains_cross_by_description_only_when_asked():
    mems = [Memory(id="c1", text="Lalitha's signature dish is pineapple rasam."),
            Memory(id="c2", text="Lalitha lives in Coimbatore.")]
    on = [e for e in synthesize(mems, USER, SynthConfig(cot_descriptions=True)) if e.kind == "cot"]
    described = [e for e in on if "the person whose signature dish is pineapple rasam" in e.prompt]
    assert described, [e.prompt for e in on]
    for e in described:
        assert "Lalitha" not in e.prompt and e.memory_ids == ["c1", "c2"]
        assert e.prompt[0].isupper() and e.response.endswith("So the answer is Coimbatore.")
        assert e.response.startswith(("The person whose signature dish is pineapple rasam is Lalitha.",
                                      "Lalitha's signature dish is pineapple rasam."))
    off = synthesize(mems, USER, SynthConfig())
    assert not [e for e in off if "signature dish is pineapple rasam" in e.prompt and e.kind == "cot"]
    # the flag only adds: everything the default writes is still there
    assert {(e.prompt, e.response) for e in off} <= {(e.prompt, e.response) for e in
                                                     synthesize(mems, USER, SynthConfig(cot_descriptions=True))}


def test_a_description_never_lands_inside_a_possessive_phrase_or_gives_the_answer_away():
    mems = [Memory(id="w1", text="On 27 December 2023 I attended my cousin Divya's wedding in Kochi.",
                   kind="episodic"),
            Memory(id="w2", text="Divya is a marine biologist at a research station in Lakshadweep.")]
    prompts = [e.prompt for e in synthesize(mems, USER, SynthConfig(cot_descriptions=True)) if e.kind == "cot"]
    assert not [p for p in prompts if "cousin the" in p], prompts
    # "the marine biologist at a research station" names the station: never asked where the station is through it
    assert not [p for p in prompts if "research station" in p and p.startswith("Where")], prompts


def test_a_relative_named_with_an_adjective_is_still_a_person():
    # "Lena's older brother" once counted as a thing (only bare "brother" is a person noun), so Kabir lost his deed
    mems = [Memory(id="k1", text="My older brother is Kabir."),
            Memory(id="k2", text="Kabir runs a spice stall at the market."),
            Memory(id="k3", text="Kabir lives in Auckland.")]
    prompts = [e.prompt for e in synthesize(mems, USER, SynthConfig(cot_descriptions=True)) if e.kind == "cot"]
    assert any("the person who runs a spice stall" in p for p in prompts), prompts
