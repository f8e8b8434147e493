"""Synthesizer rules for kinds of things, roles, time ranges, what the user was doing, where events were, new
measurements that supersede old ones, and "I don't know" for unstated details of mentioned things.

Run: `pytest tests/test_synth_slots_extra.py -q`. Uses invented memories only, never the held-out question files.
"""

from __future__ import annotations

import re

from data_synth.abstention import abstention_examples
from data_synth.categories import category
from data_synth.config import SynthConfig
from data_synth.rules import synthesize
from data_synth.slots import analyse, noun_head
from memory_lora.records import Memory

USER = "Lena"


def _qa(text: str, **kw) -> list[tuple[str, str]]:
    out = synthesize([Memory(id="m", text=text, **kw)], USER)
    return [(e.prompt, e.response) for e in out if e.kind in ("qa", "temporal")]


def test_brands_and_drugs_are_asked_by_their_kind():
    assert category("a blue 2015 Toyota Yaris") == "car" and category("Lena's sister") == ""
    assert noun_head("a blue 2015 Toyota Yaris") == "car"
    assert noun_head("penicillin") == "antibiotic"
    assert noun_head("a tiny shop") == "shop"  # a common-noun head is kept
    prompts = [q for q, _ in _qa("Bought a blue 2015 Toyota Yaris in 2021 and named it Pickle.")]
    assert any("Lena's car" in q and ("called" in q or "name" in q) for q in prompts), prompts
    prompts = [q for q, _ in _qa("Note: allergic to penicillin.")]
    assert any(q.startswith(("Which antibiotic", "What antibiotic")) for q in prompts), prompts


def test_a_later_role_supersedes_the_earlier_one():
    mems = [Memory(id="a", text="Lena works as a baker at Crumb & Co.", time="2022-01-01T00:00:00Z"),
            Memory(id="b", text="First day today as head baker at Flour Power (3 May 2024).",
                   time="2024-05-03T00:00:00Z")]
    out = synthesize(mems, USER)
    role = [e for e in out if e.template.startswith("update/") and "head baker" in e.response
            and e.response.startswith(("Now: head baker", "Head baker"))]
    assert role, [(e.prompt, e.response) for e in out if e.template.startswith("update/")]
    before = [e for e in out if e.template == "update/before" and e.response.startswith(("Before: a baker", "A baker"))]
    assert before


def test_a_time_range_gives_start_end_and_span_questions():
    pairs = _qa("I'm on late shifts, 2pm to 10pm.")
    asked = {q: a for q, a in pairs}
    start = [q for q in asked if "start" in q or "begin" in q]
    end = [q for q in asked if "end" in q or "finish" in q]
    span = [q for q in asked if "hours" in q or "From when" in q]
    assert start and end and span, list(asked)
    assert all("2pm" in asked[q] for q in start) and all("10pm" in asked[q] for q in end)


def test_what_the_user_was_doing_is_its_own_slot():
    cl = analyse("Lena sprained her wrist skiing in Tignes", USER)
    assert ("", "her wrist") in [(c.prep, c.text) for c in cl.chunks]
    assert any(c.participle == "skiing" for c in cl.chunks)
    prompts = [q for q, _ in _qa("Hurt my wrist playing netball on 3 March 2024.")]
    assert any(q.startswith("What was") and "playing when" in q and "hurt" in q for q in prompts), prompts
    # Nouns that end in -ing are not activities.
    assert not any(c.participle for c in analyse("Lena painted the ceiling on Sunday", USER).chunks)


def test_an_attended_event_is_asked_where_it_took_place():
    prompts = [q for q, _ in _qa("On 4 June 2023 Lena attended her friend Asha's graduation in Leeds.")]
    assert "Where did Asha's graduation take place?" in prompts, prompts


def test_negative_instructions_and_labelled_instructions_read_as_the_users_habits():
    from data_synth.normalise import third_person_sentences

    assert third_person_sentences("Don't call me before 9am on Sundays, that's my lie-in.", USER) == [
        "Lena never calls Lena before 9am on Sundays, because that is Lena's lie-in."]
    assert third_person_sentences("Invoices: send them the day before at noon, not on the day.", USER) == [
        "Lena sends Lena's invoices on the day before at noon rather than on the day."]


def test_a_weekday_with_a_part_of_day_is_a_day_and_verbs_keep_verb_synonyms():
    pairs = _qa("Never schedule anything for me on Friday mornings.")
    asked = {q: a for q, a in pairs}
    # answered short or with the sentence, as the slot's turn gives it; either way the day is the answer
    assert any(q.startswith("On which morning") and "Friday" in asked[q] for q in asked), list(asked)
    assert not any("month" in q for q in asked)
    prompts = [q for q, _ in _qa("Don't book anything for me on Tuesday nights.")]
    assert prompts and not any("novel" in q for q in prompts)


