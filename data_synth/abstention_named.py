"""Refusals about named things: unstated details of a thing a memory names, and events no memory names beside one.

The dev sets' abstention questions the adapters answered with a related memory, which only the reranker's gate then
refused, ask for something next to what a memory says: the price of a car named by its make ("How much did Ravi pay
for his Mazda?"), the brand of a wanted thing ("What brand of headlamp does Teodor want?"), who teaches a class a
memory mentions, or the same kind of event somewhere else ("Maya's time in the Tromsø Midnight Sun Marathon" when
she ran the Copenhagen half marathon). Three sources, behind `synth.abstention_named`:

- makes: a thing named by its make ("the Mazda Demio", "the Volvo 240") gets the questions of its kind in
  data_synth.abstention_details.DETAILS plus its name;
- brands and regular activities: the make of an everyday object no memory names a make for, the start time, teacher
  and cost of a class, session, quiz or club the memories leave out;
- swapped events: a race, conference or exam a memory names by its place or language, asked about with another place
  or language no memory mentions ("the Bergen half marathon", "the German B2 exam"), so that the adapter learns to
  read the name and not only the kind of event. The real event keeps its answered questions, so each swap is a
  contrast pair.

A question is kept only when none of its keywords occurs in the memories about the thing (data_synth.abstention
rules), and a swapped name only when no memory mentions it. The lists and templates are written for this file and
are not the dev or held-out questions' wording. Measured in docs/results/README.md section 38: a 135M adapter learns
"refuse questions about a half marathon" more readily than "refuse the Bergen one", so the real events' answers fell;
without the swaps (section 39) they come back but refusals gain at most one per run, so the flag stays off. Used by
data_synth.abstention; not run directly.
"""

from __future__ import annotations

import re

from data_synth.abstention_details import CLOCK, DETAILS, HOUR, MONEY, _absent, _corpus
from data_synth.grammar import MONTHS

# make -> the DETAILS trigger whose questions fit it (a car make gets the car's questions)
MAKES = {**dict.fromkeys(("Volvo", "Mazda", "Toyota", "Ford", "Honda", "Nissan", "Subaru", "Audi", "BMW", "Skoda",
                          "Kia", "Hyundai", "Tesla", "Renault", "Peugeot", "Fiat", "Saab", "Volkswagen"), "car"),
         **dict.fromkeys(("Bianchi", "Brompton", "Trek", "Cannondale", "Specialized"), "bike"),
         **dict.fromkeys(("iPhone", "Samsung", "Nokia"), "phone"),
         **dict.fromkeys(("MacBook", "ThinkPad"), "laptop")}
NAME_Q = ("What is {t} called?", ("call", "name"))
# everyday objects whose make a person might be asked for
GEAR = ("headlamp", "watch", "backpack", "rucksack", "jacket", "guitar", "boots", "tent", "camera", "headphones",
        "kettle", "phone", "laptop", "bike", "bicycle", "scooter", "kayak", "paddleboard", "skis", "stove")
BRAND_QS = (("What make is {t}?", ("brand", "make", "made by")), ("Which brand is {t}?", ("brand", "make", "made by")))
TIME_KEYS = (CLOCK, HOUR, "am", "pm", "morning", "evening", "afternoon", "night", "noon", "o'clock", "start")
# (regular activity words, questions with the keywords that rule each out)
ACTIVITIES = (
    (("class", "course", "lesson", "lessons", "workshop"),
     (("What time does {t} start?", TIME_KEYS), ("Who teaches {t}?", ("teach", "taught", "instructor", "tutor", "led")),
      ("How much does {t} cost?", (MONEY, "free", "cost", "price", "fee", "paid")))),
    (("session", "sessions", "practice", "rehearsal"),
     (("What time does {t} start?", TIME_KEYS), ("How long does {t} last?", ("hour", "minute", "min", "long")))),
    (("quiz", "club", "choir"),
     (("What time does {t} start?", TIME_KEYS), ("How much does {t} cost?", (MONEY, "free", "cost", "price", "fee")))),
)
# kind of event -> questions about it; {t} is the swapped event ("the Bergen half marathon")
EVENTS = {
    "race": ("What was {u}'s finishing time in {t}?", "When did {u} run {t}?", "What place did {u} get in {t}?"),
    "conference": ("What did {u} present at {t}?", "When did {u} go to {t}?"),
    "exam": ("What score did {u} get in {t}?", "When did {u} take {t}?"),
}
EVENT_WORDS = {**dict.fromkeys(("half marathon", "marathon", "10k", "5k", "triathlon", "race", "fun run", "ultra",
                                "duathlon"), "race"),
               **dict.fromkeys(("conference", "symposium", "workshop"), "conference"),
               **dict.fromkeys(("exam", "test"), "exam")}
PLACES = ("Bergen", "Lisbon", "Dublin", "Glasgow", "Vienna", "Prague", "Helsinki", "Madrid", "Chicago", "Melbourne",
          "Toronto", "Edinburgh", "Hamburg", "Lyon", "Seville", "Kraków", "Boston", "Nairobi", "Osaka", "Perth")
LANGUAGES = ("Norwegian", "Swedish", "Danish", "German", "French", "Spanish", "Italian", "Dutch", "Portuguese",
             "Japanese", "Finnish", "Polish", "Hindi", "Tamil", "Mandarin", "Arabic")
