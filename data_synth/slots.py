"""Shallow rule-based analysis of one third-person clause: lead adverbial, subject, verb group and answerable slots.

"On 14 May 2024 Maya ran the Copenhagen half marathon in 1:52:07" ->
lead date "14 May 2024", subject "Maya", aux "did" + verb "run", chunks [object "the Copenhagen half marathon",
"in" time "1:52:07"]. data_synth.rules turns every chunk into questions. Used as a library; not run directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from data_synth.categories import CATEGORY, category
from data_synth.grammar import (
    ADJECTIVES,
    ADVERBS,
    COLOURS,
    DETERMINERS,
    MODALS,
    MONTHS,
    PERSON_NOUNS,
    PREPOSITIONS,
    TITLES,
    WEEKDAYS,
    is_base_verb,
    is_cap,
    tokens,
    verb_info,
)

_MON = "|".join(MONTHS)
_DAY = "|".join(WEEKDAYS)
DATE_RE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MON})\b\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MON})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|(?:{_MON})\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|(?:early|mid|late)?\s*(?:{_MON})\b|(?:19|20)\d{{2}}\b|(?:{_DAY})s?\b)"
)
YEAR_RE = re.compile(r"\b(?:19|20)\d{2}\b")
# A weekday before a common noun describes the noun ("a Saturday pottery class", "the Sunday market"), unless the
# noun is a part of that day ("Saturday morning").
WEEKDAY_MODIFIER_RE = re.compile(rf"\b(?:{_DAY})\s+(?!(?:morning|afternoon|evening|night|lunchtime|noon)s?\b)[a-z]")
TIME_RE = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?|\b\d{1,2}\s?[ap]\.?m\b\.?|\bnoon\b|\bmidnight\b")
DURATION_RE = re.compile(r"\b(?:\d+(?:[.,]\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|half an?)"
                         r"\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|decades?)\b")
MONEY_RE = re.compile(r"[$€£¥]\s?\d[\d,.]*(?:\s?(?:k|m|million|billion))?|\b\d[\d,.]*\s?(?:k\s)?(?:kroner|krona|kronor|"
                      r"dollars?|euros?|pounds?|NOK|SEK|DKK|USD|EUR|GBP|yen|francs?|rupees?|pesos?|cents?)\b")
QUANTITY_RE = re.compile(r"\b\d[\d,.]*\s?(?:ml|l|litres?|liters?|kg|g|grams?|km|kilometres?|kilometers?|miles?|m|"
                         r"metres?|meters?|cm|mm|lbs?|pounds?|oz|cups?|tablespoons?|teaspoons?|pieces?|kcal|%)(?!\w)")
LEAD_WORDS = {"On", "In", "During", "Since", "By", "At", "Last", "Every", "This", "Back", "Until", "From"}
COND_WORDS = {"When", "While", "Whenever", "If", "Before", "After", "Once"}
ING_NOUNS = {"building", "ceiling", "morning", "evening", "wedding", "meeting", "clothing", "feeling",
             "setting", "spring", "string", "something", "anything", "nothing", "everything", "during", "earring"}
NAME_VERBS = {"called", "named", "nicknamed", "dubbed", "calls", "call", "names"}
PARTICLES = {"up", "off", "out", "down", "back", "away", "over"}
COMPOUND_PREPS = {("away", "from"), ("next", "to"), ("rather", "than"), ("instead", "of"), ("because", "of"),
                  ("due", "to"), ("close", "to"), ("according", "to"), ("up", "to"), ("out", "of")}
# Deictic time words that end a phrase ("on Anglesea Street now") but are not part of the answer.
TRAILING_TIME_RE = re.compile(r"\s+(?:now|today|these days|this morning|this evening|tonight)$")
RELATIVISERS = {"that", "which", "who", "whom", "she", "he", "they", "it"}
PLACE_PREPS = {"in", "at", "to", "from", "near", "on", "into", "based in", "based at", "around", "outside"}
PLACE_WORDS = {"city", "town", "village", "street", "road", "island", "country", "beach", "park", "lake", "river",
               "mountain", "bay", "fjord", "harbour", "harbor", "station", "airport", "clinic", "hospital", "cafe",
               "café", "restaurant", "bar", "pub", "hotel", "club", "gym", "university", "school", "institute",
               "office", "shop", "store", "market", "library", "museum", "church", "square", "district", "valley"}


@dataclass
class Chunk:
    """One answerable phrase of a clause.

    Attributes:
        prep: "" for the object/complement, a preposition ("to", "in", "based in"), "called", "to-inf", "because",
            "every", or "subject" for the appositive name in the subject.
        text: The phrase without its preposition, exactly as in the sentence ("Tromsø", "March 2023").
        kind: date|time|duration|money|quantity|number|title|person|place|name|thing|freq|reason|purpose|condition.
        head: Short common-noun head for "which X" questions ("route", "sourdough starter"), "" when none.
        participle: Reduced relative verb before the preposition ("based", "bought", "living"), "" when none.
        after_comma: True when the chunk follows a comma (an afterthought, kept out of other questions).
    """

    prep: str
    text: str
    kind: str
    head: str = ""
    participle: str = ""
    after_comma: bool = False


@dataclass
class Clause:
    """A clause split into the parts questions are built from (see module docstring)."""

    text: str
    user: str
    subject: str = ""
    owner: str = ""
    head: str = ""
    name: str = ""
    subj_kind: str = "np"
    adverbs: str = ""
    aux: str = ""
    verb: str = ""
    copula: bool = False
    lead: Chunk | None = None
    chunks: list[Chunk] = field(default_factory=list)
    rest: str = ""  # a coordinated verb phrase ("and feeds it ...") to analyse as its own clause

    @property
    def person(self) -> bool:
        """True when the subject is a person (so "who" and job questions fit)."""
        if self.subj_kind in ("user", "name"):
            return True
        return any(w in PERSON_NOUNS for w in self.head.lower().split()) or self.head.lower() in PERSON_NOUNS


def classify(text: str, prep: str, user: str = "") -> str:
    """Slot type of a phrase, from its shape and the preposition before it."""
    if user and text.startswith(user + "'s "):
        text = text[len(user) + 3:]
    bare = re.sub(r"^(?:the|a|an|exactly|about|around|only|number)\s+", "", text, flags=re.I)
    if prep == "every" or re.match(r"(?i)every\b|each\b", text) or re.search(rf"\b(?:{_DAY})s\b", text):
        return "freq"
    if MONEY_RE.search(text):
        return "money"
    if TIME_RE.fullmatch(bare.strip()) or (TIME_RE.search(text) and not DATE_RE.search(text)):
        return "time"
    if DATE_RE.fullmatch(bare.strip()) or (DATE_RE.search(text) and len(text.split()) <= 4 and prep != ""
                                          and not WEEKDAY_MODIFIER_RE.search(text)):
        return "date"
    if DURATION_RE.search(text):
        return "duration"
    if QUANTITY_RE.search(text):
        return "quantity"
    if re.fullmatch(r"\d[\w,.:/]*", bare.strip()) or re.fullmatch(r"\+?\d[\d ()-]{5,}\d", bare.strip()):
        return "number"  # a code, or a phone number written in groups ("021 555 0938")
    if text[:1] in "'‘\"“":
        return "title"
    if prep in PLACE_PREPS and re.search(r"^(?:the|a)\s[a-z\s]+\sof\s+[A-Z]", text):
        return "place"  # "the small town of Wernigerode"
    rel = re.match(r"^(?:the\s+|a\s+|an\s+)?([a-z]+(?:\s+[a-z]+)?)\s+([A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*)$", text)
    if rel and rel.group(1).split()[-1] in PERSON_NOUNS:
        return "person"  # "grandmother Nkechi"
    words = re.sub(r"^(?:the|a|an)\s+", "", text).split()
    connectors = {"of", "the", "at", "de", "da", "van", "von", "und", "and", "la", "le", "del", "y", "&"}
    if words and (is_cap(words[0]) or words[0].rstrip(".") in TITLES) and all(
            is_cap(w) or w in connectors or w[:1].isdigit() or w == "." for w in words):
        if words[0].rstrip(".") in TITLES or prep in ("with", "by"):
            return "person"
        if prep in PLACE_PREPS and not any(w.lower() in PLACE_WORDS and w[0].isupper() for w in words):
            return "place"
        return "name"
    return "thing"


def noun_head(text: str, user: str = "") -> str:
    """Trailing common-noun words of a phrase ("a tiny shop" -> "shop", "Maya's kelp growth paper" -> same minus
    owner), used in "which X" questions; "" when the phrase has none."""
    text = re.sub(rf"^.*?\b{re.escape(user)}'s\s+", "", text) if user else text
    m = re.search(r"\bof\s+[A-Z0-9'‘]", text)
    if m:
        text = text[:m.start()]
    words = [w.strip(",.") for w in text.split()]
    out: list[str] = []
    for w in reversed(words):
        low = w.lower()
        if (not w or not w[0].islower() or low in DETERMINERS or low in ADJECTIVES or low in ADVERBS
                or any(c.isdigit() for c in w) or low in PREPOSITIONS or low.split("-")[-1] in COLOURS
                or low in ("mint", "rust") or w.endswith("'s")):
            if out:
                break
            continue
        out.insert(0, w)
        if len(out) == 3:
            break
    if not out or (len(out) == 1 and out[0].lower() in CATEGORY):
        # "a silver 2012 Mazda Demio" has no common-noun head, "amoxicillin" is one of a kind: ask by the kind.
        return category(text) or " ".join(out)
    return " ".join(out)


def _find_verb(words: list[str], start: int, user: str) -> int | None:
    for j in range(start + 1, len(words)):
        w, low = words[j], words[j].lower()
        prev = words[j - 1].lower()
        if low in ("is", "was", "are", "were", "has", "had", "have") or low in MODALS:
            return j
        info = verb_info(low)
        if info and info[1] in ("pres", "past") and w.islower() and low not in ADJECTIVES:
            if info[1] == "past" and (prev.endswith("'s") or prev in DETERMINERS or prev in ADJECTIVES):
                continue
            if prev in PREPOSITIONS:
                continue
            return j
        if j == start + 1 and words[start] == user and low not in ADVERBS and re.fullmatch(r"[a-z]{3,}(?:s|ed)", w):
            return j  # unknown verb right after the user's name ("Maya tinkers ...")
        if (j > start + 1 and is_base_verb(low) and w.islower() and words[j - 1].endswith("s")
                and all(is_cap(x) for x in words[start:j])):
            return j  # a plural name ("The Quizzly Bears play at ...")
    return None


def _split_subject(subject: str, user: str, clause: Clause) -> list[Chunk]:
    """Fill owner/head/name of the subject; returns chunks found inside it (appositive name, inner PPs)."""
    clause.subject = subject
    chunks: list[Chunk] = []
    if subject == user:
        clause.subj_kind = "user"
        return chunks
    m = re.match(r"^([A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*)'s\s+(.+)$", subject)
    if m:
        clause.owner, rest = m.group(1), m.group(2)
        clause.subj_kind = "owned"
        # Inner preposition phrase: "flat on Storgata", "locker number at the swimming hall".
        pm = re.search(r"\s(on|at|in|from|for|of)\s+(?=\S)", rest)
        inner = ""
        if pm and pm.group(1) != "of":
            inner_prep, inner = pm.group(1), rest[pm.end():]
            rest = rest[:pm.start()]
        name = ""
        nm = re.search(r"(?:,\s*|\s)((?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-ZÀ-ÞØ][\w\-]*(?:\s+[A-ZÀ-ÞØ][\w\-]*)*)\s*,?$",
                       inner or rest)
        if inner and nm:
            # "friend from university, José Albarracín" -> the name belongs to the head, not to the inner phrase.
            name, inner = nm.group(1), inner[:nm.start()].strip(" ,")
        elif nm and not inner:
            name, rest = nm.group(1), rest[:nm.start()].strip(" ,")
        clause.head, clause.name = rest.strip(" ,"), name
        if name and not noun_head(clause.head) and category(name):
            clause.head = category(name)  # "my silver 2012 Mazda Demio" -> the user's car
        if inner:
            chunks.append(Chunk(inner_prep, inner.strip(" ,"), classify(inner.strip(" ,"), inner_prep),
                                head=noun_head(inner), after_comma=True))
        if name and rest.strip():
            chunks.append(Chunk("subject", name, "person" if clause.person else "name", head=clause.head))
        return chunks
    if is_cap(subject.split()[0]) and all(is_cap(w) or w in ",-" for w in subject.split()):
        clause.subj_kind, clause.name = "name", subject.strip(" ,")
    return chunks


# -ing words that follow "is" as adjectives ("the view is stunning"), never as a verb in progress
ING_ADJECTIVES = frozenset(
    "interesting boring amazing charming exciting annoying relaxing surprising confusing tiring inspiring "
    "disappointing frustrating fascinating rewarding demanding challenging worrying embarrassing shocking "
    "terrifying satisfying promising stunning missing outstanding willing loving caring".split())


def ing_base(word: str) -> str | None:
    """The base verb of an -ing form ("training" -> "train", "running" -> "run", "moving" -> "move"), else None."""
    low = word.lower()
    if not low.endswith("ing") or len(low) < 5:
        return None
    stem = low[:-3]
    for base in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else "",
                 stem[:-1] + "ie" if stem.endswith("y") else ""):
        if base and is_base_verb(base):
            return base
    return None


def _progressive(words: list[str], j: int) -> bool:
    """Whether words[j] is the -ing verb of a progressive ("is training for ..."), with something after it."""
    if j + 1 >= len(words) or not words[j].islower() or words[j] in ING_ADJECTIVES or words[j] in ING_NOUNS:
        return False
    return ing_base(words[j]) is not None and words[j + 1] not in (",", ".", "to")


def analyse(text: str, user: str) -> Clause:
    """Analyse one third-person clause (no final period). Never raises; unparseable parts are left out."""
    clause = Clause(text=text, user=user)
    toks = tokens(text)
    words = [t for t, _, _ in toks]
    if not words:
        return clause
    i = 0
    if words[0] in LEAD_WORDS:
        m = DATE_RE.match(text, toks[1][1]) if len(toks) > 1 else None
        if m:
            clause.lead = Chunk(words[0].lower(), m.group(0), classify(m.group(0), words[0].lower()))
            while i < len(toks) and toks[i][1] < m.end():
                i += 1
            i += words[i:i + 1] == [","]
    elif words[0] in COND_WORDS and "," in words:
        c = words.index(",")
        clause.lead = Chunk(words[0].lower(), text[toks[1][1]:toks[c][1]].strip(), "condition")
        i = c + 1
    v = _find_verb(words, i, user) if i < len(words) else None
    if v is None:
        return clause
    a = v
    while a - 1 > i and words[a - 1].lower() in ADVERBS:
        a -= 1
    clause.adverbs = " ".join(words[a:v]).lower()
    subject = text[toks[i][1]:toks[a - 1][2]].strip(" ,")
    chunks = _split_subject(subject, user, clause)
    j, low = v + 1, words[v].lower()
    while j < len(words) and words[j].lower() in ADVERBS:  # "can't really stand", "is always"
        clause.adverbs = (clause.adverbs + " " + words[j].lower()).strip()
        j += 1
    if low in ("is", "was", "are", "were") and _progressive(words, j):
        # "Priya is training for the triathlon": asked "What is Priya training for?", not as a copula's complement
        clause.aux, clause.verb = low, words[j].lower()
        j += 1
    elif low in ("is", "was", "are", "were"):
        clause.copula, clause.aux = True, low
    elif low in ("has", "had", "have") and j < len(words) and (verb_info(words[j]) or ("", ""))[1] in ("part", "past"):
        clause.aux, clause.verb = low, words[j].lower()
        j += 1
    elif low in ("has", "had", "have"):
        clause.aux, clause.verb = ("did" if low == "had" else "does"), "have"
    elif low in ("does", "did") and j < len(words) and words[j].lower() in DETERMINERS:
        clause.aux, clause.verb = low, "do"  # "does the pub quiz": "do" is the main verb here
    elif low in MODALS:
        clause.aux = low
        if j < len(words):
            clause.verb, j = words[j].lower(), j + 1
    else:
        base, tense = verb_info(low) or (re.sub(r"(?:e?s|ed)$", "", low), "pres" if low.endswith("s") else "past")
        clause.aux = "did" if tense in ("past", "part") else "do" if tense == "base" else "does"
        clause.verb = base
    if clause.verb and j < len(words) and words[j] in PARTICLES and not (j + 1 < len(words) and (words[j], words[j + 1])
                                                                          in COMPOUND_PREPS):
        clause.verb, j = clause.verb + " " + words[j], j + 1
    # "needs to water", "learned to knit": an infinitive straight after the verb is part of the verb phrase.
    while clause.verb and j + 1 < len(words) and words[j] == "to" and is_base_verb(words[j + 1]):
        clause.verb, j = f"{clause.verb} to {words[j + 1].lower()}", j + 2
    clause.chunks = chunks + _chunk(text, toks, j, clause)
    return clause


def _chunk(text: str, toks: list, j: int, clause: Clause) -> list[Chunk]:
    """Cut the predicate into chunks at prepositions, commas, naming verbs and reason words."""
    words = [t for t, _, _ in toks]
    raw: list[list] = []  # [prep, start_tok, end_tok, participle, after_comma]
    cur = ["", j, j, "", False]
    comma = False
    participle = ""

    def close(k: int):
        end = k
        while end > cur[1] and words[end - 1].lower() in RELATIVISERS | {clause.user.lower(), ","}:
            end -= 1  # "a Volvo that Maya named X": the relativiser belongs to the naming, not to the NP
        if end > cur[1]:
            raw.append([cur[0], cur[1], end, cur[3], cur[4]])

    k = j
    while k < len(words):
        w, low = words[k], words[k].lower()
        nxt = words[k + 1].lower() if k + 1 < len(words) else ""
        if w == ",":
            close(k)
            comma, participle = True, ""
            cur = ["", k + 1, k + 1, "", True]
        elif low in ("and", "but", "or") and _coordinated_verb(words, k + 1):
            close(k)
            clause.rest = text[toks[k + 1][1]:]
            return _finish(text, toks, raw, clause)
        elif low in ("if", "unless") and k > j:
            break  # a condition on the fact ("07700 900417 if the clinic asks") is not part of the answer
        elif low in ("don't", "do", "never", "please") and comma:
            break  # trailing instruction after a comma ("5173, don't write it anywhere else")
        elif low in NAME_VERBS:
            close(k)
            cur = ["called", k + 1, k + 1, "", comma]
        elif low in ("because", "since") and not DATE_RE.match(text, toks[k + 1][1] if k + 1 < len(toks) else 0):
            close(k)
            raw.append(["because", k + 1, len(words), "", comma])
            return _finish(text, toks, raw, clause)
        elif low == "to" and is_base_verb(nxt):
            close(k)
            cur = ["to-inf", k + 1, k + 1, "", comma]
        elif (low, nxt) in COMPOUND_PREPS:
            close(k)
            cur = [f"{low} {nxt}", k + 2, k + 2, participle, comma]
            k += 1
        elif low in ("every", "each") and k > cur[1] and words[k - 1].lower() != "of":  # "the 3rd of each month"
            close(k)
            cur = ["every", k, k, "", comma]
        elif w in PREPOSITIONS and low != "of" and not (is_cap(words[k - 1]) and is_cap(nxt) and
                                                                  cur[0] in ("", "called")):
            close(k)
            cur = [low, k + 1, k + 1, participle, comma]
            participle = ""
        elif (cur[0] == "" and k > max(j, cur[1]) and _ing_verb(low) and nxt.islower() and nxt not in PREPOSITIONS
              and nxt not in DETERMINERS and not words[k - 1].endswith("'s")
              and words[k - 1].lower() not in DETERMINERS | ADJECTIVES):
            # "broke my left ankle playing futsal": what the user was doing is a slot of its own
            close(k)
            cur = ["", k + 1, k + 1, low, comma]
        elif (w.islower() and (low.endswith("ing") or (verb_info(low) or ("", ""))[1] in ("part", "past"))
              and nxt in PREPOSITIONS and low not in PREPOSITIONS and k > j
              and not words[k - 1].endswith("'s") and words[k - 1].lower() not in DETERMINERS):  # "Divya's wedding"
            close(k)
            participle = low
            cur = ["", k + 1, k + 1, "", comma]
        elif low in ("especially", "particularly", "including", "mainly"):
            close(k)
            cur = ["", k + 1, k + 1, "", comma]
        k += 1
    close(k)  # k < len(words) after a break: the trailing condition or instruction is left out
    return _finish(text, toks, raw, clause)


def _ing_verb(word: str) -> bool:
    """An -ing form of a known verb ("playing", "painting"), not a noun that ends so ("evening", "wedding")."""
    if not word.endswith("ing") or len(word) < 6 or word in ING_NOUNS:
        return False
    stem = word[:-3]
    return any(is_base_verb(c) for c in (stem, stem + "e", stem[:-1] if stem[-1:] == stem[-2:-1] else ""))


def _coordinated_verb(words: list[str], k: int) -> bool:
    """True when words[k:] opens a second verb phrase, perhaps after adverbs ("and only takes cash")."""
    while k < len(words) - 1 and words[k].lower() in ADVERBS:
        k += 1
    info = verb_info(words[k].lower()) if k < len(words) else None
    return bool(info and info[1] in ("pres", "past") and words[k].islower())


def _finish(text: str, toks: list, raw: list, clause: Clause) -> list[Chunk]:
    chunks = []
    for prep, s, e, participle, after_comma in raw:
        phrase = TRAILING_TIME_RE.sub("", text[toks[s][1]:toks[e - 1][2]].strip(" ,"))
        if prep == "based" or not re.search(r"\w", phrase):
            continue
        if prep in ("in", "at") and participle == "based":
            prep = "based " + prep
        if prep == "to-inf":
            kind = "purpose"
        elif prep == "because":
            kind = "reason"
        elif prep == "called":
            kind = "name"
        else:
            kind = classify(phrase, prep, clause.user)
        head = noun_head(phrase, clause.user) if kind in ("thing", "quantity", "freq", "place", "name") else ""
        chunks.append(Chunk(prep, phrase, kind, head=head if prep != "called" else "", participle=participle,
                            after_comma=after_comma))
    return chunks