def test_a_modal_synonym_never_follows_do_support():
    from data_synth.paraphrase import lexical_variants
    from data_synth.qa import QA

    variants = [v.question for v in lexical_variants(QA("What does Lena hate?", "coriander", "g", "sent1"))]
    assert variants and not any("does Lena can't" in q for q in variants), variants
    assert any("dislike" in q for q in variants)


def test_a_new_measurement_in_the_same_unit_supersedes_the_old_one():
    mems = [Memory(id="w1", text="Biscuit weighs 5.2 kg. The vet says she needs a diet.", time="2023-05-06T11:30:00Z"),
            Memory(id="w2", text="Weighed Biscuit this morning: 4.4 kg.", time="2024-08-24T09:20:00Z")]
    out = synthesize(mems, USER, SynthConfig())
    plain = [e for e in out if e.template == "update/plain"]
    before = [e for e in out if e.template == "update/before"]
    assert plain and all(e.response.startswith(("4.4 kg", "Now: 4.4 kg")) for e in plain), [e.response for e in plain]
    assert before and all(e.response.startswith(("5.2 kg", "Before: 5.2 kg")) for e in before), before
    # another unit is another measurement: no update
    other = [Memory(id="w1", text="Biscuit weighs 5.2 kg.", time="2023-05-06T11:30:00Z"),
             Memory(id="w2", text="Measured Biscuit this morning: 48 cm.", time="2024-08-24T09:20:00Z")]
    assert not [e for e in synthesize(other, USER, SynthConfig()) if e.template.startswith("update/")]


def test_abstention_denies_unstated_details_of_mentioned_things_only():
    texts = ["I buy my bread at a bakery near the station.", "My driving test is on 3 May.",
             "On Fridays I do the pub quiz with The Owls.", "The Owls play at the Fox on Mill Street."]
    prompts = [e.prompt for e in abstention_examples(texts, USER, n=400, seed=0)]
    # a detail no memory states is asked about the thing, in some wording
    assert any("address of the bakery?" in p for p in prompts), prompts
    assert any("points did" in p and "in the driving test?" in p for p in prompts), prompts
    # a detail stated one hop away (the quiz team's pub is on Mill Street) is never denied
    assert not any("address of the pub" in p for p in prompts), prompts
    # no kind of thing the memories never mention
    assert not any("the flight" in p or "the wedding" in p for p in prompts), prompts
    # a named place may carry its street in its name ("the Mill Lane clinic"); a sentence's "The clinic" does not
    named = [e.prompt for e in abstention_examples(["We use the Sjøgata clinic."], USER, n=400, seed=0)]
    plain = [e.prompt for e in abstention_examples(["The clinic is near us."], USER, n=400, seed=0)]
    assert not any("address of the clinic" in p for p in named), named
    assert any("address of the clinic" in p for p in plain), plain


def test_abstention_names_a_described_thing_as_the_memory_does():
    texts = ["On 2 May 2024 I presented my kelp growth paper at a conference in Reykjavík.",
             "On 3 June 2024 I ran the Leeds half marathon in 1:52:07.",
             "Priya is training for the Lake Karapiro triathlon in November.",
             "On 27 December 2023 Lena attended her cousin Divya's wedding in Kochi."]
    prompts = [e.prompt for e in abstention_examples(texts, USER, n=400, seed=0)]
    # the thing is named as described, with its place but never a month; the owner once
    assert any(re.search(r"title of (my|Lena's|the user's) kelp growth paper\?", p) for p in prompts), prompts
    assert any("at the conference in Reykjavík?" in p for p in prompts), prompts
    assert any("finishing time in the Lake Karapiro triathlon?" in p for p in prompts), prompts
    assert not any("triathlon in November" in p or "Lena's" in p and p.count("Lena") > 1 for p in prompts), prompts
    # a time the memory states is never denied; a possessive inside the phrase falls back to the bare word
    assert not any("finishing time in the Leeds half marathon" in p for p in prompts), prompts
    assert any("place did" in p and "the Leeds half marathon?" in p for p in prompts), prompts
    assert not any("cousin Divya's wedding" in p for p in prompts) and any("the wedding?" in p for p in prompts)


