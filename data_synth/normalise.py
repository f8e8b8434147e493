"""Rewrite a raw memory into clean third-person sentences about the user, and back into second person.

"btw my bike is a green Bianchi called Pesto" -> "Maya's bike is a green Bianchi called Pesto."
"Prefers answers in bullet points." -> "Maya prefers answers in bullet points."
"When booking trains, always pick a window seat" -> "When booking trains, Maya always picks a window seat."
Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import (
    ADJECTIVES,
    ADVERBS,
    DETERMINERS,
    MODALS,
    PERSON_NOUNS,
    PREPOSITIONS,
    PRONOUNS,
    cap_first,
    is_base_verb,
    replace_outside_quotes,
    split_sentences,
    strip_prefixes,
    strip_symbols,
    third_singular,
    verb_info,
)
from data_synth.slots import COND_WORDS, DATE_RE, LEAD_WORDS

_ADV = "|".join(sorted(ADVERBS))
# Lower-case nouns that often start a terse note about the user's own things ("dentist is Dr. Sato").
OWNED_NOUNS = {"dentist", "doctor", "gym", "bike", "car", "phone", "password", "wifi", "wi-fi", "address", "birthday",
               "flat", "apartment", "locker", "code", "pin", "favourite", "favorite", "email", "passport", "cat",
               "dog", "home", "office", "desk", "room", "username", "blood", "shoe", "size", "landlord", "boss"}
COPULAS = {"is", "are", "was", "were"}
# Adjectives that open a terse note about the user's state ("Allergic to amoxicillin").
STATE_ADJECTIVES = {"allergic", "intolerant", "vegetarian", "vegan", "afraid", "scared", "married", "engaged",
                    "single", "pregnant", "diabetic", "colourblind", "colorblind", "left-handed", "right-handed"}
# Chat filler at the end of a line, not part of the fact.
TRAILING_FILLER = re.compile(r"[\s,]+(?:lol|haha+|lmao|xx+|:\)|:D|pls remind me|please remind me)\W*$", re.I)
# "Physio for the ankle: Gareth Pryce" (a label, then its value) and "Switched gyms: I boulder at ..." (a topic).
HEADLINE_RE = re.compile(r"^([^:]{3,60}?):\s+(\S.*)$")
# "(2 Feb 2023)" after "today" dates the sentence; any other aside "(came out in hives in 2019)" is its own fact.
PAREN_RE = re.compile(r"(?:\s+(?:today|this morning|tonight))?\s*\(([^()]{2,80})\)")
# Adjectives that open a terse note about one of the user's things ("New place is 14 Kowhai Terrace").
OWNED_ADJECTIVES = {"new", "old", "current", "usual", "favourite", "favorite", "first", "last"}
# "First day today as senior sonographer at ..." -> "Maya started as senior sonographer at ...".
FIRST_DAY_RE = re.compile(r"^first day(?:\s+(?:today|at work|at the new job))?\s+(?=(?:as|at)\b)", re.I)
INDEFINITES = {"anything", "something", "nothing", "everything", "anyone", "someone", "everyone", "it", "them",
               "things", "stuff", "more", "less", "off", "away", "back"}


def _conj_after_i(m: re.Match, user: str) -> str:
    adverbs, word = m.group(1) or "", m.group(2)
    low = word.lower()
    info = verb_info(low)
    if low in MODALS or low.endswith("ed") or (info and info[1] == "past"):
        return f"{user}{adverbs} {word}"
    if low in ("do", "don't"):
        return f"{user}{adverbs} {'does' if low == 'do' else 'doesn`t'}".replace("`", "'")
    if info or re.fullmatch(r"[a-z]+", word):
        return f"{user}{adverbs} {third_singular(low)}"
    return f"{user}{adverbs} {word}"


def first_to_third(text: str, user: str) -> str:
    """Replace I/me/my with the user's name, conjugating the verb that follows "I" ("I drive" -> "Maya drives")."""
    poss = user + "'s"
    had_i = bool(re.search(r"\bI\b", text))
    rules = [
        (r"\bI'm\b|\bI am\b", f"{user} is"), (r"\bI've\b", f"{user} has"), (r"\bI have\b", f"{user} has"),
        (r"\bI'd\b", f"{user} would"), (r"\bI'll\b", f"{user} will"), (r"\bI was\b", f"{user} was"),
        (r"\bI do not\b", f"{user} does not"),
    ]
    for pat, rep in rules:
        text = replace_outside_quotes(text, pat, rep)
    text = replace_outside_quotes(text, rf"\bI((?:\s+(?:{_ADV}))*)\s+([\w'’-]+)", lambda m: _conj_after_i(m, user))
    if had_i:
        # "I keep a starter and feed it" -> "... and feeds it": coordinated verbs share the converted subject.
        def coord(m: re.Match) -> str:
            verb = third_singular(m.group(3)) if is_base_verb(m.group(3)) else m.group(3)
            return f"{m.group(1)}{m.group(2)} {verb}"

        text = replace_outside_quotes(
            text, rf"\b(and|or|then)((?:\s+(?:{_ADV}))*)\s+([a-z]+)\b(?=\s+(?:it|them|the|a|an|my|every|to)\b)", coord)
    text = replace_outside_quotes(text, r"\b(?:my|My|mine|Mine)\b", poss)
    text = replace_outside_quotes(text, r"\b(?:me|myself|Me)\b", user)
    return replace_outside_quotes(text, r"\bI\b", user)


