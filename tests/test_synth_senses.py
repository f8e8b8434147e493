"""Word senses and pronoun reach in the rules synthesizer: a synonym is swapped only in the sense it shares with the
word ("runs a stall" is not "completes a stall"), a weekday before a noun describes the noun and is no date, and a
"they" that opens a sentence after a relation means the pair.

Run: `pytest tests/test_synth_senses.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

import re

from data_synth.paraphrase import lexical_variants
from data_synth.qa import QA
from data_synth.rules import analyse_memory, synthesize
from data_synth.slots import analyse
from memory_lora.records import Memory

USER = "Lena"


def _variants(question: str) -> list[str]:
    return [v.question for v in lexical_variants(QA(question, "x", "g", "what"), limit=20)]


def test_run_is_complete_only_for_a_race():
    assert not [v for v in _variants("What kind of stall does Omar run at the market?")
                if "complete" in v or " do at" in v], _variants("What kind of stall does Omar run at the market?")
    assert any("complete" in v for v in _variants("When did Lena run the Harbour 10k?"))
    assert not [v for v in _variants("Who runs a bike repair shop in Malmö?") if "completes" in v]


def test_meet_play_and_like_things_done_keep_their_sense():
    assert not [v for v in _variants("Where does Lena's running club meet?") if "get to know" in v]
    assert not [v for v in _variants("When did Lena and Omar meet?") if "got to know" in v or "get to know" in v]
    assert not [v for v in _variants("Where do The Quiz Owls play?") if "perform on" in v]
    assert any("perform" in v for v in _variants("What does Lena play in the band?"))
    assert not [v for v in _variants("What sport was Lena playing when she plays futsal?") if "perform" in v]
    assert not [v for v in _variants("How does Lena like things done at the hotel?") if "like things done" not in v]


def test_have_something_done_is_not_owning_or_keeping_it():
    """"Pixel had two teeth removed" is something done to her: "keep two teeth removed" is nonsense."""
    owning = re.compile(r"\b(?:own|keep|possess)\b")
    causative = _variants("What year did Omar's dog have two teeth removed?")
    assert not [v for v in causative if owning.search(v)], causative
    assert any(owning.search(v) for v in _variants("What kind of dog does Lena have?"))


def test_a_weekday_before_a_noun_describes_it_and_is_no_date():
    kinds = {c.text.rstrip("."): c.kind for c in analyse("Omar met Lena at a Saturday pottery class.", USER).chunks}
    assert kinds.get("a Saturday pottery class") not in (None, "date"), kinds
    assert [c.kind for c in analyse("Lena met Omar on Saturday morning.", USER).chunks if "Saturday" in c.text] == [
        "date"]
    assert [c.kind for c in analyse("Lena sees her physio on Tuesdays.", USER).chunks if "Tuesday" in c.text] == [
        "freq"]


def test_they_after_a_relation_means_the_pair_and_is_never_a_topic():
    mem = Memory(id="f", text="Lena's best friend is Omar Haddad; they met at a Saturday pottery class.")
    an = analyse_memory(mem, USER, dated=False)
    assert [cl.text for cl in an.clauses][-1] == "Lena and Omar Haddad met at a Saturday pottery class", [
        cl.text for cl in an.clauses]
    out = synthesize([mem], USER)
    prompts = [e.prompt for e in out]
    assert not [p for p in prompts if " They" in p or p.startswith("They ")], prompts
    # a pottery class is not a date: no "when"/"which month" question is answered with it
    assert not [e for e in out if e.kind == "temporal" and "pottery" in e.response and "pottery" not in e.prompt
                and e.response.lower().startswith("a saturday")], [(e.prompt, e.response) for e in out]
    assert any("Lena and Omar Haddad met" in e.response for e in out if e.kind == "qa")


def test_the_user_in_a_pair_is_named_last_and_a_second_sentence_opens_with_a_capital():
    from data_synth.normalise import to_second_person
    from data_synth.rules import first_person_question

    assert first_person_question("Which class did Lena and Omar Haddad meet at?", USER) == (
        "Which class did Omar Haddad and I meet at?")
    assert to_second_person("Lena's best friend is Omar. Lena and Omar met at a class.", USER) == (
        "Your best friend is Omar. You and Omar met at a class.")