def test_abstention_asks_first_about_the_counterpart_of_a_known_relation():
    # asked about a father when only a mum is mentioned, adapters answered with the mum's name
    texts = ["My mum, Lalitha, still lives in Coimbatore.", "My cat is called Pixel."]
    prompts = [e.prompt for e in abstention_examples(texts, USER, n=24, seed=0)]
    near = [p for p in prompts if re.search(r"\b(father|dog)\b", p)]
    assert len(near) >= 6, prompts  # 2 relations x 4 questions, a quarter of the mix, before any other relation
    assert not any(re.search(r"\b(mother|mum|cat)\b", p) for p in prompts), prompts


def test_a_refusal_about_a_relative_never_reads_like_an_answerable_question_about_the_user():
    # "Which university did Maya's mother go to?" -> "I don't know" sat one word from "Which university did Maya
    # go to?", and the demo adapter refused that answerable question. A topic the memories answer for someone is
    # asked of another person by name only.
    mems = [Memory(id="a1", text="My sister Ines works as a nurse in Porto."),
            Memory(id="a2", text="I studied history at the University of Leeds.")]
    prompts = [e.prompt for seed in range(4)  # the way a person is named is drawn per question: several draws
               for e in synthesize(mems, USER, SynthConfig(kinds=["abstention"], abstention_per_memory=80), seed=seed)]
    assert any(re.search(r"Which university did Ines go to\?", p) for p in prompts), prompts
    assert not any(re.search(r"university did (Lena's|my|the user's) sister", p) for p in prompts), prompts
    # a topic no memory answers is still asked through the relation too
    assert any(re.search(r"How old is (Lena's|my|the user's) sister\?", p) for p in prompts), prompts


def test_a_named_pet_is_asked_what_kind_of_animal_it_is_never_its_job():
    qa = _qa("btw my dog's called Biscuit, he's a border collie, 4 yrs old lol")
    prompts = [q for q, _ in qa]
    person_only = r"job|profession|for a living|kind of work|occupation|^Who is"
    assert not any(re.search(person_only, q) for q in prompts), prompts
    kinds = {q: a for q, a in qa if q.startswith("What kind of dog")}
    assert "What kind of dog is Biscuit?" in kinds and "border collie" in kinds["What kind of dog is Biscuit?"]
    owner = r"What kind of dog (?:does Lena|does the user|do I) (?:have|own|keep)\?"
    assert any(re.fullmatch(owner, q) for q in kinds), kinds
    ages = {q: a for q, a in qa if q.startswith("How old is")}
    assert "How old is Biscuit?" in ages and "4" in ages["How old is Biscuit?"], qa
    # a person named the same way keeps the job questions
    prompts = [q for q, _ in _qa("My sister is called Greta, she's a glacier surveyor.")]
    assert any("Greta" in q and ("job" in q or "for a living" in q) for q in prompts), prompts


def test_a_verb_in_progress_is_asked_as_one():
    clause = analyse("Ola is training for the Oslo triathlon in November", USER)
    assert (clause.aux, clause.verb, clause.copula) == ("is", "training", False)
    qa = dict(_qa("Ola is training for the Oslo triathlon in November."))
    assert "What is Ola training for?" in qa, sorted(qa)
    assert qa.get("In which month is Ola training for the Oslo triathlon?") in ("November.", "Ola is training for the "
                                                                              "Oslo triathlon in November."), sorted(qa)
    assert not any("in what date" in q for q in qa), sorted(qa)  # a month alone is asked as a month
    # -ing adjectives and -ing nouns stay the complement of "is"
    assert analyse("The view from the flat is stunning", USER).copula
    assert analyse("Lena's favourite activity is running", USER).copula


def test_an_answer_inside_a_longer_token_is_taught_as_itself():
    qa = dict(_qa("Lena's mobile is 07700 900123."))
    digits = {q: a for q, a in qa.items() if "four digits" in q or "end in" in q}
    assert digits and set(digits.values()) == {"0123."}, sorted(qa.items())
    # the number itself is a whole token of the sentence, so it is still answered with the sentence
    assert any(a == "Lena's mobile is 07700 900123." for q, a in qa.items() if q not in digits), sorted(qa.items())