def _add_subject(sentence: str, user: str, todo: bool) -> str:
    """Give subject-less fragments the user as subject: "Prefers X" / "Always sign off" / "dentist is Dr. Sato"."""
    lead = ""
    m = re.match(r"((?:When|While|Whenever|If|Before|After)\b[^,]{1,80},\s*)(.*)$", sentence)
    if m:
        lead, sentence = m.group(1), m.group(2)
    # "Don't book anything for me on Thursdays" is an instruction like "never put anything before 9:30".
    sentence = re.sub(r"^(?:[Dd]on't|[Dd]o not)\s+(?=([a-z]+)\b)",
                      lambda m: "never " if is_base_verb(m.group(1)) else m.group(0), sentence)
    words = sentence.split()
    if not words:
        return lead + sentence
    first = words[0].lower().strip(",")
    head4 = [w.lower().strip(",") for w in words[:4]]
    if first in DETERMINERS or first in PRONOUNS or first == user.lower() or first.startswith(user.lower() + "'"):
        return lead + sentence
    if first in OWNED_NOUNS or first in PERSON_NOUNS:  # "Physio for the ankle is ...": a longer label
        head4 = [w.lower().strip(",") for w in words[:6]]
    has_copula = any(w in COPULAS for w in head4[1:])
    info = verb_info(first)
    if FIRST_DAY_RE.match(sentence):
        return lead + f"{user} started " + FIRST_DAY_RE.sub("", sentence)
    if first in STATE_ADJECTIVES:  # "Allergic to amoxicillin" -> "Maya is allergic to amoxicillin"
        return lead + f"{user} is " + sentence[:1].lower() + sentence[1:]
    date_lead = re.match(r"(On [^,]{3,40},\s*)(.*)$", sentence)
    if date_lead and not lead:  # "On 12 Aug 2023, ran the 10k" -> "On 12 Aug 2023, Maya ran the 10k"
        rest = _add_subject(date_lead.group(2), user, todo)
        return date_lead.group(1) + rest
    i = 0
    while i < len(words) - 1 and (words[i].lower() in ADVERBS or re.fullmatch(r"[A-Za-z]{3,}ly", words[i])):
        i += 1
    word = words[i].lower().strip(",")
    vinfo = verb_info(word)
    nxt = words[i + 1].lower() if i + 1 < len(words) else ""
    past = (vinfo and vinfo[1] == "past") or (re.fullmatch(r"[a-z]{3,}ed", word) and word not in ADJECTIVES
                                               and (nxt in PREPOSITIONS or nxt in DETERMINERS))
    if not has_copula and past and not lead:  # diary style: "Joined a gym today", "Landed in Hamilton"
        return " ".join([user] + [w.lower() for w in words[:i]] + [word] + words[i + 1:])
    if not has_copula and (first in ADVERBS or first in MODALS or is_base_verb(first) or (info and info[1] == "pres")):
        i = 0
        while i < len(words) - 1 and words[i].lower() in ADVERBS:
            i += 1
        verb = words[i].lower()
        vinfo = verb_info(verb)
        if is_base_verb(verb) and verb not in MODALS:
            if todo and i == 0:
                verb = "needs to " + verb
            else:
                verb = third_singular(verb)
        advs = " ".join(w.lower() for w in words[:i])
        rest = " ".join(words[i + 1:])
        # A bare singular noun after an imperative is the user's own ("renew passport" -> "renew Maya's passport").
        nxt = rest.split()[0] if rest else ""
        bare = nxt.isalpha() and nxt.islower() and not verb_info(nxt)
        if vinfo and bare and nxt not in DETERMINERS | ADVERBS | INDEFINITES | PREPOSITIONS | {"up", "off", "out"}:
            rest = f"{user}'s {rest}"
        return lead + " ".join(x for x in (user, advs, verb, rest) if x)
    if has_copula and not lead:
        cop = next(i for i, w in enumerate(head4) if i > 0 and w in COPULAS)
        subj = words[:cop]
        owned_first = first in OWNED_NOUNS or first in PERSON_NOUNS or (
            first in OWNED_ADJECTIVES and len(subj) > 1 and subj[1][:1].islower())
        if all(w[:1].islower() or owned_first for w in subj[:1]) and all(
                w[:1].islower() for w in subj[1:]) and (words[0][:1].islower() or owned_first):
            return f"{user}'s {words[0].lower()} " + " ".join(words[1:])
    return lead + sentence


