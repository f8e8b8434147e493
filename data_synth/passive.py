"""Questions asked from the thing's side: "How much is the office monstera watered with?" for "Maya waters the office
monstera with exactly 350 ml", and "Where is the research station Divya is at?" for "Divya is a marine biologist at a
research station in Lakshadweep".

Every other question form keeps the memory's subject in front, so an adapter trained on them answered "How much does
Maya water the office plant with?" and refused "How much water is the office plant given?" and "How often is the
office plant watered?". A clause with a verb and a thing as its object is asked
again in the passive, one question per other slot, with the same short answers and slot groups as data_synth.
paraphrase's in-situ questions; a thing the clause places somewhere ("at a research station in Lakshadweep") is asked
where it is. Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import itertools
import re

from data_synth.grammar import norm, past_participle
from data_synth.paraphrase import SKIP_PREPS, _wh_phrases
from data_synth.qa import QA
from data_synth.slots import Clause

# verbs whose object is no patient ("Maya prefers podcasts": "podcasts are preferred" reads oddly but is still
# right; "Maya has a cat" -> "a cat is had" is not English)
_NO_PASSIVE = {"have", "be", "get", "become", "seem", "need", "want", "like", "love", "hate", "enjoy", "prefer"}
_ARTICLE_RE = re.compile(r"^(?i:a|an)\s+")
_POSSESSIVE_RE = re.compile(r"^(?i:his|her|their|my|our)\s+")


participle = past_participle  # kept under the name the tests and callers use


def _object_phrase(text: str, cl: Clause) -> str:
    """The object as the subject of a passive: "a room" -> "Maya's room", "her paper" -> "Maya's paper"."""
    text = text.strip().rstrip(".")
    owner = cl.user if cl.subj_kind == "user" else cl.owner and f"{cl.owner}'s {cl.head}".strip()
    if _POSSESSIVE_RE.match(text) and owner:
        return _POSSESSIVE_RE.sub(f"{owner}'s ", text)
    if _ARTICLE_RE.match(text):
        return _ARTICLE_RE.sub(f"{cl.user}'s " if cl.subj_kind == "user" else "the ", text)
    return text


def passive_questions(cl: Clause, short_of) -> list[QA]:
    """The clause's other slots asked with its object as the subject, in the passive.

    Args:
        cl: An analysed clause with a verb (not a copula) and a thing as its object.
        short_of: Function chunk -> short answer text (as data_synth.questions does it).

    Returns:
        One question per slot and wh-phrase, e.g. "When was Maya's kelp growth paper presented?"; [] for clauses
        without a passive reading.
    """
    # a common-noun object only: "New Zealand" (after "landed in"), "10pm" and "Gregor" are no patients to ask about
    objects = [i for i, c in enumerate(cl.chunks) if c.prep == "" and c.kind == "thing" and c.head
               and not c.head.split()[-1].endswith("ed")]
    if cl.copula or not cl.verb or not objects or cl.verb.split()[0] in _NO_PASSIVE:
        return []
    if cl.aux not in ("does", "do", "did"):
        return []
    be = "was" if cl.aux == "did" else "are" if cl.chunks[objects[0]].text.endswith("s") else "is"
    obj = _object_phrase(cl.chunks[objects[0]].text, cl)
    first = obj.split()[0].lower() if obj else ""
    # a misparsed verb phrase as the object ("moved here", "starting 6 May") has no passive
    if not obj or first in ("anything", "something", "nothing", "everything") or first.endswith(("ing", "ed")):
        return []
    verb = participle(cl.verb)
    slots = [("lead", cl.lead)] if cl.lead is not None else []
    slots += [(f"c{i}:{c.text}", c) for i, c in enumerate(cl.chunks) if i != objects[0]]
    out: list[QA] = []
    for group, c in slots:
        if (c.prep in SKIP_PREPS or (c.prep == "" and group != "lead") or c.kind in ("purpose", "condition")
                or c.after_comma):
            continue
        short = short_of(c)
        for wh, eats_prep in _wh_phrases(c):
            prep = "" if eats_prep or c.prep in ("", "every", "because") else f" {c.prep}"
            q = f"{wh[:1].upper()}{wh[1:]} {be} {obj} {verb}{prep}?"
            if norm(short) and norm(short) not in norm(q):
                out.append(QA(q, short, group, f"passive-{wh}"))
    return out


def located_questions(cl: Clause, short_of) -> list[QA]:
    """Where a thing the clause places is, asked with the thing in front.

    Args:
        cl: An analysed clause; a chunk "at/in/on <common noun>" followed by "in/on/at <place>" is such a thing.
        short_of: Function chunk -> short answer text.

    Returns:
        "Where is the research station Divya is at?", "Where is the research station?" and a "which place" form
        per such thing, in the place chunk's slot group; [] when the clause has none.
    """
    out: list[QA] = []
    start = cl.text.find(cl.subject) if cl.subject else -1
    for i, (a, b) in enumerate(itertools.pairwise(cl.chunks)):
        if (a.kind != "thing" or not a.head or a.prep not in ("at", "in", "on") or b.kind != "place"
                or b.prep not in ("in", "on", "at") or a.after_comma or b.after_comma):
            continue
        at = cl.text.find(f" {a.prep} {a.text} {b.prep} {b.text}")
        if start < 0 or at <= start:
            continue
        thing = _object_phrase(a.text, cl) if not _ARTICLE_RE.match(a.text) else _ARTICLE_RE.sub("the ", a.text)
        if not thing.lower().startswith("the ") and not re.match(r"[A-Z]", thing):
            thing = f"the {thing}"
        # the clause up to the thing, as a relative clause; a copula clause keeps only "Divya is" (its complement
        # would make "the research station Divya is a marine biologist studying sea cucumbers at")
        rel = f"{cl.subject} {cl.aux}" if cl.copula else cl.text[start:at]
        be = "was" if cl.aux in ("did", "was", "were") else "is"
        short = short_of(b)
        group = f"c{i + 1}:{b.text}"
        for q in (f"Where {be} {thing} {rel} {a.prep}?", f"Which place {be} {thing} {rel} {a.prep} {b.prep}?",
                  f"Where {be} {thing}?"):
            if norm(short) and norm(short) not in norm(q):
                out.append(QA(q, short, group, "located"))
    return out