def test_an_old_value_is_asked_by_its_month_and_what_else_held_then():
    mems = [Memory(id="a", text="Biscuit weighs 31 kg. The vet says he needs a diet.", time="2023-05-06T11:30:00Z"),
            Memory(id="b", text="Weighed Biscuit this morning: 27 kg.", time="2024-08-24T09:20:00Z")]
    asked = [(e.prompt, e.response) for e in synthesize(mems, USER) if e.template == "update/before"]
    before = dict(asked)
    anchored = {q: a for q, a in before.items() if "in May 2023" in q or " when " in q}
    assert any(q.endswith("weigh in May 2023?") for q in anchored), sorted(before)
    assert any(q.endswith("weigh when the vet said he needed a diet?") for q in anchored), sorted(before)
    assert all("31 kg" in a and "27 kg" not in a.split("Later")[0] for a in anchored.values()), anchored
    # no anchored question is asked twice, and the new value is never asked with an anchor
    assert sum(q in anchored for q, _ in asked) == len(anchored), asked
    assert not any("August 2024" in q for q in before), sorted(before)


def test_the_dataset_command_reads_each_memory_s_time(tmp_path):
    from data_synth.dataset import _main, load_dataset_dir

    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "e", "text": "Ran the Oslo half marathon.", "time": "2023-04-02T09:15:00Z", '
                    '"kind": "episodic"}\n', encoding="utf-8")
    assert _main([str(path), USER, str(tmp_path / "ds")]) == 0
    responses = load_dataset_dir(tmp_path / "ds")["response"]
    assert any("2 April 2023" in r for r in responses), responses  # the episodic memory is dated from its time


