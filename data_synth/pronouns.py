"""The user's own pronoun, read from the memories, so synthesized text does not repeat the name.

Memories written in the first person become third-person sentences by name ("Broke my left wrist" -> "Lena broke
Lena's left wrist"). When some memory names the user and then refers back ("Lena finished her thesis"), the second
mention in a sentence reads as a person would write it: "Lena broke her left wrist". With no evidence, or evidence
both ways, the name stays: a wrong pronoun would be worse than a repeated name.
Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import (
    DETERMINERS,
    PERSON_NOUNS,
    PREPOSITIONS,
    replace_outside_quotes,
    split_sentences,
    verb_info,
)

POSSESSIVES = {"he": "his", "his": "his", "him": "his", "himself": "his",
               "she": "her", "her": "her", "hers": "her", "herself": "her"}
_PRONOUN_RE = re.compile(r"\b(" + "|".join(POSSESSIVES) + r")\b", re.I)
_OPEN_QUOTE_RE = re.compile(r"(?<!\w)['\"‘“]\w")  # a quoted title opens; "Lena's" is no quote


def _nobody_between(sentence: str, start: int, end: int) -> bool:
    """No other name, quoted title or person noun between two positions: a pronoun there may be the user's."""
    between = sentence[start:end]
    words = set(re.findall(r"[\w'-]+", between.lower()))
    return not (re.search(r"\b[A-Z]", between) or _OPEN_QUOTE_RE.search(sentence, start, end) or PERSON_NOUNS & words)


def user_possessive(texts: list[str], user: str) -> str | None:
    """"his" or "her" when the memories refer back to the user that way, else None.

    A sentence counts as evidence when it names the user and a gendered pronoun follows with no other name,
    quoted title or person noun ("sister", "friend") in between, since the pronoun could be theirs.
    """
    name = re.compile(rf"\b{re.escape(user)}\b")
    seen: set[str] = set()
    for text in texts:
        for sentence in split_sentences(text):
            m = name.search(sentence)
            p = _PRONOUN_RE.search(sentence, m.end()) if m else None
            if p is not None and _nobody_between(sentence, m.end(), p.start()):
                seen.add(POSSESSIVES[p.group(1).lower()])
    return seen.pop() if len(seen) == 1 else None


def _person_shift(sentence: str, poss: str) -> str:
    """In a sentence by or to the user ("When did I ...", "You ..."), the user's own he/she/his/her follow suit.

    A memory that names the user ("Ravi attended his cousin's wedding") keeps its pronoun when the rules turn the
    name into "I" or "you"; "When did I attend his cousin's wedding?" becomes "... my cousin's wedding?".
    """
    m = re.search(r"\b(I|[Mm]y|[Yy]ou|[Yy]our)\b", sentence)
    subject = {"his": "he", "her": "she"}[poss]
    p = re.compile(rf"\b({subject}|{poss})(\s+)([\w'-]+)").search(sentence, m.end()) if m else None
    if p is None or not _nobody_between(sentence, m.end(), p.start()):
        return sentence
    first = m.group(1) in ("I", "my", "My")
    word, gap, nxt = p.groups()
    if word == poss:
        if nxt in DETERMINERS or nxt in PREPOSITIONS or not nxt.islower():  # "her" as an object, not "her bike"
            return sentence
        new = ("my" if first else "your") + gap + nxt
    else:
        info = verb_info(nxt)
        if info and info[0] == "be":
            verb = {"is": "am" if first else "are", "was": "was" if first else "were"}.get(nxt, nxt)
        elif info and info[0] == "have" and nxt == "has":
            verb = "have"
        else:
            verb = info[0] if info and info[1] == "pres" else nxt
        new = ("I" if first else "you") + gap + verb
    return sentence[: p.start()] + new + sentence[p.end() :]


def with_possessive(text: str, user: str, poss: str | None) -> str:
    """Replace the user's possessive after the first mention of the user in each sentence ("Lena broke Lena's wrist"
    -> "Lena broke her wrist"; "the user" likewise), and the user's own pronoun in a sentence by or to the user
    ("When did I attend his cousin's wedding?" -> "... my cousin's wedding?"). Quoted titles are left alone; poss
    None returns text as is."""
    if not poss:
        return text
    refs = rf"(?:{re.escape(user)}|[Tt]he user)"
    out = []
    for sentence in re.split(r"(?<=[.!?:;])(\s+)", text):  # "Fill in the blank about Maya: Maya.." restarts
        first = re.search(rf"\b{refs}\b", sentence)
        if first is None:
            out.append(_person_shift(sentence, poss))
            continue
        head, rest = sentence[: first.end()], sentence[first.end() :]
        out.append(head + replace_outside_quotes(rest, rf"\b{refs}'s\b", poss))
    return "".join(out)
