"""The user's own pronoun in synthesized text: once the memories show it ("Lena finished her thesis"), a second mention
of the user in one sentence reads "her"/"his" instead of the name again ("Lena broke Lena's wrist" was the old text);
without evidence, or with evidence both ways, the name stays.

Run: `pytest tests/test_synth_pronouns.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

from data_synth.pronouns import user_possessive, with_possessive
from data_synth.rules import synthesize
from memory_lora.records import Memory

USER = "Lena"


def _mems(*texts: str) -> list[Memory]:
    return [Memory(id=f"m{i}", text=t) for i, t in enumerate(texts)]


def test_possessive_read_from_a_memory_that_names_the_user():
    assert user_possessive(["Lena finished her thesis in May."], USER) == "her"
    assert user_possessive(["On 3 May Lena visited his cousin Ola."], USER) == "his"
    assert user_possessive(["Lena's favourite tea is one she buys in Bergen."], USER) == "her"


def test_no_possessive_without_clear_evidence():
    assert user_possessive(["Broke my wrist in 2022.", "Lena likes tea."], USER) is None
    # the pronoun may be someone else's: a person noun or another name stands between
    assert user_possessive(["Lena's sister says she will visit."], USER) is None
    assert user_possessive(["Lena met Tomas and his dog."], USER) is None
    # evidence both ways: keep the name
    assert user_possessive(["Lena finished her thesis.", "Lena sold his bike."], USER) is None


def test_second_mention_in_a_sentence_becomes_the_pronoun():
    assert with_possessive("Lena broke Lena's left wrist. Lena's cat is Tom.", USER, "her") == \
        "Lena broke her left wrist. Lena's cat is Tom."
    assert with_possessive("When did the user break the user's wrist?", USER, "her") == \
        "When did the user break her wrist?"
    assert with_possessive("Lena broke Lena's wrist.", USER, None) == "Lena broke Lena's wrist."


def test_synthesis_uses_the_users_pronoun():
    mems = _mems("Broke my left wrist falling off a paddleboard in August 2022.",
                 "On 4 June 2023 Lena presented her paper in Oslo.")
    texts = [t for ex in synthesize(mems, USER) for t in (ex.prompt, ex.response)]
    assert any("Lena broke her left wrist" in t for t in texts)
    assert not any("Lena broke Lena's" in t for t in texts)
    # the user's own questions still read "my"
    assert any("my left wrist" in t for t in texts)
    # no evidence: the name stays
    plain = synthesize(_mems("Broke my left wrist in August 2022."), USER)
    plain = [t for ex in plain for t in (ex.prompt, ex.response)]
    assert any("Lena broke Lena's left wrist" in t for t in plain)


def test_a_label_before_a_colon_is_not_the_first_mention():
    assert with_possessive("Fill in the blank about Lena: Lena's flat is ___.", USER, "her") == \
        "Fill in the blank about Lena: Lena's flat is ___."


def test_the_users_pronoun_follows_the_person_of_the_text():
    # a memory written about the user by name keeps its "his" when the question is asked as the user
    assert with_possessive("When did I attend his cousin Ola's wedding?", USER, "his") == \
        "When did I attend my cousin Ola's wedding?"
    assert with_possessive("On 3 May you attended his cousin Ola's wedding.", USER, "his") == \
        "On 3 May you attended your cousin Ola's wedding."
    assert with_possessive("Your favourite colour is a deep teal she calls 'fjord green'.", USER, "her") == \
        "Your favourite colour is a deep teal you call 'fjord green'."
    assert with_possessive("My favourite colour is a deep teal she calls 'fjord green'.", USER, "her") == \
        "My favourite colour is a deep teal I call 'fjord green'."
    # someone else's pronoun stays: a name or a person noun stands between
    assert with_possessive("Your cat is called Pixel, she is a tabby.", USER, "her") == \
        "Your cat is called Pixel, she is a tabby."
    assert with_possessive("Your sister says she is coming.", USER, "her") == "Your sister says she is coming."


def test_synthesis_asks_the_user_in_the_first_person_throughout():
    mems = _mems("On 3 May 2023 Lena attended her cousin Ola's wedding in Bergen.")
    texts = [t for ex in synthesize(mems, USER) for t in (ex.prompt, ex.response)]
    assert any("did I attend my cousin" in t for t in texts)
    assert not [t for t in texts if " I attend her" in t or "you attended her" in t]