def test_the_dataset_command_names_the_bad_line_in_one_line_and_writes_nothing(tmp_path, capsys):
    from data_synth.dataset import _main

    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "text": "I live in Oslo."}\n{oops\n', encoding="utf-8")
    assert _main([str(path), USER, str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}:2:" in err, err  # file and line, no traceback
    assert not (tmp_path / "ds").exists()


def test_a_when_clause_is_told_in_the_past_without_the_date_in_front():
    from data_synth.updates import past_clause

    assert past_clause("Leicester vet says she needs a diet.") == "Leicester vet said she needed a diet"
    assert past_clause("On 2 April 2023, the club meets on Fridays.") == "the club met on Fridays"
    assert past_clause("Ravi went to Kochi.") == ""  # nothing present to turn: no "when" question from it


def test_abstention_asks_about_every_described_thing_of_a_kind_not_only_the_first():
    # "the tiny shop" took every shop question, and the father's bicycle repair shop got none: the demo adapter then
    # answered "Which street is ...'s bicycle repair shop on?" with the father's memory on every seed
    texts = ["My favourite tea comes from a tiny shop called Teblad.",
             "My father runs a bicycle repair shop in Malmö."]
    prompts = [e.prompt for e in abstention_examples(texts, USER, n=400, seed=0)]
    assert any("address of the tiny shop?" in p for p in prompts), prompts
    assert any("address of the bicycle repair shop in Malmö?" in p for p in prompts), prompts
    # a detail one of them states is still never denied of either ("runs" answers who owns a shop)
    assert not any(p.startswith("Who owns the") for p in prompts), prompts


def test_a_detail_refusal_names_the_thing_with_its_memory_context():
    # a refusal that names the thing bare never met the owner's name and verb that the question carried
    mems = [Memory(id="s1", text="My father, Chidi Okonkwo, runs a bicycle repair shop in Malmö."),
            Memory(id="s2", text="On 2 May 2024 I presented my kelp growth paper at a conference in Reykjavík.")]
    prompts = [e.prompt for e in synthesize(mems, USER, SynthConfig(kinds=["abstention"], abstention_per_memory=80))]
    shop = [p for p in prompts if "bicycle repair shop" in p]
    assert any(re.search(r"shop (Lena's|my|the user's) father runs in Malmö", p) for p in shop), shop
    assert any("Chidi Okonkwo's bicycle repair shop" in p for p in shop), shop
    assert any("kelp growth paper Lena presented at a conference" in p for p in prompts), prompts
    # never a detail the memory states: who runs the shop is known
    assert not any(p.startswith("Who owns") and "shop" in p for p in prompts), prompts


def test_described_as_builds_a_relative_clause_and_a_possessive_from_a_clause():
    from data_synth.described import described_as
    from data_synth.slots import analyse

    cl = analyse("Maya's father, Chidi Okonkwo, runs a bicycle repair shop in Malmö.", "Maya")
    assert described_as("shop", [cl]) == ["the bicycle repair shop Maya's father runs in Malmö",
                                          "Chidi Okonkwo's bicycle repair shop"]
    assert described_as("car", [cl]) == []  # not the clause's object
    cl = analyse("On 14 May 2024 Maya ran the Copenhagen half marathon in 1:52:07.", "Maya")
    assert described_as("marathon", [cl]) == ["the Copenhagen half marathon Maya ran"]  # a time places nothing


def test_a_specific_plant_or_breed_is_also_asked_about_by_its_kind():
    # asked about "the plant at Maya's workplace", every demo adapter refused: the data only said "monstera"
    qa = _qa("Water the office monstera with exactly 350 ml every tenth day.")
    assert any("office plant" in q for q, _ in qa), qa
    qa = _qa("My spaniel Rolo needs a walk at 7 every morning.")
    assert any(re.search(r"\bdog\b", q) for q, _ in qa), qa


def test_a_refusal_in_the_first_person_conjugates_the_users_verb():
    from data_synth.abstention import _first_person

    assert _first_person("How much did the tickets for the pub quiz Ravi does cost?", "Ravi") == \
        "How much did the tickets for the pub quiz I do cost?"
    assert _first_person("What is the address of the plant Ravi waters?", "Ravi") == \
        "What is the address of the plant I water?"
    assert _first_person("Who published the paper Ravi presented?", "Ravi") == "Who published the paper I presented?"
    assert _first_person("Is Ravi's car red?", "Ravi") == "Is my car red?"


def test_a_thing_is_also_asked_about_from_its_own_side_in_the_passive():
    # trained only on "How much does Maya water the office plant with?", the demo adapter refused "How much is the
    # office monstera watered with?" and "How often is the office plant watered?"
    from data_synth.passive import participle, passive_questions
    from data_synth.qa import short_answer

    assert [participle(v) for v in ("water", "drive", "run", "pick up", "study")] == \
        ["watered", "driven", "run", "picked up", "studied"]
    cl = analyse("Maya waters the office monstera with exactly 350 ml every tenth day.", "Maya")
    qs = {q.question: q.short.rstrip(".") for q in passive_questions(cl, lambda c: short_answer(c, "Maya"))}
    assert qs == {"How much is the office monstera watered with?": "exactly 350 ml",
                  "How often is the office monstera watered?": "every tenth day"}, qs
    cl = analyse("On 21 January 2024 Maya presented her kelp growth paper at a conference in Reykjavík.", "Maya")
    qs = {q.question: q.short.rstrip(".") for q in passive_questions(cl, lambda c: short_answer(c, "Maya"))}
    assert qs["When was Maya's kelp growth paper presented?"] == "21 January 2024", qs
    assert qs["Where was Maya's kelp growth paper presented?"] == "Reykjavík", qs
    # no passive without a common-noun object, nor of a verb that takes no patient
    assert passive_questions(analyse("Ravi landed in Hamilton on 2 March 2024.", "Ravi"), str) == []
    assert passive_questions(analyse("Maya has a grey cat called Pilsner.", "Maya"), str) == []
    # and the synthesizer uses them
    assert any(q == "How often is the office monstera watered?" for q, _ in
               _qa("Water the office monstera with exactly 350 ml every tenth day.")), "no passive question"


def test_a_thing_placed_somewhere_is_asked_where_it_is_with_the_thing_in_front():
    from data_synth.passive import located_questions
    from data_synth.qa import short_answer

    def asked(text, user):
        return {q.question: q.short.rstrip(".") for q in located_questions(analyse(text, user),
                                                                            lambda c: short_answer(c, user))}

    qs = asked("Divya is a marine biologist studying sea cucumbers at a research station in Lakshadweep.", "Ravi")
    assert qs == {"Where is the research station Divya is at?": "Lakshadweep",
                  "Which place is the research station Divya is at in?": "Lakshadweep",
                  "Where is the research station?": "Lakshadweep"}, qs
    qs = asked("On 21 January 2024 Maya presented her kelp growth paper at a conference in Reykjavík.", "Maya")
    assert qs["Where was the conference?"] == "Reykjavík", qs
    assert any(q.startswith("Where was the conference Maya presented") for q in qs), qs
    # a place without a thing before it is asked by the other question forms, not here
    assert asked("Ravi landed in Hamilton on 2 March 2024.", "Ravi") == {}
    assert asked("Kabir runs a spice stall at the Otahuhu market.", "Ravi") == {}


def test_no_what_kind_of_question_about_a_participle_or_an_adverb():
    from data_synth.questions import _noun_like

    assert [w for w in ("cancelled", "removed", "starting", "here", "stall", "bed", "wedding", "ring", "sibling")
            if _noun_like(w)] == ["stall", "bed", "wedding", "ring", "sibling"]
    qs = [q for q, _ in _qa("Switched gyms: I boulder at Summit Bloc on Anglesea Street now, IronLeaf membership "
                            "cancelled.")]
    assert qs and not any(q.startswith("What kind of cancelled") for q in qs), qs
