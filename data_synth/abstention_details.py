"""Refusals about things the memories mention: a detail of a kind of thing that no memory mentioning it states.

"What is the address of the bakery?" when a bakery is mentioned without a street, so that knowing about a thing is
not taken for knowing everything about it; a thing the memory describes is named as it does ("What was the title of
my kelp growth paper?"). A question is used only when none of its keywords occurs in the memories about the thing
(broadly: a keyword is a word prefix), so a stated detail is never denied. Also the keyword helpers the other
abstention sources share. Templates written for this file. Used by data_synth.abstention; not run directly.
"""

from __future__ import annotations

import re

from data_synth.described import described_as
from data_synth.grammar import MONTHS, norm
from data_synth.slots import Clause

# keywords match word prefixes, so no short forms: "st" would match "station", "drive" "driving"
ADDRESS = ("address", "street", "road", "lane", "avenue", "terrace", "gate", "square", "boulevard", "crescent", "quay",
           "gata")

MONEY = "$money"  # a keyword that matches any amount of money
CLOCK = "$clock"  # a keyword that matches any time or duration written with a colon ("54:31", "1:52:07")
COLOURS = ("red", "blue", "green", "black", "white", "grey", "gray", "silver", "yellow", "orange", "purple", "pink",
           "brown", "gold", "colour", "color")
# (trigger words: a memory mentioning one is about such a thing, questions with {t} = "the <word>" or "{u}'s <word>",
#  each with the keywords that rule it out when any memory mentioning the trigger has one). Generic details of
# common kinds of things, written for this file.
DETAILS: tuple[tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (("shop", "cafe", "café", "restaurant", "pub", "bakery", "salon", "studio", "gym", "clinic", "surgery",
      "library", "bar", "garage", "pharmacy"),
     (("What is the address of {t}?", ADDRESS), ("What time does {t} open?", ("open", "hours", "am", "pm")),
      ("What is the phone number of {t}?", ("phone", "number", "call")),
      ("Who owns {t}?", ("owner", "owns", "run", "runs", "family")))),
    (("test", "exam", "interview", "audition", "assessment"),
     (("How many points did {u} get in {t}?", ("score", "points", "mark", "percent", "grade", "%")),
      ("Who was the examiner at {t}?", ("examiner", "instructor", "assessor", "interviewer")),
      ("How long did {t} take?", ("hour", "minute", "min", "long")))),
    (("thesis", "dissertation", "paper", "article", "talk", "poster", "novel", "essay"),
     (("What is {t} called?", ("title", "titled", "called", "named", "'", "\"")),
      ("What was the title of {t}?", ("title", "titled", "called", "named", "'", "\"")),
      ("How many pages does {t} have?", ("page",)), ("Who published {t}?", ("publish", "journal", "press")))),
    (("phone", "laptop", "camera", "tablet", "bike", "bicycle", "car", "scooter", "van", "kettle"),
     (("What colour is {t}?", COLOURS), ("How much did {u} pay for {t}?", (MONEY, "paid", "cost", "price", "free")),
      ("Where did {u} buy {t}?", ("bought", "buy", "from", "shop", "store", "gift", "given")))),
    (("flew", "flight", "fly", "flying", "landed", "airport"),
     (("Which airline did {u} fly with?", ("airline", "airways", "flew with", "flying with")),
      ("What was {u}'s flight number?", ("flight number", "flight no")),
      ("What seat did {u} have on the flight?", ("seat", "window", "aisle")),
      ("How long was {u}'s flight?", ("hour", "long", "layover")))),
    (("rent", "rents", "landlord", "landlady"),
     (("How much does {u} pay in rent?", (MONEY, "rent free")),
      ("When does {u}'s lease end?", ("lease", "contract", "until")))),
    (("flat", "apartment", "house"),
     (("How many bedrooms does {t} have?", ("bedroom", "studio")),
      ("How big is {t}?", ("square", "m2", "sqm", "big")))),
    (("wedding", "party", "funeral", "reunion"),
     (("How many guests were at {t}?", ("guest", "people", "attend")),
      ("Who organised {t}?", ("organis", "organiz", "host", "ran", "threw")))),
    (("concert", "conference", "race", "festival", "match", "quiz", "gig"),
     (("How many people were at {t}?", ("guest", "people", "crowd", "attend")),
      ("How much did the tickets for {t} cost?", (MONEY, "ticket", "free", "entry")))),
    (("race", "marathon", "triathlon", "10k", "5k", "duathlon"),
     (("What was {u}'s finishing time in {t}?", (CLOCK, "finish", "time", "minute", "hour")),
      ("What place did {u} come in {t}?", ("place", "position", "podium", "first", "second", "third", "won", "win")),
      ("How many people took part in {t}?", ("people", "runner", "entrant", "field", "took part")))),
    (("club", "team", "band", "choir", "society", "league"),
     (("How many members does {t} have?", ("member", "people")), ("When was {t} founded?", ("found", "since")),
      ("Who captains {t}?", ("captain", "leader", "lead", "run")))),
)
CLOCK_RE = re.compile(r"\b\d{1,2}:\d{2}\b")
MONEY_RE = re.compile(r"[£$€¥]\s?\d|\b\d[\d,.]*\s?(?:kr|nok|sek|dkk|usd|eur|gbp|nzd|dollars?|pounds?|euros?|"
                      r"kroner|krona|rupees?)\b", re.I)
