"""A candidate question (QA) and the small string helpers every question family shares.

Used by data_synth.questions, data_synth.identity, data_synth.paraphrase and data_synth.rules; not run directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_synth.grammar import is_base_verb
from data_synth.slots import Chunk


@dataclass
class QA:
    """One candidate question about one slot.

    Attributes:
        question: Third-person question naming the user.
        short: Short answer, a span of the memory (what the question asks for).
        group: Slot key; selection round-robins over groups so every slot gets asked.
        wh: Wording key, so a group's first questions use different constructions.
    """

    question: str
    short: str
    group: str
    wh: str


def q_text(*parts: str) -> str:
    """Join question parts into one capitalised question ending in "?"."""
    text = " ".join(p.strip() for p in parts if p and p.strip())
    text = re.sub(r"\s+,", ",", text)
    return text[:1].upper() + text[1:] + "?"


def last_word(head: str) -> str:
    """The last word of a noun head ("kelp growth paper" -> "paper")."""
    return head.split()[-1] if head else ""


def singular(word: str) -> str:
    """A plural noun's singular, by dropping the -s."""
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def ing_base(word: str) -> str:
    """The base verb of an -ing form ("swimming" -> "swim")."""
    stem = word[:-3]
    for cand in (stem, stem + "e", stem[:-1]):
        if is_base_verb(cand):
            return cand
    return stem


def short_answer(chunk: Chunk, user: str = "") -> str:
    """The short answer a slot gives ("to feed the cat" for a purpose, without the user's possessive)."""
    if user and chunk.text.startswith(user + "'s "):
        return chunk.text[len(user) + 3:]
    if chunk.kind == "purpose":
        return "to " + chunk.text
    if chunk.kind == "reason":
        return "because " + chunk.text
    return chunk.text
