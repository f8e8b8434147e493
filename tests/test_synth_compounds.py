"""Possessed noun compounds asked with their head first, and user topics freed by another holder's word.

- "Lena's pool locker code" is also asked as "the code for Lena's pool locker" and "the code for Lena's locker at the
  pool" (data_synth.paraphrase.unfolded); a kind modifier ("street address") is not unfolded.
- "Omar's birthday is 3 May" no longer keeps "When is Lena's birthday?" out of the refusals
  (data_synth.abstention.users_own); "my birthday" still does.

Run: `pytest tests/test_synth_compounds.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

from data_synth.abstention import abstention_examples, users_own
from data_synth.config import SynthConfig
from data_synth.paraphrase import unfolded
from data_synth.qa import QA
from data_synth.rules import synthesize
from memory_lora.records import Memory

USER = "Lena"


def _unfold(question: str, wh: str = "what") -> list[str]:
    return [q.question for q in unfolded(QA(question, "4417", "g", wh))]


def test_a_possessed_compound_is_asked_head_first():
    assert _unfold("What is Lena's pool locker code?") == ["What is the code for Lena's pool locker?",
                                                           "What is the code for Lena's locker at the pool?"]
    assert _unfold("Remind me, what is my library card number?") == [
        "Remind me, what is the number of my library card?", "Remind me, what is the number of my card at the library?"]
    assert _unfold("What's Omar's staff badge number at the lab?") == [
        "What's the number of Omar's staff badge at the lab?"]


def test_only_plain_noun_compounds_with_an_attribute_head_unfold():
    assert _unfold("What is Lena's street address?") == []  # the kind of address, not the address of a street
    assert _unfold("What is Lena's old phone number?") == []  # an adjective is no noun to put after "of"
    assert _unfold("What is Lena's sister Ines's job?") == []
    assert _unfold("Where does Lena's running club meet?") == []
    assert _unfold("Lena's pool locker code is what number?", wh="insitu-what") == []  # echo forms stay as they are


def test_the_synthesizer_teaches_the_head_first_wording_with_the_same_answer():
    mems = [Memory(id="m1", text="My pool locker code is 4417.")]
    out = synthesize(mems, USER, SynthConfig(kinds=["qa", "paraphrase"], max_qa_per_memory=40))
    unfolded_ = [e for e in out if "the code for" in e.prompt]
    assert unfolded_, [e.prompt for e in out]
    assert all("4417" in e.response for e in unfolded_)


def test_another_holder_s_word_does_not_rule_out_the_user_s_topic():
    assert users_own("Omar's birthday is 3 May.", USER) == "Omar's is 3 May."
    assert users_own("My mum's birthday is in June.", USER) == "My mum's is in June."
    assert users_own("Lena's birthday is 3 May.", USER) == "Lena's birthday is 3 May."
    assert users_own("My birthday is 3 May.", USER) == "My birthday is 3 May."
    assert users_own("It's football season, she's my sister.", USER) == "It's football season, she's my sister."

    def asked(texts):
        return [e.prompt for e in abstention_examples(texts, USER, n=400, seed=0)]

    told_of_other = asked(["Omar's birthday is 3 May, he wants a kite."])
    assert any("date of birth" in p and "Omar" not in p for p in told_of_other), told_of_other
    assert not any("date of birth" in p for p in asked(["My birthday is 3 May."]))
