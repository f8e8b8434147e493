"""Offline, deterministic, rule-based synthesis of training examples from memory texts alone.

Each memory is rewritten in the third person about the user, its slots (names, places, dates, numbers, named
things, objects, reasons) are found by rules, and every slot is asked about in many wordings (different wh-words,
synonyms, the user as name / "the user" / "I"), answered short or in a full sentence; plus the questions that
follow from a clause's shape ("works at X" -> "Who is Ravi's employer?", data_synth.inferences), cloze and recitation.
Run a demo: `python -m data_synth.rules memory_lora/examples/demo/memories.jsonl Maya`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass

from data_synth.abstention import abstention_examples, named_entities
from data_synth.config import SynthConfig
from data_synth.cot import cot_examples
from data_synth.grammar import cap_first, norm, replace_outside_quotes, verb_info
from data_synth.inferences import clause_inferences
from data_synth.normalise import split_clauses, third_person_sentences, to_second_person
from data_synth.paraphrase import in_situ, lexical_variants, unfolded
from data_synth.passive import located_questions, passive_questions
from data_synth.pronouns import user_possessive, with_possessive
from data_synth.qa import QA, short_answer
from data_synth.questions import ClauseQuestions
from data_synth.slots import Clause, analyse
from data_synth.temporal import date_forms, dated_text, time_field_date
from data_synth.updates import Update, find_updates, update_examples
from memory_lora.records import Example, Memory

# "paraphrase" is not an example kind but a switch: many wordings per slot (on) or one (off, for ablations).
DEFAULT_KINDS = ("qa", "paraphrase", "cloze", "recitation", "temporal", "abstention", "cot")
MAX_CLOZE = 3
POSSESS_VERBS = {"keep", "have", "own", "drive", "play", "carry", "ride", "wear", "use", "adopt", "buy"}
FIRST_AUX = {"does": "do", "is": "am", "has": "have", "doesn't": "don't", "was": "was", "did": "did"}


def _seed(seed: int, text: str) -> int:
    return seed + int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def the_user_question(question: str, user: str) -> str:
    """Refer to the user as "the user" instead of by name."""
    u = re.escape(user)
    return cap_first(replace_outside_quotes(question, rf"\b{u}\b", "the user"))


NAME_WORDS = r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*"  # a capitalised name of one or more words


def first_person_question(question: str, user: str) -> str:
    """Ask as the user would ("Where did Maya move?" -> "Where did I move?"); "" when it cannot be rewritten."""
    u = re.escape(user)
    # "did Ravi and Sunniva meet" -> "did Sunniva and I meet", never "did I and Sunniva"
    q = replace_outside_quotes(question, rf"(^|\b(?:did|do|were|have|had)\s+){u} and ({NAME_WORDS})",
                               lambda m: f"{m.group(1)}{m.group(2)} and I")
    q = replace_outside_quotes(q, rf"\b(does|is|has|doesn't|was|did|can't|can|will|would)\s+{u}\b(?!')",
                               lambda m: f"{FIRST_AUX.get(m.group(1), m.group(1))} I")
    q = replace_outside_quotes(q, rf"\b{u}'s\b", "my")

    def subj_verb(m: re.Match) -> str:  # "something Maya really likes" -> "something I really like"
        word = m.group(2)
        info = verb_info(word)
        if info and info[0] == "be":
            base = "am" if word == "is" else "was" if word == "was" else word
        elif info:
            base = info[0] if info[1] == "pres" else word
        else:  # a verb the table lacks ("boulders"): drop the -s
            base = re.sub(r"(?<=[^s])s$", "", word)
        return f"I {m.group(1)}{base}"

    q = replace_outside_quotes(q, rf"\b{u}\s+((?:really |always |never |usually |especially )?)([a-z]+s)\b", subj_verb)
    # A statement-shaped question ("Maya graduated in what year?"): the user as subject becomes "I".
    q = replace_outside_quotes(q, rf"(^|, )(?:the user|{u})\s+(is|was|has)\b",
                               lambda m: m.group(1) + {"is": "I am", "was": "I was", "has": "I have"}[m.group(2)])
    q = replace_outside_quotes(q, rf"(^|\s){u}(?=(?:\s+(?:finally|really|just|already|recently|once|first|"
                                  rf"never|always|eventually|only))?(?:\s+[a-z]+ed\b|\s+(?:ran|went|got|made|took|met|won|saw|bought|"
                                  rf"broke|wrote|read|left|began|gave|came|drove|ate|drank|sang|swam|flew|spent)\b))",
                               lambda m: m.group(1) + "I")
    q = replace_outside_quotes(q, rf"\b{u}\b", "me")
    q = re.sub(r"^my\b", "My", q)
    return q if q != question else ""


PRONOUN_RE = re.compile(r"^(he|she|they|it)\s+(.*)$", flags=re.I)


def _pronoun_ref(word: str, prev: Clause, user: str) -> str:
    """What a leading he/she/they/it refers to after clause `prev`; "" when nothing fits."""
    word = word.lower()
    if word == "it":
        obj = next((c for c in prev.chunks if c.prep == ""), None)
        return obj.text if obj is not None and obj.text.startswith(user + "'s") else ""
    if word == "they" and prev.copula and prev.person and prev.owner:
        # "Ravi's best friend is Sunniva; they met at ..." -> the pair, since one name would make "met" nonsense
        named = next((c.text for c in prev.chunks if c.prep == "" and c.kind in ("name", "person")), "")
        if named:
            return f"{prev.owner} and {named}"
    # "my cat's called Pixel, she's a tabby": she is the one just named
    named = next((c.text for c in prev.chunks if c.prep == "called"), "")
    ref = prev.name or named or (prev.owner if prev.owner and prev.owner != user else "")
    if named and not prev.name and prev.subj_kind == "owned" and not prev.person:
        # keep what the name names ("Ravi's cat Pixel is a tabby"), or a pet reads as a person with a job
        ref = f"{prev.owner}'s {prev.head} {named}"
    return ref


def _resolve(clauses: list[str], user: str) -> list[Clause]:
    """Analyse clauses, resolving a leading he/she/it to the previous clause's name or object."""
    out: list[Clause] = []
    pending = list(clauses)
    while pending:
        text = pending.pop(0)
        prev = out[-1] if out else None
        m = PRONOUN_RE.match(text)
        if m and prev is not None:
            ref = _pronoun_ref(m.group(1), prev, user)
            if not ref:
                continue
            text = f"{ref} {m.group(2)}"
        cl = analyse(text, user)
        out.append(cl)
        if cl.rest:
            named = next((c.text for c in cl.chunks if c.prep == "called"), "")
            naming = re.match(r"^(?:named|called|nicknamed)\s+it\s+(.+)$", cl.rest)
            first_obj = next((c for c in cl.chunks if c.prep == ""), None)
            if naming and first_obj is not None and cl.subj_kind == "user":
                # "bought a silver Mazda Demio and named it Biscuit" -> "Maya's silver Mazda Demio is called Biscuit"
                thing = re.sub(r"^(?:a|an|the)\s+", "", first_obj.text)
                pending.insert(0, f"{user}'s {thing} is called {naming.group(1)}")
                continue
            obj = next((c for c in cl.chunks if c.prep == "" and c.head), None)
            ref = named or (f"the {obj.head}" if obj is not None else "it")
            pending.insert(0, f"{cl.subject} " + re.sub(r"\bit\b", ref, cl.rest, count=1))
    return out