PLURALS = {"lessons", "sessions"}
# a gear word used as a modifier names another thing ("a bicycle repair shop" is no bicycle)
MODIFIED = r"\s+(?:repair|shop|store|rack|lane|ride|tour|club|race)\b"
_CAP = r"[A-ZÀ-Þ][\w'-]*"
_EVENT_ALT = "|".join(sorted(map(re.escape, EVENT_WORDS), key=len, reverse=True))
# "the Copenhagen half marathon", "my Norwegian B2 exam": capitalised words (and codes like B2) before the kind
_NAMED_BEFORE = re.compile(rf"(?<!\w)(?i:the|a|an|my|his|her)\s+((?:{_CAP}\s+){{1,3}})({_EVENT_ALT})(?!\w)")
# "a conference in Reykjavík": the kind, then its place
_NAMED_AFTER = re.compile(rf"(?<!\w)({_EVENT_ALT})\s+in\s+({_CAP})")


def _texts_with(word: str, texts: list[str]) -> list[str]:
    pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    return [t for t in texts if pattern.search(t)]


def _asked(questions, texts: list[str]) -> list[str]:
    corpus, raw = _corpus(texts), " ".join(texts)
    return [q for q, keys in questions if _absent(keys, corpus, raw)]


def _make_questions(memory_texts: list[str]) -> list[str]:
    details = {word: qs for triggers, qs in DETAILS for word in triggers}
    out = []
    for make, kind in MAKES.items():
        texts = _texts_with(make, memory_texts)
        asked = _asked((*details[kind], NAME_Q), texts) if texts else []  # keywords of every memory naming the make
        for text in texts:
            m = re.search(rf"(?<!\w){re.escape(make)}(?:\s+(?:{_CAP}|\d[\w-]*))?", text)
            out += [q.replace("{t}", f"the {m.group(0)}") for q in asked]
    return out


def _has_brand(word: str, text: str) -> bool:
    """True when `text` names a make next to `word` ("a Bianchi bike", "my bike is a mint-green Bianchi")."""
    if any(make in text for make in MAKES):
        return True
    before = re.search(rf"(?<![.!?:]\s)(?<!^){_CAP}\s+(?:[\w-]+\s+)?{re.escape(word)}\b", text)
    after = re.search(rf"\b{re.escape(word)}\s+(?:is\s+)?(?:a|an)\s+(?:[\w-]+\s+)?{_CAP}", text)
    return bool(before or after)


def _thing(word: str, text: str, user: str) -> str:
    """How a question names the thing: "{u}'s running club" when the user's own, else "the Saturday pottery class"."""
    m = re.search(rf"(?<!\w)(my|{re.escape(user)}'s|his|her|the|a|an)\s+((?:[\w-]+\s+){{0,2}}?){re.escape(word)}(?!\w)",
                  text, re.I)
    mods = [w for w in (m.group(2).split() if m else []) if w.lower() not in ("new", "old") and not w.endswith("'s")]
    owner = "{u}'s" if m and m.group(1).lower() in ("my", f"{user.lower()}'s") else "the"
    return " ".join([owner, *mods, word])


def _object_questions(memory_texts: list[str], user: str) -> list[str]:
    out = []
    for word in GEAR:
        for text in _texts_with(word, memory_texts):
            if not _has_brand(word, text) and not re.search(rf"(?<!\w){word}{MODIFIED}", text):
                out += [q.replace("{t}", _thing(word, text, user)) for q in _asked(BRAND_QS, [text])]
    for words, questions in ACTIVITIES:
        for word in words:
            texts = _texts_with(word, memory_texts)
            asked = _asked(questions, texts) if texts else []
            for text in texts:
                thing = _thing(word, text, user).replace("{u}'s", "the")
                out += [q.replace("does {t}", "do {t}" if word in PLURALS else "does {t}").replace("{t}", thing)
                        for q in asked]
    return out


def _swapped_events(memory_texts: list[str], swaps: int) -> list[str]:
    corpus = _corpus(memory_texts)
    unused_places = [p for p in PLACES if _absent((p,), corpus)]
    unused_languages = [x for x in LANGUAGES if _absent((x,), corpus)]
    out = []
    for k, text in enumerate(memory_texts):
        found = [(m.group(1).split(), m.group(2), "before") for m in _NAMED_BEFORE.finditer(text)]
        found += [([m.group(2)], m.group(1), "after") for m in _NAMED_AFTER.finditer(text) if m.group(2) not in MONTHS]
        for name, event, where in found:
            kind = EVENT_WORDS[event.lower()]
            # the capitalised run is the place; a code ("B2") stays; a language is swapped for another language
            codes = [w for w in name if any(c.isdigit() for c in w)]
            pool = unused_languages if name[0] in LANGUAGES else unused_places
            for j in range(swaps if pool else 0):
                other = pool[(k * swaps + j) % len(pool)]
                if where == "before":
                    thing = f"the {' '.join([other, *codes])} {event.lower()}"
                else:
                    thing = f"the {event.lower()} in {other}"
                out += [q.replace("{t}", thing) for q in EVENTS[kind]]
    return out


def named_thing_questions(memory_texts: list[str], user: str, swaps: int = 2) -> list[str]:
    """Questions (with "{u}" for the user) about details of named things no memory states, and swapped events.

    Args:
        memory_texts: Every memory text of the user.
        user: The user's display name (a thing the user owns is asked as "{u}'s <thing>").
        swaps: Other places (or languages) each named event is asked about with; 0 asks none.

    Returns:
        Unique questions, the three sources interleaved so that a cap on their number takes from each.
    """
    sources = [_make_questions(memory_texts), _object_questions(memory_texts, user),
               _swapped_events(memory_texts, swaps)]
    mixed = [s[i] for i in range(max(map(len, sources), default=0)) for s in sources if i < len(s)]
    return list(dict.fromkeys(mixed))
