"""Small hand-written English grammar helpers for the rule-based synthesizer (no models, no network).

Holds the word lists (verbs with irregular forms, adverbs, prepositions, relation nouns), verb
conjugation, tokenisation, and the rewrite of a raw memory into third-person clauses about the user
("btw my bike is ..." -> "Maya's bike is ..."). Used by data_synth.slots and data_synth.rules; not run directly.
"""

from __future__ import annotations

import re
import unicodedata

# Irregular verbs: base -> (past, past participle). Everything else is conjugated regularly.
IRREGULAR = {
    "be": ("was", "been"), "have": ("had", "had"), "do": ("did", "done"), "go": ("went", "gone"),
    "run": ("ran", "run"), "buy": ("bought", "bought"), "bring": ("brought", "brought"),
    "break": ("broke", "broken"), "build": ("built", "built"), "catch": ("caught", "caught"),
    "choose": ("chose", "chosen"), "come": ("came", "come"), "cut": ("cut", "cut"), "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"), "eat": ("ate", "eaten"), "fall": ("fell", "fallen"), "feed": ("fed", "fed"),
    "feel": ("felt", "felt"), "find": ("found", "found"), "fly": ("flew", "flown"), "forget": ("forgot", "forgotten"),
    "get": ("got", "got"), "give": ("gave", "given"), "grow": ("grew", "grown"), "hear": ("heard", "heard"),
    "hold": ("held", "held"), "keep": ("kept", "kept"), "know": ("knew", "known"), "lead": ("led", "led"),
    "leave": ("left", "left"), "lend": ("lent", "lent"), "lose": ("lost", "lost"), "make": ("made", "made"),
    "meet": ("met", "met"), "pay": ("paid", "paid"), "put": ("put", "put"), "read": ("read", "read"),
    "ride": ("rode", "ridden"), "say": ("said", "said"), "see": ("saw", "seen"), "sell": ("sold", "sold"),
    "send": ("sent", "sent"), "set": ("set", "set"), "sing": ("sang", "sung"), "sit": ("sat", "sat"),
    "sleep": ("slept", "slept"), "speak": ("spoke", "spoken"), "spend": ("spent", "spent"),
    "stand": ("stood", "stood"), "swim": ("swam", "swum"), "take": ("took", "taken"), "teach": ("taught", "taught"),
    "tell": ("told", "told"), "think": ("thought", "thought"), "throw": ("threw", "thrown"),
    "understand": ("understood", "understood"), "wake": ("woke", "woken"), "wear": ("wore", "worn"),
    "win": ("won", "won"), "write": ("wrote", "written"), "begin": ("began", "begun"), "become": ("became", "become"),
    "hit": ("hit", "hit"), "quit": ("quit", "quit"), "let": ("let", "let"), "cost": ("cost", "cost"),
    "learn": ("learned", "learned"), "hang": ("hung", "hung"), "ring": ("rang", "rung"), "shoot": ("shot", "shot"),
    "hurt": ("hurt", "hurt"),
    "steal": ("stole", "stolen"), "draw": ("drew", "drawn"), "dig": ("dug", "dug"), "bite": ("bit", "bitten"),
}

# Common regular verbs; with IRREGULAR they make the lexicon used to find the main verb of a clause.
_REGULAR = """
sprain twist injure fracture pull strain bruise convert translate text message
add adopt agree allow answer appear arrive ask attend avoid bake believe belong book borrow brew brush call
camp carry celebrate change chat check clean climb coach code collect commute compete complete cook count crochet
cycle dance decide deliver design develop donate dream dress drop earn edit email enjoy expire explain fix follow
foster graduate greet guide hate help hike host hope hug hunt inherit intend invest join jog kayak kick knit like
listen live look love manage marry measure mentor miss move name need open order organise organize own paddle paint
pass perform pick plan plant play practice practise prefer prepare present print program publish rent relocate
remember renew repair request rescue retire return review roast row sail save schedule score serve share shop sign
ski skate smile sponsor start stay stop store study subscribe support surf switch talk taste train travel try tutor
type use visit volunteer vote walk want wash watch water weigh work worry yell use bike drum hike garden reply
recommend remind pack base locate situate decorate found fancy dislike admire adore
miss order photograph film record release
""".split()

MODALS = {"can", "can't", "cannot", "could", "couldn't", "will", "won't", "would", "wouldn't", "should",
          "shouldn't", "must", "may", "might", "doesn't", "didn't", "does", "did"}
ADVERBS = {"always", "never", "usually", "often", "also", "still", "really", "just", "sometimes", "rarely",
           "currently", "recently", "now", "normally", "generally", "typically", "only", "even", "already", "once",
           "mostly", "regularly", "occasionally", "seldom", "absolutely", "definitely", "totally", "strongly",
           "finally", "eventually"}
PREPOSITIONS = {"in", "at", "to", "from", "with", "for", "on", "by", "near", "during", "since", "until", "before",
                "after", "above", "below", "over", "under", "about", "into", "onto", "across", "through", "around",
                "as", "of", "without", "off", "like", "via", "per", "against", "between", "behind", "outside", "inside"}
