"""Abstention examples: questions about the user that no memory answers, trained to an "I don't know" reply.

Without them an adapter answers every question about the user with some memorised fact. Four sources, mixed:

- user topics: generic personal attributes ("Which blood group is Maya?"), all the memories leave open where the
  balance allows;
- missing relations: family members, pets and people the memories never mention ("What is the name of Maya's
  brother?" when only a sister is mentioned), the near misses an adapter is most tempted to answer, asked first;
- known people, unknown facts: attributes of a person the memories name that none of the memories about that
  person states ("How old is Teodor?", "Who is Åsa married to?"), asked by name and by relation;
- known things, unknown details: a detail of a kind of thing the memories mention that none of the memories
  mentioning it states (data_synth.abstention_details).

A question is used only when none of its keywords occurs in the memories it is about (all memories for the user,
the memories naming the person for a person), so the adapter is never taught to deny something it was told; the
check is deliberately broad (a keyword is a word prefix). The templates are written for this file, independent of
any evaluation set's wording; the thesis-title, airline and race questions were added after the bundled examples'
held-out and dev misses showed those kinds of refusal missing. Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from data_synth.abstention_details import ADDRESS, _absent, _corpus, _detail_questions
from data_synth.cot import PROPER_NAME_RE, find_aliases
from data_synth.grammar import PERSON_NOUNS, norm, verb_info
from data_synth.slots import Clause
from memory_lora.records import Example
from memory_lora.text import REFUSALS

# (question about {u}, keywords whose presence in any memory rules the topic out). Three wordings were changed once
# every open topic was asked (blood group, middle name, football): as first written they were word for word a bundled
# held-out or dev question, which must stay a paraphrase the training data never held.
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Which blood group is {u}?", ("blood",)),
    ("What is {u}'s shoe size?", ("shoe", "size")),
    ("How tall is {u}?", ("tall", "height", "cm", "feet")),
    ("What middle name does {u} have?", ("middle name",)),
    ("What was the name of {u}'s first pet?", ("first pet",)),
    ("Which primary school did {u} attend?", ("primary school", "elementary")),
    ("What is {u}'s star sign?", ("star sign", "zodiac", "horoscope")),
    ("What was {u}'s first job?", ("first job",)),
    ("What is {u}'s mother's maiden name?", ("maiden",)),
    ("What is the name of {u}'s dentist?", ("dentist",)),
    ("Which bank does {u} use?", ("bank",)),
    ("What is {u}'s licence plate number?", ("plate", "registration")),
    ("How many cousins does {u} have?", ("cousin",)),
    ("What was {u}'s grade in maths at school?", ("math", "grade")),
    # not "team": a quiz or work team says nothing about football ("a team called The Quizzly Bears")
    ("Which football team is {u} a fan of?", ("football", "soccer")),
    ("What is {u}'s favourite board game?", ("board game", "chess", "game")),
    ("What did {u} eat for breakfast yesterday?", ("breakfast",)),
    ("What is the name of {u}'s childhood best friend?", ("childhood",)),
    ("Which language did {u} learn first?", ("mother tongue", "native language", "first language")),
    ("How much does {u} pay in rent?", ("rent",)),
    ("What is {u}'s favourite season?", ("season", "winter", "summer", "autumn", "spring")),
    ("What was {u}'s wedding date?", ("wedding", "married")),
    ("Which hospital was {u} born in?", ("born",)),
    ("What is {u}'s favourite flower?", ("flower",)),
    ("What kind of phone does {u} have?", ("phone", "iphone", "android")),
    ("What is {u}'s favourite ice cream flavour?", ("ice cream",)),
    ("Who was {u}'s favourite teacher at school?", ("teacher",)),
    ("What is {u}'s email password?", ("password",)),
    ("Which airline does {u} usually fly with?", ("airline", "flight", "fly")),
    ("What is {u}'s favourite number?", ("favourite number", "favorite number", "lucky number")),
    ("What is the name of {u}'s hairdresser?", ("hairdresser", "barber", "haircut")),
    ("What is {u}'s neighbour's name?", ("neighbour", "neighbor")),
    ("Which video games does {u} play?", ("video game", "gaming", "console")),
    ("What is {u}'s favourite fruit?", ("fruit", "apple", "banana", "mango")),
    ("How many siblings does {u} have?", ("sibling", "brother", "sister")),
    ("What is {u}'s favourite holiday destination?", ("holiday", "vacation")),
    ("What car did {u} learn to drive in?", ("learn to drive", "driving lesson", "driving test")),
    ("What is {u}'s favourite painter?", ("painter", "painting", "artist")),
    ("What is {u}'s pin code for the bank card?", ("pin", "bank card")),
    ("How much does {u} earn?", ("salary", "earn", "wage", "income", "paid")),
    ("What is {u}'s date of birth?", ("born", "birthday", "date of birth")),
    ("Which school did {u} go to as a child?", ("school",)),
    # a street name anywhere is an address the adapter must not deny ("New place is 14 Kōwhai Terrace")
    ("What is {u}'s home address?", ADDRESS),
    ("What did {u} study at university?", ("studied", "study", "degree", "university", "college")),
    ("What was the title of {u}'s thesis?", ("thesis", "dissertation")),
    ("Which laptop does {u} use?", ("laptop", "computer", "macbook")),
    ("What is {u}'s favourite film?", ("film", "movie")),
    ("Which newspaper does {u} read?", ("newspaper", "news")),
)
# (relation, keywords that rule it out, "person" or "pet")
RELATIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("brother", ("brother", "sibling"), "person"),
    ("sister", ("sister", "sibling"), "person"),
    ("father", ("father", "dad", "parent"), "person"),
    ("mother", ("mother", "mum", "mom", "parent"), "person"),
    ("son", ("son", "child", "kid"), "person"),
    ("daughter", ("daughter", "child", "kid"), "person"),
    ("husband", ("husband", "married", "spouse", "wife", "partner"), "person"),
    ("wife", ("wife", "married", "spouse", "husband", "partner"), "person"),
    ("grandfather", ("grandfather", "grandpa", "granddad"), "person"),
    ("grandmother", ("grandmother", "grandma", "granny", "nan"), "person"),
    ("uncle", ("uncle",), "person"),
    ("aunt", ("aunt",), "person"),
    ("niece", ("niece",), "person"),
    ("nephew", ("nephew",), "person"),
    ("boss", ("boss", "manager", "supervisor"), "person"),
    ("flatmate", ("flatmate", "roommate", "housemate"), "person"),
    ("best friend", ("best friend", "closest friend"), "person"),
    ("doctor", ("doctor", "gp", "physician", "dr"), "person"),
    ("dog", ("dog", "puppy"), "pet"),
    ("cat", ("cat", "kitten"), "pet"),
    ("rabbit", ("rabbit", "bunny"), "pet"),
    ("horse", ("horse", "pony"), "pet"),
)
# The relation an adapter most readily confuses with a known one: asked about a father when only a mum is mentioned,
# two ravi adapters answered with the mum's name, so these near misses are asked first.
COUNTERPARTS = {"brother": "sister", "sister": "brother", "father": "mother", "mother": "father", "son": "daughter",
                "daughter": "son", "husband": "wife", "wife": "husband", "grandfather": "grandmother",
                "grandmother": "grandfather", "uncle": "aunt", "aunt": "uncle", "niece": "nephew", "nephew": "niece",
                "dog": "cat", "cat": "dog"}
RELATION_QUESTIONS = {
    "person": ("What is the name of {u}'s {r}?", "Who is {u}'s {r}?", "What does {u}'s {r} do for a living?",
               "Where does {u}'s {r} live?"),
    "pet": ("What is the name of {u}'s {r}?", "What is {u}'s {r} called?", "What breed is {u}'s {r}?",
            "How old is {u}'s {r}?"),
}
# (question about a named person {e}, keywords in that person's memories that rule it out)
PERSON_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("How old is {e}?", ("age", "old", "born", "year")),
    ("When is {e}'s birthday?", ("birthday", "born")),
    ("What is the name of {e}'s wife?", ("wife", "husband", "married", "spouse", "partner", "fianc")),
    ("What is the name of {e}'s husband?", ("wife", "husband", "married", "spouse", "partner", "fianc")),
    ("Who is {e} married to?", ("wife", "husband", "married", "spouse", "partner", "fianc")),
    ("How many children does {e} have?", ("child", "son", "daughter", "kid", "baby")),
    ("What is {e}'s phone number?", ("phone", "mobile", "number")),
    ("What is {e}'s favourite food?", ("favourite", "favorite", "food", "dish", "love")),
    ("What car does {e} drive?", ("car", "drive")),
    ("Which university did {e} go to?", ("university", "college", "school", "studied", "degree")),
    ("What is {e}'s email address?", ("email", "e mail")),
    ("What pets does {e} have?", ("pet", "cat", "dog")),
    ("Where was {e} born?", ("born", "grew up", "from")),
    ("What is {e}'s favourite hobby?", ("hobby", "favourite", "favorite", "enjoy", "love")),
)
# Attributes that fit any named being or thing (a pet, a car with a name): only age and birthday.
ANY_TOPICS = PERSON_TOPICS[:2]
# Wordings taken in turn: only those the answerable examples use too, plain about as often as there (half), since a
# wording mostly seen with "I don't know" is a cue. A "Quick question: " lead-in once took a quarter of the refusals:
# a demo adapter refused "Quick question: How old is Teodor Vasquez-Holm?" (p 0.99) and answered the same
# question without it with Teodor's birthday (p 0.01).
WORDINGS = ("{q}", "{q_user}", "{q}", "{q_first}")
REPLIES = REFUSALS


@dataclass(frozen=True)
class Entity:
    """A being the memories name: "Teodor Vasquez-Holm", also called "Teodor" and "Maya's partner".

    Attributes:
        refs: Ways to refer to it in a question (full name, first name, relation to the user).
        texts: The memory texts that mention it (a topic is dropped when any of them has one of its keywords).
        person: True for people (all of PERSON_TOPICS fit), False for pets and named things (ANY_TOPICS only).
    """

    refs: tuple[str, ...]
    texts: tuple[str, ...]
    person: bool


def _first_person(question: str, user: str) -> str:
    question = (question.replace(f"{user}'s", "my").replace(f"does {user}", "do I").replace(f"did {user}", "did I")
                .replace(f"is {user}", "am I").replace(f"was {user}", "was I"))
    # the user as a relative clause's subject ("the pub quiz Ravi does") takes the first person's verb form
    question = re.sub(rf"\b{re.escape(user)} (\w+)\b", lambda m: f"I {_base_if_third_singular(m.group(1))}", question)
    return question.replace(user, "I")


def _base_if_third_singular(word: str) -> str:
    info = verb_info(word)
    if not info or info[1] != "pres" or word == info[0]:
        return word
    return {"be": "am"}.get(info[0], info[0])


def _user_questions(corpus: str) -> list[str]:
    return [q for q, keys in TOPICS if _absent(keys, corpus)]


CONTRACTED = ("It", "That", "What", "She", "He", "There", "Here", "Who", "Where", "How", "Let", "This")


def users_own(text: str, user: str) -> str:
    """The text without the nouns someone else holds: "Teodor's birthday is 17 October" -> "Teodor's is 17 October".

    A user topic is ruled out by a memory that could be about the user's own attribute, not by another person's
    ("When is Maya's birthday?" is unanswered when only her partner's birthday is told). Without this the topic was
    never taught as unknown and the adapter answered it with the other person's value. Only a named other holder
    or a relation noun ("mum's", "cat's") frees the word; "my", "her" and "his" may be the user's and keep it.
    """
    holders = "|".join(sorted(PERSON_NOUNS | PETS, key=len, reverse=True))  # longest first: "grandmother", not "mother"
    # "It's", "She's" are a word and "is", not a holder: "It's football season" keeps "football"
    not_holder = rf"(?!(?:{re.escape(user)}|{'|'.join(CONTRACTED)})\b)"
    return re.sub(rf"\b{not_holder}([A-Z][\w-]*|(?i:{holders}))['’]s\s+[\w-]+", r"\1's", text)


def _relation_questions(corpus: str) -> tuple[list[str], list[str]]:
    """Questions about relations no memory mentions: (near misses, the rest).

    A near miss is the counterpart of a mentioned relation (a father when a mum is mentioned, a dog beside a cat).
    """
    absent = {rel for rel, keys, _ in RELATIONS if _absent(keys, corpus)}
    near, far = [], []
    for rel, _, kind in RELATIONS:
        if rel in absent:
            bucket = near if rel in COUNTERPARTS and COUNTERPARTS[rel] not in absent else far
            bucket += [q.replace("{r}", rel) for q in RELATION_QUESTIONS[kind]]
    return near, far


def _entity_questions(entities: list[Entity], rng: random.Random, user: str = "", user_corpus: str = "") -> list[str]:
    """Attributes of named people (and pets) that none of the memories naming them states.

    A topic some memory does answer ("university" when the user studied at one) is asked by name only: "Which
    university did Maya's mother go to?" is one word from the user's own answerable question, and refusing it taught
    the demo adapter to refuse "At which university did Maya earn her degree?".
    """
    out = []
    for ent in entities:
        corpus = _corpus(ent.texts)
        by_name = [r for r in ent.refs if not r.startswith(f"{user}'s ")] or list(ent.refs)
        for q, keys in PERSON_TOPICS if ent.person else ANY_TOPICS:
            if _absent(keys, corpus):
                refs = ent.refs if not user or _absent(keys, user_corpus) else by_name
                # name the person one way per question, varied, so both name and relation lead to "don't know"
                out.append(q.replace("{e}", refs[rng.randrange(len(refs))]))
    return out


def _draw(memory_texts: list[str], user: str, n: int, seed: int, entities: list[Entity] | None,
          clauses_of: dict[str, list[Clause]] | None):
    """abstention_examples' draw: (picks as (index, question, turn), the mixed pool, the pool's questions left
    unasked, the random generator in the state the draw left it)."""
    rng = random.Random(seed)
    corpus = _corpus(memory_texts)
    near, far = _relation_questions(corpus)
    rng.shuffle(near)
    rng.shuffle(far)
    own = _corpus(users_own(t, user) for t in memory_texts)
    sources = [_user_questions(own), _entity_questions(entities or [], rng, user, corpus),
               _detail_questions(memory_texts, user, clauses_of)]
    for s in sources:
        rng.shuffle(s)
    sources.insert(1, near + far)  # every near miss is asked before any other missing relation
    # (question, its place in its source): the wording turns with that place, not with the place in the mix, where
    # taking the sources in turn gave each source one wording ("the user's dog" but never "Maya's dog")
    mixed = [(s[i], i + k) for i in range(max(map(len, sources), default=0))
             for k, s in enumerate(sources) if i < len(s)]
    picks = [(i, *mixed[i % len(mixed)]) for i in range(min(n, len(mixed) * len(WORDINGS)))]
    # the open user topics the draw missed are asked too: a topic left out of the draw was the one an adapter
    # answered with a neighbouring memory (a demo adapter at seed 0: the phone and the football team); at
    # most n // 3 of them, so that a user with few memories is not taught mostly refusals
    asked = {q for _, q, _ in picks}
    left = [(q, turn) for turn, q in enumerate(sources[0]) if q not in asked][:n // 3]
    picks += [(len(picks) + k, q, turn) for k, (q, turn) in enumerate(left)]
    asked = {q for _, q, _ in picks}
    unasked = [q for q, _ in mixed if q not in asked]
    return picks, mixed, list(dict.fromkeys(unasked)), rng


def abstention_examples(memory_texts: list[str], user: str, n: int, seed: int,
                        entities: list[Entity] | None = None, wordings: int = 1,
                        clauses_of: dict[str, list[Clause]] | None = None) -> list[Example]:
    """Refusal examples ("I don't know") on up to `n` questions the memories do not answer, in `wordings` forms each.

    Args:
        memory_texts: Every memory text of the user (a user topic or relation is dropped if any mentions one of
            its keywords).
        user: The user's display name.
        n: How many questions to draw from the sources in turn; the user topics the memories leave open and the draw
            missed are asked besides, up to n // 3 of them.
        seed: Picks topics, wordings and replies deterministically.
        entities: People and named beings the memories mention, for "known person, unknown fact" questions.
        wordings: Person forms each question is asked in, one after another ("Maya's", "the user's", "my"); a
            question that names no user has one. So up to `n * wordings` examples.
        clauses_of: Memory text -> its analysed clauses, to name things with their memory's context.

    Returns:
        Examples of kind "abstention" with no memory ids (they are about the absence of a memory), drawn in turn
        from the four sources so that no source crowds out the others, then the user topics the draw left out.
    """
    picks, mixed, _, rng = _draw(memory_texts, user, n, seed, entities, clauses_of)
    out: list[Example] = []
    seen: set[str] = set()
    for i, q, turn in picks:
        q = q.replace("{u}", user)
        for w in range(wordings):
            # a refusal taught in one person form did not carry to another: taught "What is the user's blood type?",
            # a demo adapter answered "What is Maya's blood type?" with another memory
            style = WORDINGS[((i // len(mixed)) * wordings + turn + w) % len(WORDINGS)]
            prompt = style.format(q=q, q_user=re.sub(rf"\b{re.escape(user)}\b", "the user", q),
                                  q_first=_first_person(q, user))
            if prompt in seen:
                continue
            seen.add(prompt)
            out.append(Example(prompt=prompt, response=REPLIES[rng.randrange(len(REPLIES))], kind="abstention",
                               memory_ids=[], template="abstention"))
    return out


PRONOUNS = {"they", "she", "he", "it", "we", "you", "i", "them", "her", "him"}
PETS = {"cat", "dog", "kitten", "puppy", "rabbit", "horse", "pony", "parrot", "hamster", "tortoise", "pet"}


def named_entities(analysed: list[tuple[str, str, list[Clause]]], user: str) -> list[Entity]:
    """People and pets the memories name, each with the memory texts that mention it (for abstention questions).

    A name tied to a relation ("Maya's partner Teodor") is a person or a pet by that relation; a name only seen as
    a person phrase ("with Teodor", "by Sigrid Aune") is a person; any other named subject ("Chutney got a new
    tyre") gets only the questions that fit anything with a name.

    Args:
        analysed: (memory id, third-person text, analysed clauses) for every memory.
        user: The user's display name.
    """
    found: dict[str, dict] = {}

    def add(name: str, relation: str = "", person: bool | None = None, thing: bool = False) -> None:
        name = name.strip("'\"‘’“”")
        if not name or norm(name) in PRONOUNS or norm(name) == norm(user) or not name[:1].isupper():
            return
        ent = found.setdefault(name, {"rels": [], "person": None, "thing": False})
        if relation:
            ent["rels"].append(relation)
        if person is not None:
            ent["person"] = person if ent["person"] is None else ent["person"] or person
        ent["thing"] = ent["thing"] or thing

    for al in find_aliases([(mem_id, clauses) for mem_id, _, clauses in analysed], user):
        if al.relation.startswith("the person "):  # "the person Maya hiked with": a companion, so a person
            add(al.name, al.relation, person=True)
            continue
        head = al.relation.split("'s ", 1)[-1]
        is_pet = any(w in PETS for w in head.lower().split())
        is_person = head.lower() in PERSON_NOUNS or head.lower().split()[-1] in PERSON_NOUNS
        add(al.name, al.relation, None if is_pet else is_person, thing=not (is_pet or is_person))
    for _, _, clauses in analysed:
        for cl in clauses:
            if cl.subj_kind == "name":
                add(cl.subject)
            for c in cl.chunks:
                if c.kind == "person" and PROPER_NAME_RE.fullmatch(c.text):
                    add(c.text, person=True)
    for name in sorted(found, key=len):  # "Teodor" and "Teodor Vasquez-Holm" are one person
        words = set(name.split())
        longer = [n for n in found if n != name and words < set(n.split())]
        if len(longer) == 1:
            into, ent = found[longer[0]], found.pop(name)
            into["rels"] += ent["rels"]
            into["person"] = into["person"] or ent["person"]
            into["thing"] = into["thing"] or ent["thing"]
    out = []
    for name, ent in found.items():
        if ent["thing"]:  # a named bike or shop: age and birthday questions do not fit
            continue
        forms = [name] + [w for w in name.split()[:1] if len(name.split()) > 1 and len(w) > 2 and "." not in w]
        texts = tuple(text for _, text, _ in analysed
                      if any(re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text) for f in forms))
        out.append(Entity(refs=tuple(dict.fromkeys(forms + ent["rels"])), texts=texts, person=bool(ent["person"])))
    return out
