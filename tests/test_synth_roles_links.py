"""Role verbs and two-hop links: "Lena's landlord is Tom" is also asked as "Who does Lena rent from?", and a name
introduced inside a phrase ("her cousin Ada's wedding", "a team called The Owls") is a link for chain-of-thought.

Run: `pytest tests/test_synth_roles_links.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

from data_synth.config import SynthConfig
from data_synth.roles import role_questions
from data_synth.rules import synthesize
from memory_lora.records import Memory

USER = "Lena"


def _prompts(text: str) -> list[str]:
    out = synthesize([Memory(id="m", text=text)], USER, SynthConfig(kinds=["qa", "paraphrase"], max_qa_per_memory=200))
    return [e.prompt for e in out]


def test_a_role_is_also_asked_through_what_the_role_does():
    # in whichever of the user's forms the slot's turn gives it ("Lena", "the user", "I")
    prompts = _prompts("Lena's landlord is Tom Berg.")
    assert {"Who does Lena rent from?", "Who does the user rent from?", "Who do I rent from?"} & set(prompts), prompts
    prompts = _prompts("My manager at Ostro is Kim Lee.")
    assert {"Who does Lena report to?", "Who does the user report to?", "Who do I report to?"} & set(prompts), prompts
    # a role without a verb table entry, and a "who is" that is no role, add nothing
    assert role_questions("Who is Lena's cousin?") == []
    assert role_questions("Who is Tom Berg?") == []
    assert ("Who does Lena see when ill?", "role-doctor0") in role_questions("Who is Lena's GP?")  # any case
    # the owner is kept as asked: a pet's vet is asked about the pet
    assert any("Pip" in q for q, _ in role_questions("Who is Pip's vet?"))


def test_the_role_verb_questions_are_answered_with_the_role_memory():
    out = synthesize([Memory(id="m", text="Lena's dentist is Dr. Ana Ruiz.")], USER,
                     SynthConfig(kinds=["qa", "paraphrase"], max_qa_per_memory=200))
    role = [e for e in out if e.template.startswith("qa/role")]
    assert role and all("Ana Ruiz" in e.response for e in role), [(e.prompt, e.response) for e in out]


def test_cot_links_a_name_given_inside_a_phrase():
    mems = [Memory(id="a", text="On 3 May 2023 Lena attended her cousin Ada's wedding in Porto."),
            Memory(id="b", text="Ada is a geologist studying basalt at a lab in Reykjavik."),
            Memory(id="c", text="On Fridays I play chess with a club called The Rooks."),
            Memory(id="d", text="The Rooks meet at the Old Anchor on Quay Street.")]
    cot = [e for e in synthesize(mems, USER, SynthConfig(kinds=["cot"])) if e.kind == "cot"]
    cousin = [e for e in cot if e.memory_ids == ["a", "b"]]
    assert cousin and all("Lena's cousin" in e.prompt and "Ada" not in e.prompt for e in cousin), cot
    assert all(e.response.startswith(("Lena's cousin is Ada.", "On 3 May 2023 Lena attended her cousin Ada's wedding"))
               for e in cousin)
    club = [e for e in cot if e.memory_ids == ["c", "d"]]
    assert club and all("Lena's club" in e.prompt for e in club), cot
    assert any(e.response.endswith("the Old Anchor.") for e in club), [e.response for e in club]


def test_a_progressive_verb_is_no_job():
    prompts = _prompts("Ada is training for the Oslo marathon in June.")
    assert not any("for a living" in q or "job" in q or "profession" in q for q in prompts), prompts
    assert any("Oslo marathon" not in q and "training for" in q for q in prompts), prompts


def test_a_phrase_link_takes_a_name_with_a_non_ascii_capital():
    mems = [Memory(id="a", text="On 3 May 2023 Lena attended her cousin Øyvind's wedding in Bergen."),
            Memory(id="b", text="Øyvind is a pilot based in Tromsø.")]
    cot = [e for e in synthesize(mems, USER, SynthConfig(kinds=["cot"])) if e.kind == "cot"]
    assert cot and all(e.response.startswith(("Lena's cousin is Øyvind.", "On 3 May 2023 Lena attended her cousin "
                                              "Øyvind's wedding")) for e in cot), cot
