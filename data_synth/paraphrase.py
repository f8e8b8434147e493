"""Extra wordings for every slot, so no fact is taught in only one or two phrasings.

Three generic transforms, used by data_synth.rules on top of the per-slot templates of data_synth.questions:
- in-situ questions: the clause with the slot replaced by a wh-phrase ("Maya is allergic to what?",
  "Maya's sister Åsa works as a glacier surveyor based where?");
- lexical variants: every word of the question found in data_synth.synonyms swapped for each of its synonyms;
- unfolded compounds: a possessed noun compound asked with its head noun in front ("Maya's gym locker code" ->
  "the code for Maya's gym locker", "the code for Maya's locker at the gym").
Used as a library; not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import (
    ADJECTIVES,
    ADVERBS,
    DETERMINERS,
    MODALS,
    PREPOSITIONS,
    PRONOUNS,
    WEEKDAYS,
    is_base_verb,
    norm,
    replace_outside_quotes,
)
from data_synth.qa import QA
from data_synth.slots import MONTHS, PLACE_WORDS, Chunk, Clause
from data_synth.synonyms import NOT_SENSES, SENSES, SYNONYMS

PLACE_PREPS = {"in", "at", "to", "near", "into", "based in", "based at", "from", "on"}
MAX_LEXICAL_PER_QUESTION = 3
# Words after which a word is a verb: a noun synonym must not replace it ("never book" -> "never novel").
VERB_MARKERS = "do|does|did|never|always|to|not|I|you|we|they"
MODAL_STARTS = {"can't", "cannot", "won't", "doesn't", "don't", "can", "will", "would"}  # clash with do-support
# Phrases that only qualify another slot ("away from the lift", "rather than tea"): not asked about.
SKIP_PREPS = {"subject", "away from", "rather than", "of", "instead of"}


def _wh_phrases(c: Chunk) -> list[tuple[str, bool]]:
    """wh-phrases that can stand where the chunk stands; True when the phrase replaces the preposition too."""
    k, prep = c.kind, c.prep
    if k in ("place", "name") and prep in PLACE_PREPS:
        return [("where", prep != "from"), ("which place", False)] if prep != "from" else [("where", False)]
    if k == "person" and prep not in ("called",):
        return [("who" if prep == "" else "whom", False)]
    if k == "title" and prep not in ("called",):
        return [("what", False)]  # a quoted title or phrase is a thing, never "whom"
    if k == "date" and re.fullmatch(rf"(?:an?\s+)?(?:{'|'.join(WEEKDAYS)})\.?", c.text.strip()):
        return [("when", prep in ("on", "")), ("which day", False)]
    if k == "date":
        year_only = bool(re.fullmatch(r"(?:19|20)\d{2}", c.text))
        month_only = bool(re.fullmatch(rf"(?:{'|'.join(MONTHS)})", c.text.strip()))  # "in November": not a date
        which = "what year" if year_only else "what month" if month_only else "what date"
        return [("when", prep in ("on", "in", "")), (which, False)]
    if k == "time":
        return [("what time", prep == "at")]
    if k == "money":
        return [("how much", False)]
    if k in ("quantity", "number"):
        return [("how much" if k == "quantity" else "what number", False)]
    if k == "duration":
        return [("how long", prep in ("for",))]
    if k == "freq":
        return [("how often", True)]
    if k == "reason":
        return [("why", True)]
    if k == "thing" and prep not in ("called", "subject"):
        return [("what", False)]
    return []


def in_situ(cl: Clause, short_of) -> list[QA]:
    """Echo questions: the clause with one slot replaced by a wh-phrase.

    Args:
        cl: An analysed clause; its `text` must contain each chunk's text.
        short_of: Function chunk -> short answer text (as data_synth.questions does it).

    Returns:
        One or two questions per slot, grouped with the template questions of the same slot.
    """
    out: list[QA] = []
    text = cl.text.strip().rstrip(".!")
    chunks = [("lead", cl.lead)] if cl.lead is not None else []
    chunks += [(f"c{i}:{c.text}", c) for i, c in enumerate(cl.chunks)]
    for group, c in chunks:
        if c.prep in SKIP_PREPS or c.kind in ("purpose", "condition") or c.text not in text:
            continue
        if cl.copula and c.prep == "" and c.kind == "thing" and not re.match(r"(?i)(a|an|the)\s", c.text):
            continue  # adjective complement ("is allergic to ..."): the phrase after it is the slot
        short = short_of(c)
        for wh, eat_prep in _wh_phrases(c):
            prep = c.prep.lower() if c.prep not in ("", "every", "subject", "because") else ""
            found = re.search(rf"(?i)\b{re.escape(prep)}\s+{re.escape(c.text)}", text) if prep else None
            target = found.group(0) if eat_prep and found else c.text
            if c.kind == "reason" and f"because {c.text}" in text:
                target = f"because {c.text}"
            q = text.replace(target, wh, 1)
            if q.startswith(wh):  # the slot led the clause: a plain wh-question needs no echo form
                continue
            q = re.sub(r"\s+,", ",", q)
            if norm(short) and norm(short) not in norm(q) and len(q) < 200:
                out.append(QA(q[:1].upper() + q[1:] + "?", short, group, f"insitu-{wh}"))
    return out


# Set phrases whose words are never swapped ("do for a living" must not become "do for a residing").
IDIOMS = ("for a living", "make a living", "in charge of", "at home", "on time", "by heart", "like things done",
          "likes things done")


def lexical_variants(qa: QA, limit: int = MAX_LEXICAL_PER_QUESTION) -> list[QA]:
    """Copies of `qa` with one word swapped for a synonym (each synonym of each known word, up to `limit`)."""
    out: list[QA] = []
    fixed = [p for p in IDIOMS if p in qa.question.lower()]
    for word, subs in SYNONYMS.items():
        pat = rf"\b{re.escape(word)}\b"
        if not re.search(pat, qa.question) or any(word in p.split() for p in fixed):
            continue
        if word in SENSES and not re.search(SENSES[word], qa.question, re.I):
            continue  # another sense of the word: "runs a stall" is not "completes a stall"
        if word in NOT_SENSES and re.search(NOT_SENSES[word], qa.question):
            continue  # "have two teeth removed" is not "keep two teeth removed"
        as_verb = is_base_verb(word) and re.search(rf"\b(?:{VERB_MARKERS})\s+{re.escape(word)}\b", qa.question, re.I)
        do_support = re.search(rf"\b(?:do|does|did)\b.*\b{re.escape(word)}\b", qa.question)
        for sub in subs:
            if as_verb and not is_base_verb(sub.split()[0]):
                continue  # "never book anything" is not "never novel anything"
            if do_support and sub.split()[0] in MODAL_STARTS:
                continue  # "What does Lena hate?" never becomes "What does Lena can't stand?"
            q = replace_outside_quotes(qa.question, pat, lambda _m, s=sub: s)
            if q != qa.question and (not qa.short or norm(qa.short) not in norm(q)):
                out.append(QA(q, qa.short, qa.group, qa.wh + "/syn"))
            if len(out) >= limit:
                return out
    return out


# Nouns that name an attribute of the thing before them ("locker code", "badge number"): the head of a compound
# that people also ask about with the head first ("the code for my locker").
ATTRIBUTE_HEADS = {"code", "number", "name", "address", "size", "colour", "color", "price", "title", "model", "brand",
                   "fee", "score", "password", "pin", "time", "date", "breed", "type", "make"}
# Places a compound's first noun can name; they also come after the thing, as "at the gym".
PLACE_NOUNS = PLACE_WORDS | {"work", "workplace", "college", "home", "studio", "pool", "lab", "company"}
_NOT_NOUNS = PREPOSITIONS | DETERMINERS | PRONOUNS | MODALS | ADVERBS | ADJECTIVES | {
    "is", "are", "was", "were", "am", "be", "been", "and", "or", "but", "not", "what", "which", "who", "how", "when",
    "where", "why", "now", "then", "there", "here", "exactly", "current", "old", "new", "first", "last", "favourite",
    "favorite"}
# Modifiers that say which kind of the head it is, not whose: "Ravi's street address" is no "address of his street".
KIND_MODIFIERS = {"street", "email", "e-mail", "maiden", "middle", "full", "user", "nick", "pen", "stage",
                  "web", "postal", "post", "zip", "mailing", "billing", "shipping", "finishing", "starting", "closing",
                  "opening", "best", "personal", "record", "birth"}
_POSS_RE = re.compile(r"\b(?:[A-Z][\w-]*['’]s|my|your|his|her|their)\s+")


def _compound(question: str) -> tuple[int, int, str, list[str], str] | None:
    """(start, end, possessor, modifier nouns, head) of the first possessed compound with an attribute head."""
    for m in _POSS_RE.finditer(question):
        words = list(re.finditer(r"[A-Za-z][\w-]*", question[m.end():]))[:4]
        for k in range(1, len(words)):
            head = words[k]
            if head.group().lower() not in ATTRIBUTE_HEADS:
                continue
            mods = [w.group() for w in words[:k]]
            gaps = question[m.end() + words[0].start(): m.end() + head.start()]
            plain = all(w.islower() and w not in _NOT_NOUNS and not w.endswith(("ly", "ing")) for w in mods)
            if " ".join(mods) + " " != gaps or not plain:
                break
            return m.start(), m.end() + head.end(), m.group().strip(), mods, head.group()
    return None


def unfolded(qa: QA) -> list[QA]:
    """Copies of `qa` asking for a possessed compound's head first: "What is Maya's gym locker code?" -> "What is the
    code for Maya's gym locker?" and, when the compound opens with a place, "... for Maya's locker at the gym?".

    A question taught only as "Maya's X Y Z" was not recognised asked as "the Z for Maya's Y at the X"; the two
    orders are how English says the same thing, so both are taught. Only compounds whose head names an attribute
    (ATTRIBUTE_HEADS) and whose other words are all plain nouns are unfolded.
    """
    found = None if qa.wh.startswith("insitu") else _compound(qa.question)  # "X's code at what is 5" stays as it is
    if found is None or found[3][-1] in KIND_MODIFIERS:
        return []
    start, end, poss, mods, head = found
    prep = "for" if head.lower() in {"code", "password", "pin", "fee", "price"} else "of"
    phrases = [f"the {head} {prep} {poss} {' '.join(mods)}"]
    if len(mods) >= 2 and mods[0] in PLACE_NOUNS:
        phrases.append(f"the {head} {prep} {poss} {' '.join(mods[1:])} at the {mods[0]}")
    out = []
    for i, phrase in enumerate(phrases):
        q = qa.question[:start] + phrase + qa.question[end:]
        if q != qa.question and (not qa.short or norm(qa.short) not in norm(q)):
            out.append(QA(q[:1].upper() + q[1:], qa.short, qa.group, f"{qa.wh}/unfold{i}"))
    return out