def _headline_split(sentences: list[str]) -> list[str]:
    """"Label: value" -> "Label is value"; "Did something: more" -> two sentences; "12 Aug 2023: ran" -> "On ..."."""
    out = []
    for sentence in sentences:
        m = HEADLINE_RE.match(sentence)
        if m and DATE_RE.fullmatch(m.group(1).strip()):
            out.append(f"On {m.group(1).strip()}, {m.group(2).strip()}")
            continue
        if not m or re.search(r"\d$", m.group(1)) or re.match(r"(?i)(on|in|at|since)\b", m.group(1)):
            out.append(sentence)  # "at 10:30" and "in 2019: ..." stay as written
            continue
        head, tail = m.group(1).strip(), m.group(2).strip()
        head_words = [w.lower().strip(",") for w in head.split()]
        tail_first = tail.split()[0].lower()
        has_verb = any(verb_info(w) and w not in OWNED_NOUNS for w in head_words)
        if has_verb and tail_first[:1].isdigit():
            out.append(f"{head}, {tail}")  # "Switched to nights in May: 10pm to 6am" - the tail details the head
        elif (not has_verb and len(head_words) <= 2 and head_words[-1].endswith("s") and is_base_verb(tail_first)
              and re.search(r"\b(?:them|it)\b", tail)):
            # "Reminders: send them the evening before" -> "send reminders the evening before"
            out.append(re.sub(r"\b(?:them|it)\b", head[:1].lower() + head[1:], tail, count=1))
        elif has_verb or tail_first in PRONOUNS or verb_info(tail_first):
            out += [head, tail]
        else:
            out.append(f"{head} is {tail}")
    return out


def _asides(sentences: list[str]) -> list[str]:
    """Take parentheses out: a date becomes "on DATE", any other aside becomes the next sentence."""
    out = []
    for sentence in sentences:
        inners = [m.group(1).strip() for m in PAREN_RE.finditer(sentence)]
        out.append(PAREN_RE.sub(lambda m: f" on {m.group(1).strip()}" if DATE_RE.fullmatch(m.group(1).strip())
                                else "", sentence))
        out += [a.rstrip(".!?") + "." for a in inners if not DATE_RE.fullmatch(a)]
    return out


def _instruction_tails(sentence: str) -> str:
    """Tails of instructions the slot parser reads as parts of speech it knows.

    "the evening before" is a time ("on the evening before"), ", not on the day" a contrast ("rather than on the
    day") and ", that is quiz night" the reason ("because that is quiz night").
    """
    sentence = re.sub(r"(?<!\bon )\bthe (evening|night|day|morning|afternoon|week) before\b", r"on the \1 before",
                      sentence)
    sentence = re.sub(r",\s+not\s+(?=(?:on|in|at|by|before|after)\b)", " rather than ", sentence)
    return re.sub(r",\s+that is\s+(?=\w)", ", because that is ", sentence)