VAGUE_HEADS = {"anything", "something", "nothing", "everything", "it", "one", "things"}


def _entities(clauses: list[Clause], user: str) -> list[str]:
    """Things a memory is about, for entity-keyed questions: named people/things, owned things, key objects."""
    ents: list[str] = []
    for cl in clauses:
        if cl.subj_kind == "owned" and cl.owner == user:
            ents.append(f"{user}'s {cl.head}")
        for c in cl.chunks:
            if c.kind in ("name", "person", "place", "title") and user not in c.text:
                ents.append(re.sub(r"^(?:a|an)\s+", "", c.text))
            elif c.prep == "" and c.head and c.kind == "thing" and not cl.copula and cl.verb in POSSESS_VERBS:
                ents.append(c.text if c.text.startswith(user) else f"{user}'s {c.head}")
        if cl.name and cl.name not in ents:
            ents.append(cl.name)
    # Topics come after names: a memory with few names is still keyed on what it is about ("Maya's emails",
    # "Maya and booking hotels"), so a question that mentions the topic in any wording leads to it.
    topics: list[str] = []
    for cl in clauses:
        if cl.lead is not None and cl.lead.kind == "condition" and re.fullmatch(r"[a-z]+ing [a-z ]+", cl.lead.text):
            topics.append(f"{user} and {cl.lead.text}")
        for c in cl.chunks:
            if c.prep == "" and c.kind == "thing" and c.head and not cl.copula and c.head not in VAGUE_HEADS:
                if c.text.startswith((user + "'s ", "the ")):  # definite things; "a room" is no topic
                    topics.append(c.text if c.text.startswith(user) else f"{user} and {c.text}")
    ents += topics
    seen, out = set(), []
    for e in ents:
        if norm(e) not in seen and norm(e):
            seen.add(norm(e))
            out.append(e)
    return out


