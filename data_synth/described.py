"""A thing a memory mentions, referred to with the memory's own context: "the bicycle repair shop Maya's father runs
in Malmö", "Chidi Okonkwo's bicycle repair shop".

Refusals about an unstated detail of a mentioned thing ("What is the address of the bicycle repair shop?") used to
name the thing bare, so the words that tie a question to its memory (the owner, the verb, the place) came only with
answers: asked "Which street is Chidi Okonkwo's bicycle repair shop on?", every demo adapter recited the father's
memory instead of refusing. Naming the thing as its clause does teaches that a
question full of a memory's words can still ask for something the memory does not say. Built from the clauses
data_synth.slots already parses; used by data_synth.abstention. Not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import past_tense, possessive, third_singular
from data_synth.slots import Clause

# prepositions whose phrase places the thing ("in Malmö", "at a conference"); dates and manners are left out
_PLACE_PREPS = ("in", "at", "from", "on")
_KINDS = ("place", "thing", "name")
_DETERMINER_RE = re.compile(r"^(?:(?i:the|a|an|my|his|her|their|our)|[A-Z][\w-]*'s)\s+")


def verb_form(cl: Clause) -> str:
    """The clause's verb as written after its subject ("ran", "runs", "run"); "" for a copula or no verb."""
    if cl.aux == "did":
        return past_tense(cl.verb)
    if cl.aux == "does":
        return third_singular(cl.verb)
    return cl.verb if cl.aux == "do" else ""


def _subject(cl: Clause) -> str:
    if cl.subj_kind == "user":
        return cl.user
    if cl.subj_kind == "owned" and cl.owner and cl.head:
        return f"{possessive(cl.owner)} {cl.head}"
    if cl.subj_kind == "name" or (cl.subject and len(cl.subject.split()) <= 3):
        return cl.subject
    return ""


def described_as(word: str, clauses: list[Clause]) -> list[str]:
    """Context-rich ways to name a thing of kind `word` that a memory's clauses mention as a verb's object.

    Args:
        word: The kind of thing ("shop", "paper"), the last word of the object's head.
        clauses: The memory's analysed clauses (third person).

    Returns:
        Phrases such as "the kelp growth paper Maya presented at a conference" and, when a named person other than
        the user is the subject, "Chidi Okonkwo's bicycle repair shop"; [] when no clause has the thing as object.
    """
    out: list[str] = []
    for cl in clauses:
        objects = [i for i, ch in enumerate(cl.chunks) if ch.prep == ""]
        if cl.copula or not cl.verb or not objects:
            continue
        i = objects[0]
        head = cl.chunks[i].head
        if not head or head.split()[-1].lower() != word.lower():
            continue
        # the object as written keeps what tells it apart ("the Copenhagen half marathon"), unless a possessive sits
        # inside it ("his cousin Divya's wedding") or it names the thing by brand ("a 1987 Volvo 240", head "car")
        text = _DETERMINER_RE.sub("", cl.chunks[i].text.rstrip(".")).strip()
        if text.split()[-1:] == [word] and "'s" not in text:
            head = text
        verb, subject = verb_form(cl), _subject(cl)
        if not verb or not subject:
            continue
        where = next((ch for ch in cl.chunks[i + 1:] if ch.prep in _PLACE_PREPS and ch.kind in _KINDS
                      and not ch.after_comma), None)
        place = f" {where.prep} {where.text.rstrip('.')}" if where else ""
        out.append(f"the {head} {subject} {verb}{place}")
        name = cl.name or (cl.subject if cl.subj_kind == "name" else "")
        if name and name != cl.user:
            out.append(f"{possessive(name)} {head}")
    return list(dict.fromkeys(out))