DETERMINERS = {"a", "an", "the", "this", "that", "these", "those", "some", "any", "every", "each", "no", "his",
               "her", "their", "its", "our", "your", "my", "one", "two", "three", "several", "many"}
PRONOUNS = {"he", "she", "they", "it", "him", "them", "we", "us", "you"}
# Nouns for people related to the user: these make "who" questions and "What does X do" questions sensible.
PERSON_NOUNS = {
    "sister", "brother", "mother", "father", "mom", "mum", "dad", "parent", "parents", "partner", "husband", "wife",
    "boyfriend", "girlfriend", "fiance", "fiancee", "friend", "son", "daughter", "grandmother", "grandfather",
    "grandma", "grandpa", "granny", "aunt", "uncle", "cousin", "niece", "nephew", "colleague", "boss", "manager",
    "neighbour", "neighbor", "roommate", "flatmate", "housemate", "dentist", "doctor", "therapist", "teacher",
    "coach", "landlord", "landlady", "mentor", "supervisor", "stepmother", "stepfather", "child", "kid", "baby",
    "best friend", "vet", "physio", "trainer", "tutor", "student", "classmate", "coworker", "teammate", "godmother",
    "godfather", "twin",
}
COLOURS = {"red", "green", "blue", "yellow", "orange", "purple", "pink", "black", "white", "grey", "gray", "brown",
           "teal", "turquoise", "navy", "silver", "gold", "beige", "maroon", "violet", "cream", "mint", "rust"}
ADJECTIVES = {"tiny", "small", "big", "large", "little", "old", "new", "young", "deep", "bright", "dark", "light",
              "pale", "good", "best", "local", "huge", "cute", "lovely", "beautiful", "favourite", "favorite",
              "closest", "close", "retired", "former", "current", "older", "younger", "elder", "left", "right",
              "exactly", "whole", "own", "tall", "short", "long", "cheap", "expensive", "nice", "great", "vintage",
              "main", "first", "second", "third", "fourth", "fifth", "sixth", "last", "next", "daily", "weekly"}
# What kind of thing the object of a verb usually is, for "What car does Maya drive?".
VERB_OBJECT_NOUN = {
    "drive": "car", "ride": "bike", "play": "instrument", "read": "book", "speak": "language", "study": "subject",
    "eat": "food", "drink": "drink", "watch": "thing", "wear": "clothing", "sing": "song",
    "teach": "subject", "learn": "skill", "own": "thing", "adopt": "pet", "win": "prize", "break": "body part",
    "hurt": "body part", "sprain": "body part", "injure": "body part", "fracture": "body part",
    "present": "work", "pass": "exam", "take": "drink", "carry": "item", "keep": "thing", "cook": "dish",
}
MONTHS = ("January February March April May June July August September October November December "
          "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec").split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
TITLES = {"Dr", "Mr", "Mrs", "Ms", "Prof", "St", "Sr", "Jr", "Mt"}


def _regular_past(base: str) -> str:
    if base.endswith("e"):
        return base + "d"
    if re.search(r"[^aeiou]y$", base):
        return base[:-1] + "ied"
    # Double the final consonant of short CVC verbs (stop -> stopped, plan -> planned); ends in w/x/y never double.
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", base) and len(base) <= 4:
        return base + base[-1] + "ed"
    return base + "ed"


def third_singular(base: str) -> str:
    """Present-tense third-person singular of a base verb ("go" -> "goes", "carry" -> "carries")."""
    if base == "be":
        return "is"
    if base == "have":
        return "has"
    if " " in base:  # "pick up" -> "picks up"
        head, rest = base.split(" ", 1)
        return third_singular(head) + " " + rest
    if re.search(r"(s|sh|ch|x|z|o)$", base):
        return base + "es"
    if re.search(r"[^aeiou]y$", base):
        return base[:-1] + "ies"
    return base + "s"


def past_participle(base: str) -> str:
    """Past participle of a base verb ("water" -> "watered", "drive" -> "driven", "pick up" -> "picked up")."""
    head, _, rest = base.partition(" ")
    form = IRREGULAR[head][1] if head in IRREGULAR else _regular_past(head)
    return f"{form} {rest}".strip()


def past_tense(base: str) -> str:
    """Simple past of a base verb."""
    if " " in base:
        head, rest = base.split(" ", 1)
        return past_tense(head) + " " + rest
    return IRREGULAR[base][0] if base in IRREGULAR else _regular_past(base)


