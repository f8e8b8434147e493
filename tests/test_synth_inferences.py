"""Inferred questions: what follows from a memory's shape ("works at X" -> "Who is Lena's employer?"), old values
asked as "used to" / "old", and no "I don't know" taught for an address the memories give.

Run: `pytest tests/test_synth_inferences.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

from data_synth.config import SynthConfig
from data_synth.rules import synthesize
from memory_lora.records import Memory

USER = "Lena"
WIDE = SynthConfig(kinds=["qa", "paraphrase", "temporal"], max_qa_per_memory=400)


def _qa(texts: list[str], config: SynthConfig = WIDE) -> dict[str, list[str]]:
    mems = [Memory(id=f"m{i}", text=t, time=f"2024-0{i + 1}-01T00:00:00Z") for i, t in enumerate(texts)]
    out: dict[str, list[str]] = {}
    for e in synthesize(mems, USER, config):
        out.setdefault(e.prompt, []).append(e.response)
    return out


def _find(qa: dict[str, list[str]], *words: str) -> list[str]:
    return [q for q in qa if all(w in q.lower() for w in words)]


def test_relations_that_follow_from_a_clause_are_asked_and_answered_from_it():
    qa = _qa(["Lena works as a baker at Crumb Street Bakery.",
              "Lena's book club meets at the Blue Lantern on Harbour Road.",
              "Pip's vet is Dr. Omar Haddad at Fernhill Vets.",
              "Lena's new place is 9 Linden Crescent.",
              "Note: allergic to penicillin."])
    # (words the question has, in any of the user's forms "Lena" / "I" / "the user", answer)
    expect = [(("employer",), "Crumb Street Bakery"), (("street", "blue lantern"), "Harbour Road"),
              (("where does dr. omar haddad work",), "Fernhill Vets"), (("address",), "9 Linden Crescent"),
              (("antibiotic", "never be given"), "penicillin")]
    for words, answer in expect:
        hits = _find(qa, *words)
        assert hits, (words, sorted(qa))
        assert all(answer.lower() in r.lower() for q in hits for r in qa[q]), (words, hits)


def test_a_superseded_employer_and_number_are_asked_as_old_and_current():
    qa = _qa(["Lena works as a baker at Crumb Street Bakery.", "First day as head baker at Rye & Co today.",
              "My mobile is 07700 900123.", "New SIM, my number is now 021 555 0456."])
    # the plain employer question gets the new value, a "used to" one the old
    plain = [q for q in _find(qa, "employer") if not any(w in q for w in ("use to", "before", "previously", " old "))]
    assert plain and all("Rye & Co" in r for q in plain for r in qa[q]), plain
    used = [q for q in qa if "use to" in q and "work" in q]
    assert used and all("Crumb Street Bakery" in r for q in used for r in qa[q]), used
    # the old number's last digits are asked as "old", the new number's without
    old = [q for q in qa if "four digits" in q and " old " in q]
    assert old and all("0123" in r for q in old for r in qa[q]), sorted(qa)
    new = [q for q in qa if "four digits" in q and " old " not in q]
    assert new and all("0456" in r for q in new for r in qa[q]), new


def test_no_i_dont_know_is_taught_for_an_address_the_memories_give():
    mems = [Memory(id=f"m{i}", text=t) for i, t in enumerate(["New place is 9 Linden Crescent.", "I like tea.",
                                                              "My sister is Ada.", "I run on Sundays."])]
    cfg = SynthConfig(kinds=["abstention"], abstention_per_memory=50.0)
    prompts = [e.prompt.lower() for e in synthesize(mems, USER, cfg)]
    assert prompts and not any("home address" in p for p in prompts)
    # without a street the question is still taught as unknown
    mems[0] = Memory(id="m0", text="I moved house last week.")
    prompts = [e.prompt.lower() for e in synthesize(mems, USER, cfg)]
    assert any("home address" in p for p in prompts)


def test_a_bound_is_asked_as_earliest_time():
    qa = _qa(["Never book me anything before 10:15 on a Friday."])
    hits = [q for q in qa if "earliest" in q]
    assert hits and all("10:15" in r for q in hits for r in qa[q]), sorted(qa)


def test_a_switch_to_something_names_no_kind():
    # "switched to Vodafone" says nothing about what the place in the next sentence is
    qa = _qa(["Switched to Vodafone last week. I eat lunch at the Blue Lantern now."])
    assert not any(q.startswith(("Which to ", "What is Lena's to")) for q in qa), sorted(qa)
    qa = _qa(["Switched dentists: I see Dr. Mia Holt at Fernhill Dental now."])
    assert _find(qa, "which dentist"), sorted(qa)


def test_inferred_wordings_are_kept_past_the_qa_cap():
    # Ravi's seed-2 miss: the cap cut "What street does Ravi live on?" and "... house address?" from a memory with many
    # slots, leaving three prompts that bridge "new place" to "address" against seven refusals about email addresses.
    text = ("Landed in Hamilton, New Zealand on 2 March 2024 with my cat and two suitcases, moved here for good. "
            "New place is 9 Linden Crescent.")

    def bridging(qa: dict[str, list[str]]) -> list[str]:
        return [q for q in qa if any(w in q.lower() for w in ("address", "street", "road"))]

    wide = bridging(_qa([text]))
    assert len(wide) >= 4, wide
    capped_qa = _qa([text], SynthConfig(kinds=["qa", "paraphrase", "temporal"], max_qa_per_memory=12))
    capped = bridging(capped_qa)
    # the same wordings, each in whichever person form its turn drew ("Lena" / "I" / "the user")
    assert len(capped) == len(wide), (sorted(wide), sorted(capped))
    assert all(any("9 Linden Crescent" in r for r in capped_qa[q]) for q in capped)
    # the clause's own questions still obey the cap
    assert len(capped_qa) - len(capped) <= 12