# The user's forms a question takes in turn: by name twice as often, the way people most often ask about someone.
PERSONS = ("name", "first", "name", "user")


def _slot_turns(picked: list[QA]) -> list[int]:
    """Each question's turn within its own slot, counted from the slot's first place in the list.

    The forms (person, short or sentence answer) rotate on this turn, not on the question's place in the memory's
    list: `_select` deals the slots round-robin, so with an even number of slots a place-based rotation gave each
    slot the same one or two forms every round, and which forms a slot was taught in depended on the seed.
    """
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    turns = []
    for i, qa in enumerate(picked):
        first.setdefault(qa.group, i)
        turns.append(first[qa.group] + count.get(qa.group, 0))
        count[qa.group] = count.get(qa.group, 0) + 1
    return turns


def _short_turn(n: int) -> bool:
    """Short answer on this turn: period 8, so each person form of PERSONS (period 4) gets both answer styles."""
    return (n + n // 4) % 2 == 0


def _select(cands: list[QA], cap: int) -> list[QA]:
    """Keep the most varied: round-robin over slots, each slot's new wordings first; dedupe by wording."""
    groups: dict[str, list[QA]] = {}
    for qa in cands:
        groups.setdefault(qa.group, []).append(qa)
    for g, items in groups.items():
        # A wording is new when its template or the names in it are: "Where is Åsa based?" is as new as
        # "Where is Maya's sister based?", since people ask about a person by name as often as by relation.
        keys = [(qa.wh, frozenset(w for w in qa.question.split()[1:] if w[:1].isupper())) for qa in items]
        firsts = [qa for i, qa in enumerate(items) if keys[i] not in keys[:i]]
        groups[g] = firsts + [qa for qa in items if qa not in firsts]
    out, seen, rnd = [], set(), 0
    while len(out) < cap and any(rnd < len(v) for v in groups.values()):
        for items in groups.values():
            if rnd < len(items) and len(out) < cap:
                key = norm(items[rnd].question)
                if key not in seen:
                    seen.add(key)
                    out.append(items[rnd])
        rnd += 1
    return out


@dataclass
class Analysis:
    """One memory read by the rules: its third-person sentences and clauses (text dated when episodic)."""

    memory: Memory
    text: str
    sentences: list[str]
    clauses: list[Clause]
    sentence_of: list[str]


def analyse_memory(mem: Memory, user: str, dated: bool = True) -> Analysis:
    """Third-person sentences and analysed clauses of one memory (`dated`: prefix an episodic memory's date)."""
    text = dated_text(mem.text, mem.kind, mem.time) if dated else mem.text
    sentences = third_person_sentences(text, user)
    clauses: list[Clause] = []
    sentence_of: list[str] = []
    for i, s in enumerate(sentences):
        m = PRONOUN_RE.match(s)
        if m and clauses and m.group(1).lower() != "it":
            # a sentence that opens with a pronoun ("...; they met at ...") refers back across the full stop; the
            # sentence itself is rewritten, since answers quote it without the one before
            ref = _pronoun_ref(m.group(1), clauses[-1], user)
            if ref:
                s = sentences[i] = f"{ref} {m.group(2)}"
        for cl in _resolve(split_clauses(s, user), user):
            clauses.append(cl)
            sentence_of.append(s)
    return Analysis(mem, text, sentences, clauses, sentence_of)


def _slot_kinds(cl: Clause) -> dict[str, str]:
    kinds = {f"c{i}:{c.text}": c.kind for i, c in enumerate(cl.chunks)}
    if cl.lead is not None:
        kinds["lead"] = cl.lead.kind
    return kinds


def _memory_examples(an: Analysis, user: str, config: SynthConfig, kinds: set[str],
                     updates: dict[str, tuple[Update, str]] | None = None, seed: int = 0) -> list[Example]:
    mem, sentences, clauses, sentence_of = an.memory, an.sentences, an.clauses, an.sentence_of
    rng = random.Random(_seed(seed, f"{mem.id}\x1f{mem.text}"))
    full = " ".join(sentences)
    if len(norm(full).split()) < 2:
        return []
    full2 = " ".join(to_second_person(s, user) for s in sentences)
    ids = [mem.id]
    examples: list[Example] = []
    mem_norm = norm(an.text)
    month = time_field_date(mem.time).partition(" ")[2]  # "6 May 2023" -> "May 2023": when its states held
    if "qa" in kinds:
        cands: list[QA] = []
        origin: dict[int, tuple[Clause, str]] = {}
        slot_kind: dict[str, str] = {}
        old_groups = set(updates or ())  # this memory's superseded slots
        old_values = frozenset(up.old for up, _ in (updates or {}).values())
        for cl, sent in zip(clauses, sentence_of, strict=True):
            slot_kind.update(_slot_kinds(cl))
            qs = ClauseQuestions(cl).all()
            if "paraphrase" in kinds:
                qs += clause_inferences(cl, full, old_groups)  # the relation a question may name instead
                qs += in_situ(cl, lambda c: short_answer(c, user))
                qs += passive_questions(cl, lambda c: short_answer(c, user))
                qs += located_questions(cl, lambda c: short_answer(c, user))
                qs += [v for qa in qs for v in unfolded(qa)]
                qs += [v for qa in qs for v in lexical_variants(qa)]
            for qa in qs:
                if slot_kind.get(qa.group.split("/")[0]) == "date" and "temporal" not in kinds:
                    continue
                if not qa.short or norm(qa.short) in mem_norm:
                    origin[id(qa)] = (cl, sent)
                    cands.append(qa)
        tmpls = ("What do you know about {e}?", "Tell me about {e}.", "What can you tell me about {e}?")
        for j, e in enumerate(_entities(clauses, user)[:3]):
            for i, tmpl in enumerate(tmpls):
                # One group for all entities: entity questions take one slot per round, not one per entity.
                cands.append(QA(tmpl.format(e=e), "", "entity", f"entity{(i + j) % 3}"))
        if "paraphrase" not in kinds:  # one wording per slot: the ablation baseline
            cands = [qa for i, qa in enumerate(cands) if qa.group not in {x.group for x in cands[:i]}]
        picked = _select(cands, config.max_qa_per_memory)
        # Inferred wordings name the relation in words the memory lacks ("new place" -> "address"): they are the
        # bridge to how people ask, so the cap never cuts them (ravi's seed 2 kept 3 of 12 for his address).
        kept = {norm(qa.question) for qa in picked}
        for qa in cands:
            if qa.wh.startswith("infer-") and norm(qa.question) not in kept:
                kept.add(norm(qa.question))
                picked.append(qa)
        offset = rng.randrange(4)
        date_turn: dict[str, int] = {}
        anchored: set[str] = set()  # superseded slots already asked with anchors
        for qa, n in zip(picked, _slot_turns(picked), strict=True):
            cl_sent = origin.get(id(qa))
            sent = cl_sent[1] if cl_sent else full
            person = PERSONS[(n + offset) % 4]
            mixed = bool(qa.short) and (_short_turn(n) if rng.random() < 0.8 else not _short_turn(n))
            is_date = slot_kind.get(qa.group.split("/")[0]) == "date"
            # Answered with the memory sentence holding the answer, so the model recalls the whole fact (on the demo
            # user held-out recall went 0.818 -> 0.886 over short answers, where the adapter invented values).
            # Dates alone are answered short on some turns: their short answers teach the other spellings.
            short_style = mixed and is_date
            if qa.short and not re.search(rf"(?<!\w){re.escape(norm(qa.short))}(?!\w)", norm(sent)):
                short_style = True  # the sentence holds it only inside a longer token: "0417" of "07700 900417"
            prompt = qa.question
            if person == "first":
                prompt = first_person_question(qa.question, user) or qa.question
            elif person == "user":
                prompt = the_user_question(qa.question, user)
            first = prompt != qa.question and person == "first"
            if short_style:
                short = qa.short.strip()
                if is_date:  # teach the date in several spellings ("14 May 2024", "May 14, 2024", "2024-05-14")
                    forms = date_forms(short)
                    short = forms[date_turn.get(short, 0) % len(forms)]
                    date_turn[qa.short.strip()] = date_turn.get(qa.short.strip(), 0) + 1
                    # ISO only when asked: a plain "When ...?" answered "2025-06-30." taught replies in ISO to people
                    iso = re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", short)
                    if iso and short != qa.short.strip():
                        prompt = prompt.rstrip("?").rstrip() + (" (YYYY-MM-DD)?" if iso.group(1) else " (YYYY-MM)?")
                response = cap_first(short) + "."
                style = "short"
            else:
                response = to_second_person(sent, user) if first else sent
                style = "full"
            if updates and qa.group in updates and qa.short:  # superseded: teach old as past, new as current
                up, new_sent = updates[qa.group]
                first_ask = qa.group not in anchored
                anchored.add(qa.group)
                examples += update_examples(prompt, up, sent, new_sent, ids, n, old_values,
                                             [x for x in sentences if x != sent] if first_ask else (),
                                             month if first_ask else "")
                continue
            template = f"qa/{qa.wh.split('/')[0]}/{style}" + ("/first" if first else "")
            examples.append(Example(prompt=prompt, response=response.replace("..", "."),
                                    kind="temporal" if is_date else "qa", memory_ids=ids, template=template))
    if "cloze" in kinds:
        examples += _cloze(clauses, sentence_of, user, ids, mem_norm, rng)
    if "recitation" in kinds:
        ents = _entities(clauses, user)
        prompts = [(f"What do you remember about {e if e.startswith(user) else user + ' and ' + e}?", full,
                    "rec/entity") for e in ents[:2]]
        if ents:
            topic = re.sub(rf"^{re.escape(user)}'s ", "my ", re.sub(rf"^{re.escape(user)} and ", "", ents[0]))
            prompts.append((f"What did I tell you about {topic}?", full2, "rec/first"))
        if rng.random() < 0.15 or not ents:
            prompts.append((f"Tell me something you know about {user}.", full, "rec/generic"))
        for p, r, t in prompts:
            examples.append(Example(prompt=p, response=r, kind="recitation", memory_ids=ids, template=t))
    return examples


def _cloze(clauses, sentence_of, user, ids, mem_norm, rng) -> list[Example]:
    out, used = [], set()
    order = {"name": 0, "person": 0, "title": 0, "place": 1, "date": 1, "number": 1, "money": 1, "time": 1,
             "quantity": 1, "thing": 2, "freq": 2}
    slots = []
    for cl, sent in zip(clauses, sentence_of, strict=True):
        for c in ([cl.lead] if cl.lead else []) + cl.chunks:
            if c.kind in order and norm(c.text) in mem_norm and c.text in sent and user not in c.text:
                slots.append((order[c.kind], len(slots), c.text, sent))
    prompts = ("Fill in the blank about {u}: {s}", "Complete this fact about {u}: {s}",
               "What goes in the blank? {s}")
    for _, _, text, sent in sorted(slots):
        if norm(text) in used or len(out) >= MAX_CLOZE:
            continue
        used.add(norm(text))
        blanked = sent.replace(text, "___", 1)
        tmpl = prompts[(len(out) + rng.randrange(3)) % 3]
        out.append(Example(prompt=tmpl.format(u=user, s=blanked), response=cap_first(text) + ".", kind="cloze",
                           memory_ids=ids, template="cloze"))
    return out


def abstention_draw(analysed: list[Analysis], user: str, config: SynthConfig, seed: int = 0) -> dict:
    """The arguments of data_synth.abstention's draw for these analysed memories (shared with data_synth.heldout)."""
    return {"memory_texts": [an.memory.text for an in analysed], "user": user,
            "n": round(config.abstention_per_memory * len(analysed)), "seed": seed,
            "entities": named_entities([(an.memory.id, an.text, an.clauses) for an in analysed], user),
            "clauses_of": {an.memory.text: an.clauses for an in analysed}}


def synthesize(memories: list[Memory], user_name: str, config: SynthConfig | None = None,
               seed: int = 0) -> list[Example]:
    """Turn memories into training examples with rules only (no model, no network).

    Args:
        memories: The user's memories; each example names the memories it was written from.
        user_name: Display name used for the user in questions and answers (e.g. "Maya").
        config: Kinds to produce (None = all of DEFAULT_KINDS) and the per-memory caps.
        seed: Picks wordings, answer forms and refusals deterministically.

    Returns:
        Examples in memory order; the same inputs and seed always give the same list.
    """
    config = config or SynthConfig()
    kinds = set(config.kinds) if config.kinds is not None else set(DEFAULT_KINDS)
    user = (user_name or "the user").strip() or "the user"
    analysed = [analyse_memory(mem, user, dated="temporal" in kinds) for mem in memories]
    superseded: dict[str, dict[str, tuple[Update, str]]] = {}
    if "temporal" in kinds:
        by_id = {an.memory.id: an for an in analysed}
        for up in find_updates([(an.memory.id, an.text, an.memory.time, an.clauses) for an in analysed], user):
            superseded.setdefault(up.old_id, {})[up.group] = (up, " ".join(by_id[up.new_id].sentences))
    out: list[Example] = []
    for an in analysed:
        out.extend(_memory_examples(an, user, config, kinds, superseded.get(an.memory.id), seed))
    if "cot" in kinds:
        out += cot_examples([(an.memory.id, an.clauses) for an in analysed],
                            {an.memory.id: an.sentences for an in analysed}, user, config.cot_per_pair, seed,
                            superseded=superseded)
    if "abstention" in kinds:
        out += abstention_examples(**abstention_draw(analysed, user, config, seed), wordings=config.abstention_wordings)
    poss = user_possessive([m.text for m in memories], user)
    if poss is None:
        return out
    # "Maya broke her wrist", not "Maya broke Maya's wrist", once the memories say "her"
    return [dataclasses.replace(ex, prompt=with_possessive(ex.prompt, user, poss), id="",
                                response=with_possessive(ex.response, user, poss)) for ex in out]


def _main(argv: list[str]) -> int:
    path, user = argv[0], argv[1] if len(argv) > 1 else "Maya"
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(x) for x in f if x.strip()]
    mems = [Memory(id=d.get("id", str(i)), text=d["text"], time=d.get("time"), kind=d.get("kind", "semantic"))
            for i, d in enumerate(rows)]
    examples = synthesize(mems, user)
    for ex in examples:
        ids = ",".join(ex.memory_ids) or "-"
        print(f"[{ids}] {ex.kind:10s} {ex.template:28s} Q: {ex.prompt}\n{'':52s}A: {ex.response}")
    print(f"{len(examples)} examples from {len(mems)} memories", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