def third_person_sentences(text: str, user: str) -> list[str]:
    """The memory as a list of clean third-person sentences about `user`, each ending in punctuation."""
    text, todo = strip_prefixes(strip_symbols(text))
    out = []
    text = re.sub(r"(?i)\b(he|she|it|that|there)'s\b", r"\1 is", text)
    text = re.sub(r"'s (called|named)\b", r" is \1", text)  # "my cat's called Pixel"
    for sentence in _headline_split(_asides(split_sentences(text))):
        sentence = TRAILING_FILLER.sub("", sentence.strip()).rstrip(".!?;").strip()
        if not re.search(r"\w", sentence):
            continue
        sentence = _add_subject(first_to_third(sentence, user), user, todo)
        sentence = _instruction_tails(sentence)
        out.append(cap_first(sentence) + ".")
    return out


# Where a sentence holds two facts, split it so each clause can be analysed on its own.
CLAUSE_SPLIT_RE = re.compile(
    r",?\s+(?:so|but|and then|even though|although|though|whereas|while)\s+(?=\w)"
    r"|;\s*|,\s+(?=(?:he|she|they|it)\s)|\s+(?=(?:before|after|until|once|when)\s+(?:it|he|she|they)\s)"
)


# The words that open a lead phrase in slots.analyse ("On 12 Aug 2023, ...", "When booking, ...").
LEAD_RE = re.compile(rf"(?i)^(?:{'|'.join(sorted(LEAD_WORDS | COND_WORDS))})\b")


def split_clauses(sentence: str, user: str) -> list[str]:
    """Split a third-person sentence into clauses ("X, so Y" / "X, he wants Y" / "X and Maya Y")."""
    body = sentence.rstrip(".!?")
    parts = [p for p in CLAUSE_SPLIT_RE.split(body) if p and p.strip()]
    out = []
    u = re.escape(user)
    for p in parts:
        for q in re.split(rf",?\s+and\s+(?={u}\b)", p):
            # A comma splice ("Maya got a SIM, Maya's number is now ...") holds two facts; a lead phrase
            # ("On 12 Aug 2023, Maya ran ...") does not.
            pieces = re.split(rf",\s+(?={u}(?:'s)?\s+\w)", q)
            if len(pieces) > 1 and LEAD_RE.match(pieces[0]):
                pieces = [q]
            out.extend(pieces)
    cleaned = []
    for p in out:
        p = re.sub(r"^(?:before|after|until|once|when)\s+", "", p.strip(" ,"))
        if p:
            cleaned.append(p)
    return cleaned


def to_second_person(sentence: str, user: str) -> str:
    """Third-person sentence about the user -> addressed to them ("Maya drives a Volvo." -> "You drive a Volvo.")."""
    u = re.escape(user)

    def verb(m: re.Match) -> str:
        advs, word = m.group(1) or "", m.group(2)
        low = word.lower()
        fixed = {"is": "are", "was": "were", "has": "have", "doesn't": "don't", "does": "do"}.get(low)
        if fixed is None:
            info = verb_info(low)
            fixed = info[0] if info and info[1] == "pres" and info[0] != "be" else word
            if info is None and re.fullmatch(r"[a-z]{3,}[^su]s", word):
                fixed = word[:-1]  # a verb the table lacks ("Maya boulders" -> "you boulder")
        return f"you{advs} {fixed}"

    text = replace_outside_quotes(sentence, rf"\b{u}((?:\s+(?:{_ADV}))*)\s+([\w'’-]+)(?<!'s)\b(?!')", verb)
    text = replace_outside_quotes(text, rf"\b{u}'s\b", "your")
    text = replace_outside_quotes(text, rf"\b{u}\b", "you")
    return cap_first(re.sub(r"([.!?]\s+)y(?=ou\b|our\b)", r"\1Y", text))  # a sentence may open with the user's name
