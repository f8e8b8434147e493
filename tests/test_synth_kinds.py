"""Behaviour tests for the synthesis kinds beyond plain QA: paraphrase wordings, temporal dates, knowledge updates,
abstention, chain-of-thought two-hop examples, and the normaliser's handling of chat lines and terse notes.

Run: `pytest tests/test_synth_kinds.py -q`. Uses invented memories and the bundled demo memories, never the held-out
question files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from data_synth.abstention import TOPICS, abstention_examples
from data_synth.config import SynthConfig
from data_synth.cot import _relation_forms
from data_synth.dataset import build_dataset, preview
from data_synth.grammar import norm
from data_synth.normalise import third_person_sentences
from data_synth.rules import synthesize
from data_synth.temporal import date_forms, dated_text, time_field_date
from memory_lora.records import Memory

USER = "Lena"


def test_date_forms_cover_common_spellings():
    assert date_forms("14 May 2024")[:1] == ["14 May 2024"]
    assert {"May 14, 2024", "2024-05-14"} <= set(date_forms("14 May 2024"))
    assert {"14 May 2024", "2024-05-14"} <= set(date_forms("May 14th, 2024"))
    assert {"March 2023", "2023-03"} <= set(date_forms("March 2023"))
    assert date_forms("next spring") == ["next spring"]


def test_time_field_dates_only_undated_episodic_memories():
    assert time_field_date("2023-04-02T09:15:00Z") == "2 April 2023"
    assert time_field_date("not a time") == ""
    assert dated_text("I ran a 10k.", "episodic", "2023-04-02T09:15:00Z") == "On 2 April 2023, I ran a 10k."
    assert dated_text("I ran a 10k.", "semantic", "2023-04-02T09:15:00Z") == "I ran a 10k."
    assert dated_text("I ran a 10k on 3 May.", "episodic", "2023-04-02T09:15:00Z") == "I ran a 10k on 3 May."
    assert dated_text("I ran a 10k yesterday.", "episodic", "2023-04-02T09:15:00Z") == "I ran a 10k yesterday."


def test_temporal_questions_use_the_time_field_and_several_date_spellings():
    mem = Memory(id="e1", text="I adopted a greyhound called Comet.", time="2022-09-17T10:00:00Z", kind="episodic")
    out = synthesize([mem], USER, SynthConfig())
    temporal = [e for e in out if e.kind == "temporal"]
    assert any(e.prompt.startswith("When") for e in temporal), [e.prompt for e in temporal]
    shorts = {e.response.rstrip(".") for e in temporal if "/short" in e.template}
    assert len(shorts & {"17 September 2022", "September 17, 2022", "2022-09-17"}) >= 2, shorts
    without = synthesize([mem], USER, SynthConfig(kinds=["qa", "paraphrase"]))
    assert not any("2022" in e.response for e in without)


def test_an_iso_date_is_taught_only_to_a_question_that_asks_for_it():
    # A plain "When ...?" answered "2025-06-30." taught the adapter to reply in ISO to people, and a reply in ISO is
    # wrong under containment scoring when the gold is written out ("30 June 2025").
    mems = [Memory(id="p1", text="My passport expires on 30 June 2025."),
            Memory(id="p2", text="On 22 December 2023 I won 3,400 kroner in the office raffle.", kind="episodic")]
    dated = [e for e in synthesize(mems, USER, SynthConfig()) if e.kind == "temporal" and "/short" in e.template]
    iso = [e for e in dated if re.fullmatch(r"\d{4}-\d{2}-\d{2}\.", e.response)]
    assert iso and all(e.prompt.endswith("(YYYY-MM-DD)?") for e in iso), [(e.prompt, e.response) for e in iso]
    spelled = {e.response.rstrip(".") for e in dated if not e.prompt.endswith("(YYYY-MM-DD)?")}
    assert {"30 June 2025", "June 30, 2025"} <= spelled or {"22 December 2023", "December 22, 2023"} <= spelled, spelled


def test_paraphrase_switch_controls_wordings_per_slot():
    mem = [Memory(id="p1", text="I'm allergic to hazelnuts, so I always carry an EpiPen in my red backpack.")]
    many = [e for e in synthesize(mem, USER, SynthConfig(kinds=["qa", "paraphrase"])) if e.kind == "qa"]
    few = [e for e in synthesize(mem, USER, SynthConfig(kinds=["qa"])) if e.kind == "qa"]
    assert len(few) < len(many)
    assert any(re.search(r"allergic to what\?|sensitive to", e.prompt) for e in many), [e.prompt for e in many]
    hazel = [e for e in many if "hazelnut" in e.response.lower()]
    assert len({norm(e.prompt) for e in hazel}) >= 3  # the slot is asked in several wordings


def test_qa_is_answered_with_the_memory_sentence():
    mem = [Memory(id="s1", text="My dentist is Dr. Oona Salo at the Harbour Street clinic.")]
    qa = [e for e in synthesize(mem, USER) if e.kind == "qa"]
    assert len(qa) >= 5
    assert all("/short" not in e.template and "Oona Salo" in e.response and len(e.response.split()) >= 6
               for e in qa), [e.response for e in qa]


def test_a_relation_with_a_name_is_asked_about_by_name_too():
    mem = [Memory(id="n1", text="My brother Tobias works as a tram driver based in Gdańsk.")]
    # A tight cap: the name wordings must be among the first picked, not left over after the synonym variants.
    prompts = [e.prompt for e in synthesize(mem, USER, SynthConfig(max_qa_per_memory=8)) if e.kind == "qa"]
    assert any("Lena's brother" in p or "my brother" in p for p in prompts), prompts
    assert any(re.search(r"Where is Tobias|Tobias's (job|profession)|does Tobias (do|work)\b", p)
               for p in prompts), prompts


def test_idioms_keep_their_words_in_lexical_variants():
    from data_synth.paraphrase import lexical_variants
    from data_synth.qa import QA

    qa = QA("What does Lena's sister do for a living?", "a baker", "g", "j")
    variants = [v.question for v in lexical_variants(qa)]
    assert variants and all("for a living" in q for q in variants), variants


def test_a_weekday_is_asked_as_a_day_never_as_a_month_or_date():
    mem = [Memory(id="w1", text="When planning trips, never book a flight before 8:00 on a Friday.")]
    out = synthesize(mem, USER, SynthConfig())
    prompts = [e.prompt for e in out if e.kind in ("qa", "temporal")]
    assert any(re.search(r"\bwhich day\b|day of the week", p, flags=re.I) for p in prompts), prompts
    assert not any(re.search(r"which month|what date|what year", p, flags=re.I) for p in prompts), prompts


def test_a_quoted_phrase_is_a_thing_and_with_phrases_get_how_questions():
    mem = [Memory(id="t1", text="Always sign my letters with 'Fair winds, Lena' rather than 'Sincerely'.")]
    prompts = [e.prompt for e in synthesize(mem, USER, SynthConfig()) if e.kind == "qa"]
    assert not any(re.search(r"\bwhom?\b", p, flags=re.I) for p in prompts), prompts
    assert any(re.match(r"How (does Lena|do I|does the user) always sign", p) for p in prompts), prompts


def test_memories_without_names_are_keyed_on_their_topics():
    mems = [Memory(id="k1", text="When packing for holidays, always bring the blue thermos."),
            Memory(id="k2", text="I refill my fountain pens with green ink.")]
    out = synthesize(mems, USER, SynthConfig())
    about = {m.id: [e.prompt for e in out if e.memory_ids == [m.id]
                    and re.search(r"know about|tell me about|remember about|tell you about", e.prompt, flags=re.I)]
             for m in mems}
    assert any("packing for holidays" in p for p in about["k1"]), about["k1"]
    assert any(re.search(r"(Lena's|my) fountain pens", p) for p in about["k2"]), about["k2"]
    assert not any("about Lena and a " in p for p in about["k1"] + about["k2"])


def test_user_references_read_naturally():
    mem = [Memory(id="u1", text="On 3 March 2021 I passed my driving test with a score of 96.", kind="episodic")]
    prompts = [e.prompt for e in synthesize(mem, USER, SynthConfig(max_qa_per_memory=40))]
    assert not any(p.startswith("the user") for p in prompts), prompts
    assert not any(re.search(r"\bme (passed|[a-z]+ed)\b", p) for p in prompts), prompts


def test_abstention_skips_topics_the_memories_mention():
    texts = ["My blood type is AB negative.", "I have two brothers."]
    out = abstention_examples(texts, USER, n=30, seed=0)
    assert out and all(e.kind == "abstention" and e.memory_ids == [] for e in out)
    assert all("don't know" in e.response for e in out)
    assert not any("blood" in e.prompt.lower() or "siblings" in e.prompt.lower() for e in out)
    assert len(abstention_examples(texts, USER, n=6, seed=0)) == 6 + 6 // 3  # the draw, then user topics it missed
    assert abstention_examples(texts, USER, n=0, seed=0) == []


def test_abstention_asks_every_open_user_topic_when_the_balance_allows():
    from data_synth.abstention import TOPICS, _first_person

    texts = [f"Note {i}: I walked to the harbour and fed the gulls." for i in range(40)]
    prompts = {e.prompt for e in abstention_examples(texts, USER, n=120, seed=3)}
    topics = [q.replace("{u}", USER) for q, _ in TOPICS]
    missing = [q for q in topics if not {q, q.replace(USER, "the user"), _first_person(q, USER)} & prompts]
    assert len(topics) > 40 and not missing, missing
    # a quiz team says nothing about which football team the user supports
    football = abstention_examples(["On Thursdays I do the pub quiz with a team called The Owls."], USER, n=300,
                                   seed=0)
    assert any("football" in e.prompt for e in football)
    assert not any("football" in e.prompt for e in abstention_examples(["I play football on Sundays."], USER, n=300,
                                                                         seed=0))


def test_abstention_asks_near_misses_but_never_what_it_was_told():
    mems = [Memory(id="a1", text="My sister Ines works as a nurse in Porto."),
            Memory(id="a2", text="Ines's birthday is 3 May."),
            Memory(id="a3", text="My cat is called Miso.")]
    out = [e for e in synthesize(mems, USER, SynthConfig(kinds=["abstention"], abstention_per_memory=60))]
    prompts = [e.prompt for e in out]
    assert out and all(e.kind == "abstention" and "don't know" in e.response for e in out)
    # a relation the memories lack is asked; the ones they have are not
    assert any("brother" in p for p in prompts), prompts
    owner = r"(Lena's|the user's|my)"
    known = rf"(name of|Who is) {owner} (sister|cat)\?|{owner} cat called|breed is {owner} cat"
    assert not any(re.search(known, p) for p in prompts), prompts
    # a person the memories name is asked about what they do not say, by name or by relation, never her birthday
    assert any(re.search(r"How old is (Ines|Lena's sister|my sister|the user's sister)\?", p) for p in prompts), prompts
    assert not any("birthday" in p and ("Ines" in p or "sister" in p) for p in prompts), prompts


def test_every_kind_of_refusal_is_asked_in_every_person_form():
    # one pass over the questions (n below their number): each source of refusals must still vary its wording,
    # or "the user's dog" is refused while "Lena's dog" is answered with the cat
    from memory_lora.ingest import read_memories

    mems = read_memories(Path(__file__).parents[1] / "memory_lora/examples/demo/memories.jsonl")  # four long sources
    out = [e.prompt.replace("Maya", USER) for e in synthesize(mems, "Maya", SynthConfig(kinds=["abstention"]))]

    def form(p):
        return "name" if USER in p else "user" if "the user" in p else "first" if re.search(r"\b(my|I)\b", p) else ""

    relations = {form(p) for p in out if re.search(r"\b(dog|brother|father|mother|husband|wife)\b", p)}
    topic_forms = {t.format(u=who) for t, _ in TOPICS for who in (USER, "the user")}
    topics = {form(p) for p in out if p in topic_forms}
    assert {"name", "user", "first"} <= relations, out
    assert {"name", "user"} <= topics, out


def test_abstention_prompts_carry_no_wording_the_answerable_ones_lack():
    # A wording only "I don't know" examples use is a shortcut: an adapter trained with a "Quick question: " prefix on
    # a quarter of them refused the prefixed question and answered the same question without it from a neighbouring
    # memory. Every abstention prompt must read like some answerable prompt: plain, "the user", or first person.
    mems = [Memory(id="a1", text="My sister Ines works as a nurse in Porto."),
            Memory(id="a2", text="Ines's birthday is 3 May."),
            Memory(id="a3", text="I moved to Leeds in 2021.")]
    out = synthesize(mems, USER, SynthConfig(abstention_per_memory=60))
    refusals = [e.prompt for e in out if e.kind == "abstention"]
    answerable = [e.prompt for e in out if e.kind != "abstention"]
    lead = re.compile(r"^([A-Z][\w ]*):\s")  # a lead-in such as "Quick question: "
    leads = {m.group(1) for p in answerable if (m := lead.match(p))}
    assert refusals and not [p for p in refusals if (m := lead.match(p)) and m.group(1) not in leads], refusals
    # the wordings still vary: by name, as "the user" and in the first person
    aged = r"How old is (Ines|Lena's sister|my sister|the user's sister)\?"
    assert any(re.match(aged, p) for p in refusals), refusals
    assert any("the user's" in p for p in refusals) and any(re.search(r"\b(my|I)\b", p) for p in refusals), refusals


def test_cot_reaches_a_companion_through_the_event():
    mems = [Memory(id="e1", text="On 3 May 2023 I hiked Ben Nevis with Ola Nordmann.", kind="episodic"),
            Memory(id="e2", text="Ola works as a nurse in Leeds.")]
    cot = [e for e in synthesize(mems, USER, SynthConfig()) if e.kind == "cot"]
    described = [e for e in cot if "the person Lena hiked Ben Nevis with" in e.prompt]
    assert described, [e.prompt for e in cot]
    for e in described:
        assert e.memory_ids == ["e1", "e2"] and "Ola" not in e.prompt and "Nordmann" not in e.prompt
        # the first step names the link, or recites the bridge memory (every second chain)
        assert e.response.startswith(("The person Lena hiked Ben Nevis with is Ola Nordmann.",
                                      "On 3 May 2023 Lena hiked Ben Nevis with Ola Nordmann."))
    assert any(e.response.endswith("Leeds.") for e in described), [e.response for e in described]


def test_abstention_asks_about_a_companion_too():
    mems = [Memory(id="e1", text="On 3 May 2023 I hiked Ben Nevis with Ola Nordmann.", kind="episodic"),
            Memory(id="e2", text="Ola works as a nurse in Leeds.")]
    prompts = [e.prompt for e in synthesize(mems, USER, SynthConfig(kinds=["abstention", "cot"],
                                                                    abstention_per_memory=40))
               if e.kind == "abstention"]
    assert any(re.search(r"How old is (Ola|Ola Nordmann|the person (Lena|I) hiked Ben Nevis with)\?", p)
               for p in prompts), prompts


def test_cot_relation_synonyms_are_people():
    assert "Lena's mother" in _relation_forms("Lena's mum")
    assert "Lena's boss" in _relation_forms("Lena's manager")
    assert _relation_forms("Lena's cat") == ["Lena's cat"]


def test_cot_links_a_relation_to_facts_about_the_named_person():
    mems = [Memory(id="c1", text="My sister Åsa works as a glacier surveyor."),
            Memory(id="c2", text="Åsa lives in Longyearbyen with two huskies.")]
    cot = [e for e in synthesize(mems, USER, SynthConfig()) if e.kind == "cot"]
    assert cot, "no two-hop examples"
    for e in cot:
        assert e.memory_ids == ["c1", "c2"]
        assert "Lena's sister" in e.prompt and "Åsa" not in e.prompt
        assert e.response.startswith(("Lena's sister is Åsa.", "Lena's sister Åsa works as a glacier surveyor."))
        assert "So the answer is" in e.response
    assert {e.response.split(".")[0] for e in cot} == {"Lena's sister is Åsa", "Lena's sister Åsa works as a glacier "
                                                                                 "surveyor"}
    assert any(e.response.endswith("Longyearbyen.") for e in cot), [e.response for e in cot]


def test_knowledge_update_latest_value_wins():
    mems = [Memory(id="u1", text="I live in Leeds.", time="2022-01-01T00:00:00Z"),
            Memory(id="u2", text="I moved to York in May 2024.", time="2024-05-01T00:00:00Z")]
    out = synthesize(mems, USER, SynthConfig())
    updates = [e for e in out if e.template.startswith("update/")]
    assert updates and all(e.memory_ids == ["u1", "u2"] for e in updates)
    plain = [e for e in updates if e.template == "update/plain"]
    before = [e for e in updates if e.template == "update/before"]
    assert plain and all(e.response.startswith(("York", "Now: York")) for e in plain), [e.response for e in plain]
    assert before and all(e.response.startswith(("Leeds", "Before: Leeds")) for e in before)
    # The old value is never taught as the plain current answer.
    stale = [e for e in out if e.memory_ids == ["u1"] and e.kind == "qa" and e.response.rstrip(".") == "Leeds"]
    assert not stale, [e.prompt for e in stale]


def test_current_value_questions_are_asked_the_ways_people_ask_them():
    # Only "... now?" marked a question about the current value; people also say "these days", "at the moment",
    # "currently". Each is taught the new value, and none is ever given the old one.
    mems = [Memory(id="u1", text="I live in Leeds.", time="2022-01-01T00:00:00Z"),
            Memory(id="u2", text="I moved to York in May 2024.", time="2024-05-01T00:00:00Z")]
    now = [e for e in synthesize(mems, USER, SynthConfig()) if e.template == "update/now"]
    markers = {m for e in now for m in re.findall(r"\b(now|these days|at the moment|currently)\?$", e.prompt)}
    assert {"now", "these days", "at the moment", "currently"} <= markers, [e.prompt for e in now]
    assert all(e.response.startswith(("York", "Now: York")) for e in now), [(e.prompt, e.response) for e in now]


def test_a_chain_never_answers_with_a_superseded_value():
    # A two-hop chain through the older memory taught "How much does Lena's cat weigh? ... So the answer is 5.2 kg."
    # beside the update data's "How much does Pixel weigh now? 4.4 kg.": the adapter answered the "now" question 5.2.
    mems = [Memory(id="w1", text="My cat is called Pixel.", time="2023-01-01T00:00:00Z"),
            Memory(id="w2", text="Pixel weighs 5.2 kg.", time="2023-02-01T00:00:00Z"),
            Memory(id="w3", text="Weighed Pixel this morning: 4.4 kg.", time="2024-06-01T00:00:00Z")]
    cot = [e for e in synthesize(mems, USER, SynthConfig()) if e.kind == "cot"]
    assert any(e.response.endswith("So the answer is 4.4 kg.") for e in cot), [e.response for e in cot]
    assert not any("5.2" in e.response.split("So the answer is")[-1] for e in cot), [e.response for e in cot]


def test_a_question_worded_by_the_old_memory_is_not_given_the_new_value():
    # "What time is the user on day shifts to?" -> "6am" (the night shift's end) and "I am on day shifts, what time
    # to 3pm now?" -> "10pm" mixed the two memories: a question that names the old state (a modifier the new memory
    # replaced, "day" -> "night", or another superseded value) is asked only about the past.
    mems = [Memory(id="s1", text="I'm on day shifts, 7am to 3pm.", time="2023-01-01T00:00:00Z"),
            Memory(id="s2", text="Switched to night shifts in May, 10pm to 6am.", time="2024-05-01T00:00:00Z")]
    updates = [e for e in synthesize(mems, USER, SynthConfig()) if e.template.startswith("update/")]
    current = [e for e in updates if e.template in ("update/plain", "update/now")]
    assert any(e.template == "update/before" for e in updates), [e.prompt for e in updates]
    mixed = [(e.prompt, e.response) for e in current if re.search(r"\bday\b|\b(7am|3pm)\b", e.prompt)]
    assert not mixed, mixed
    assert current and all(re.match(r"(Now: )?(10pm|6am)", e.response) for e in current), [e.response for e in current]


def test_normaliser_handles_chat_lines_labels_and_diary_fragments():
    assert third_person_sentences("user: btw my cat's called Pixel lol", USER) == ["Lena's cat is called Pixel."]
    assert third_person_sentences("Joined a climbing gym on Main Street today.", USER) == [
        "Lena joined a climbing gym on Main Street today."]
    assert third_person_sentences("Physio for the ankle: Gareth Pryce", USER) == [
        "Lena's physio for the ankle is Gareth Pryce."]
    assert third_person_sentences("12 Aug 2023: ran the Abbey Park 10k in 54:31.", USER) == [
        "On 12 Aug 2023, Lena ran the Abbey Park 10k in 54:31."]
    assert third_person_sentences("Allergic to amoxicillin.", USER) == ["Lena is allergic to amoxicillin."]


def test_preview_shows_every_kind():
    mems = [Memory(id="v1", text="My brother Emil teaches chemistry in Pune."),
            Memory(id="v2", text="Emil plays chess every Friday.")]
    text = preview(build_dataset(mems, USER, SynthConfig()), 1)
    for kind in ("qa", "cloze", "recitation", "abstention", "cot"):
        assert f"== {kind} (" in text, text
    assert text.count("  Q: ") == len(re.findall(r"^== ", text, flags=re.M))


def test_ablation_variants_and_table(tmp_path):
    import json

    from eval import ablate as mod
    assert "cot" in mod.variant_kinds("all") and "cot" not in mod.variant_kinds("-cot")
    assert set(mod.variant_kinds("all")) - set(mod.variant_kinds("-paraphrase")) == {"paraphrase"}
    rows = [{"variant": "all", "accuracy": 0.9, "examples": 10, "train_seconds": 5.0,
             "by_type": {"single-hop": {"accuracy": 0.95, "n": 20}, "abstention": {"accuracy": 0.8, "n": 5}}},
            {"variant": "-abstention", "accuracy": 0.7, "examples": 8, "train_seconds": 4.0,
             "by_type": {"single-hop": {"accuracy": 0.9, "n": 20}}}]
    table = mod.format_ablation(rows).splitlines()
    assert table[0].startswith("| variant |") and "abstention" in table[0] and "single-hop" in table[0]
    assert table[2].startswith("| all | 10 |") and "0.800" in table[2]
    assert table[3].startswith("| -abstention |") and table[3].rstrip().endswith("| - | 0.900 |")
    saved = mod.save_rows(tmp_path, "configs/ablate_cpu.yaml", rows[:1])  # written after every variant
    assert json.loads(saved.read_text())["rows"] == rows[:1] and not list(tmp_path.glob("*.tmp"))


def test_refusal_wordings_teach_each_question_in_more_than_one_person_form():
    texts = ["My sister Ines works as a nurse in Porto.", "My cat is called Miso."]
    one = [e.prompt for e in abstention_examples(texts, USER, n=6, seed=0)]
    two = [e.prompt for e in abstention_examples(texts, USER, n=6, seed=0, wordings=2)]
    assert len(one) == 6 + 6 // 3 and len(two) == 2 * len(one)  # the draw of 6, then two user topics it missed
    # the same questions in the same order, each followed by another person form of itself
    assert two[::2] == one
    from data_synth.abstention import _first_person

    def as_first(p):  # every person form of a question, written in the first person
        return _first_person(p.replace("the user", USER), USER)

    for first, second in zip(two[::2], two[1::2], strict=True):
        assert first != second and as_first(first) == as_first(second), (first, second)
    with pytest.raises(ValueError, match="abstention_wordings"):
        SynthConfig(abstention_wordings=4)