HOUR = "$hour"  # a keyword that matches a time of day written with am or pm ("7pm", "10 am")
HOUR_RE = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", re.I)
RAW_PATTERNS = {MONEY: MONEY_RE, CLOCK: CLOCK_RE, HOUR: HOUR_RE}  # keywords matched on the texts as written


def _absent(keys: tuple[str, ...], corpus: str, raw: str = "") -> bool:
    """True when no keyword starts a word of `corpus` (a normalised text padded with spaces).

    MONEY matches any amount in `raw` (the texts as written, since normalising drops currency signs); a keyword
    that normalises to nothing (a quote mark, "%") is looked for in `raw` as written.
    """
    for k in keys:
        if k in RAW_PATTERNS:
            if RAW_PATTERNS[k].search(raw):
                return False
        elif not norm(k):
            if k in raw:
                return False
        elif f" {norm(k)}" in corpus:
            return False
    return True


def _corpus(texts) -> str:
    return " " + " ".join(norm(t) for t in texts) + " "


DETERMINER_RE = r"(?i:the|a|an|my|his|her|their|our)"
NOT_MODIFIERS = {"to", "of", "in", "at", "on", "with", "for", "from", "by", "and", "or", "is", "was", "are", "were",
                 "that", "which", "who", "called", "named", "new", "old", "first", "last", "next"}


def _thing_phrase(word: str, text: str, user: str) -> str:
    """The thing as `text` describes it ("the kelp growth paper", "the conference in Reykjavík"), or "".

    Only a phrase that says more than the bare word is returned: a question naming the very thing the memory names
    teaches that knowing about a thing is not knowing all its details. Words between a determiner and `word` are
    its modifiers; a following "in <Place>" is kept (not a month).
    """
    m = re.search(rf"(?<!\w)(?:{DETERMINER_RE}|{re.escape(user)}'s)\s+((?:[\w'-]+\s+){{0,3}}?){re.escape(word)}(?!\w)"
                  rf"(\s+in\s+[A-ZÀ-Þ][\w-]+)?", text)
    if not m:
        return ""
    mods = m.group(1).split()
    # a possessive inside ("his cousin Divya's wedding") makes an awkward "the cousin Divya's wedding"
    if any(w.lower() in NOT_MODIFIERS or w.lower() == user.lower() or w.endswith("'s") for w in mods):
        return ""
    place = m.group(2) or ""
    if place and place.split()[-1] in MONTHS:
        place = ""
    if not (mods or place):
        return ""
    # "Maya's favourite novel" stays hers: "the favourite novel" reads as some other novel
    owner = "{u}'s" if re.match(rf"(?i:my)\b|{re.escape(user)}'s", m.group(0)) and not place else "the"
    return f"{owner} {' '.join(mods + [word])}{place}"


def _detail_questions(memory_texts: list[str], user: str, clauses_of: dict[str, list[Clause]] | None = None
                      ) -> list[str]:
    """Unstated details of the kinds of things the memories mention (see DETAILS), one per (thing, detail).

    `clauses_of` maps a memory text to its analysed clauses, so a thing can be named with its memory's context
    (data_synth.described); without it things are named bare or as the text describes them.
    """
    out = []
    for triggers, details in DETAILS:
        for word in triggers:
            # lower case only: "Copper Kettle" names a pub, not a kettle
            pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
            texts = [t for t in memory_texts if pattern.search(t)]
            if not texts:
                continue
            own_texts = list(texts)
            # The thing may be named and described in another memory ("the pub quiz with The Quizzly Bears" and
            # "The Quizzly Bears play at the Copper Kettle on Victoria Street"): memories sharing a capitalised word
            # count too, so a detail is never denied that one hop away states.
            names = {w for t in texts for w in re.findall(r"(?<=\w )[A-ZÀ-Þ][\w'-]{2,}", t)} - {user}
            if names:
                linked = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b")
                texts += [t for t in memory_texts if t not in texts and linked.search(t)]
            corpus, raw = _corpus(texts), " ".join(texts)
            owned = re.search(rf"\b(?:my|{re.escape(user)}'s)\s+{re.escape(word)}\b", raw, re.I)
            # every thing of the kind as its memory describes it ("the tiny shop", "the bicycle repair shop in
            # Malmö"), since taking only the first left the others with no refusal; keywords are still checked on
            # all of them, so no detail one states is denied of another
            phrases = [_thing_phrase(word, t, user) for t in own_texts]
            # a named place ("the Sjøgata clinic") may carry its street in its name: never deny the address
            named = re.search(rf"\b(?!(?:The|A|An|My|Our|This|That)\b)[A-ZÀ-Þ][\w'-]*\s+{re.escape(word)}\b", raw)
            asked = [q for q, keys in details if _absent(keys, corpus, raw) and not (named and keys is ADDRESS)]
            for k, (text, phrase) in enumerate(zip(own_texts, phrases, strict=True)):
                if phrase in phrases[:k]:
                    continue
                thing = phrase or (f"{{u}}'s {word}" if owned else f"the {word}")
                # "How many points did Ravi get in Ravi's driving test?": a described thing's owner is not named twice
                with_user = re.sub(r"^\{u\}'s ", "the ", phrase) or thing
                # the thing as its clause names it, in turn with the plain form, one per detail (same count)
                forms = [thing] + described_as(word, (clauses_of or {}).get(text, []))
                out += [q.replace("{t}", with_user if "{u}" in q else forms[(j + k) % len(forms)])
                        for j, q in enumerate(asked)]
    return list(dict.fromkeys(out))