def _build_forms() -> dict[str, tuple[str, str]]:
    forms: dict[str, tuple[str, str]] = {}
    for base in sorted(set(_REGULAR) | set(IRREGULAR)):
        past, part = IRREGULAR.get(base, (_regular_past(base), _regular_past(base)))
        # Order matters: a base form that equals a past form ("put", "read") is read as past in statements.
        forms.setdefault(third_singular(base), (base, "pres"))
        forms.setdefault(part, (base, "part"))
        forms[past] = (base, "past")
        forms.setdefault(base, (base, "base"))
    forms["is"], forms["are"], forms["am"] = ("be", "pres"), ("be", "base"), ("be", "pres")
    forms["was"], forms["were"] = ("be", "past"), ("be", "past")
    forms["learnt"] = ("learn", "past")
    return forms


VERB_FORMS = _build_forms()
_REGULAR_SET = frozenset(_REGULAR)


def is_base_verb(word: str) -> bool:
    """True when `word` is the base form of a known verb (also for "put"/"read", whose past looks the same)."""
    return word.lower() in IRREGULAR or word.lower() in _REGULAR_SET


def verb_info(word: str) -> tuple[str, str] | None:
    """(base, tense) for a known verb form, tense in base|pres|past|part; None for unknown words."""
    return VERB_FORMS.get(word.lower())


# One token: a quoted title, a number with separators/suffix (1:52:07, 3,400, 47B), a word (Maya's, Wi-Fi), or punct.
TOKEN_RE = re.compile(
    r"(?<!\w)['‘\"“][^'’\"”]{2,80}['’\"”](?!\w)"
    r"|[$€£¥]?\d(?:[\d,.:/]*\d)?(?:[a-zA-Z]{1,3}\b)?"
    r"|[^\W\d_](?:[\w'’\-]*[\w])?"
    r"|[^\w\s]"
)


def tokens(text: str) -> list[tuple[str, int, int]]:
    """Split text into (token, start, end) triples; quoted titles stay one token."""
    return [(m.group(0), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def is_cap(tok: str) -> bool:
    """True for a capitalised word or a quoted title (name-like tokens)."""
    return bool(tok) and (tok[0].isupper() or tok[0] in "'‘\"“") and tok != "I"


def strip_symbols(text: str) -> str:
    """Drop emoji and other pictographs (they carry no answerable fact) and collapse whitespace."""
    text = unicodedata.normalize("NFC", text)
    kept = [c for c in text if unicodedata.category(c) not in ("So", "Cs", "Co", "Cn") and c not in "\u200d\ufe0f"]
    return re.sub(r"\s+", " ", "".join(kept)).strip()


# Note-taking prefixes that are not part of the fact: "btw", "Note:", "fyi", "reminder:", "todo -", "ps".
PREFIX_RE = re.compile(
    r"^(?:(?:user|human)\s*:\s*"  # a chat line pasted with its speaker label
    r"|(?:btw|by the way|fyi|fwiw|ps|p\.s\.|nb|n\.b\.|oh and|just so you know|heads up)\b[\s:,\-–]*"
    r"|(?:note|reminder|todo|to-do|to do|remember|important|update|memo|info|fact)\s*[:\-–]+\s*)",
    re.IGNORECASE,
)


def strip_prefixes(text: str) -> tuple[str, bool]:
    """Remove leading note-taking prefixes; returns (text, whether a todo/reminder-style prefix was removed)."""
    todo = False
    while True:
        m = PREFIX_RE.match(text)
        if not m or m.end() == 0:
            return text.strip(), todo
        todo = todo or bool(re.match(r"(?i)(todo|to-do|to do|reminder|remember)", m.group(0)))
        text = text[m.end():].lstrip()


ABBREV_RE = re.compile(r"\b(Dr|Mr|Mrs|Ms|Prof|St|Sr|Jr|Mt|e\.g|i\.e|etc|approx|vs)\.", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Split on sentence punctuation, not after titles like "Dr." or inside numbers like "3.5"."""
    protected = ABBREV_RE.sub(lambda m: m.group(0).replace(".", "\x00"), text)
    parts = re.split(r"(?<=[.!?;])\s+(?=\S)", protected)
    return [p.replace("\x00", ".").strip() for p in parts if p.strip(" .!?;")]


def replace_outside_quotes(text: str, pattern: str, repl, flags: int = 0) -> str:
    """re.sub that leaves quoted titles ('Warm tides, Maya') untouched."""
    out, last = [], 0
    for m in re.finditer(r"(?<!\w)['‘\"“][^'’\"”]{2,80}['’\"”](?!\w)", text):
        out.append(re.sub(pattern, repl, text[last:m.start()], flags=flags))
        out.append(m.group(0))
        last = m.end()
    out.append(re.sub(pattern, repl, text[last:], flags=flags))
    return "".join(out)


def possessive(name: str) -> str:
    """English possessive of a name ("Maya" -> "Maya's", "Lars" -> "Lars's")."""
    return name + "'s"


def cap_first(text: str) -> str:
    """Upper-case the first character only (keeps names like "iPhone" inside intact)."""
    return text[:1].upper() + text[1:] if text else text


def norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form, used for grounding and self-answer checks."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("ø", "o").replace("æ", "ae").replace("ß", "ss").replace("đ", "d").replace("ł", "l")
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()
