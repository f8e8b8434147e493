"""A named person referred to by what one memory says they are or do, for two-hop chains that cross by description.

People ask about someone they cannot name: "In which city does the woman who cooks pineapple rasam every Onam
live?" reaches Lalitha through what a memory says about her, not through a relation to the user ("Ravi's mum").
The chains of data_synth.cot crossed only by relation, and the adapters refused most such questions on the dev sets
(docs/results/README.md section 35b: 8 of 28). From a memory's analysed clauses this writes:

- a role: "Divya is a marine biologist ..." -> "the marine biologist"; "Maya's partner Teodor is a ferry captain on
  the Hurtigruten coastal route" -> "the ferry captain on the Hurtigruten coastal route";
- a possession: "Lalitha's signature dish is pineapple rasam" -> "the person whose signature dish is pineapple rasam";
- a deed: "Kabir runs a spice stall called ..." -> "the person who runs a spice stall".

A description that fits two people is dropped. Used by data_synth.cot behind `synth.cot_descriptions`; not run
directly.
"""

from __future__ import annotations

import re
from collections import defaultdict

from data_synth.described import verb_form
from data_synth.slots import Clause

_ARTICLE_RE = re.compile(r"^(?:a|an)\s+", re.I)
_NAME_RE = re.compile(r"^[A-ZÀ-ÖØ-Þ][\w.\-]*(?:\s+[A-ZÀ-ÖØ-Þ][\w.\-]*)*$")
_MAX_WORDS = 10  # longer descriptions read as a recitation, not a way to point at someone


def _named(cl: Clause, user: str) -> str:
    """The named person the clause is about ("" when it is the user, a thing, or unnamed)."""
    name = cl.name or (cl.subject if cl.subj_kind == "name" else "")
    name = name.strip(" ,")
    if not name or name == user or not _NAME_RE.match(name):
        return ""
    return name


def _role(cl: Clause) -> str:
    """ "X is a marine biologist" -> "the marine biologist" (plus an "on"/"at" phrase right after it)."""
    objects = [i for i, ch in enumerate(cl.chunks) if ch.prep == ""]
    if not cl.copula or not objects:
        return ""
    first = cl.chunks[objects[0]]
    if first.kind != "thing" or not _ARTICLE_RE.match(first.text):
        return ""
    out = "the " + _ARTICLE_RE.sub("", first.text.rstrip(". "))
    nxt = cl.chunks[objects[0] + 1] if objects[0] + 1 < len(cl.chunks) else None
    if nxt is not None and nxt.prep in ("on", "at") and not nxt.after_comma:
        out += f" {nxt.prep} {nxt.text.rstrip('. ')}"
    return out


def _possession(cl: Clause) -> str:
    """ "Lalitha's signature dish is pineapple rasam" -> "the person whose signature dish is pineapple rasam"."""
    objects = [ch for ch in cl.chunks if ch.prep == "" and not ch.after_comma]
    if not cl.copula or cl.subj_kind != "owned" or not cl.head or not objects or objects[0].kind == "person":
        return ""
    return f"the person whose {cl.head} is {objects[0].text.rstrip('. ')}"


def _deed(cl: Clause) -> str:
    """ "Kabir runs a spice stall called ..." -> "the person who runs a spice stall"."""
    objects = [ch for ch in cl.chunks if ch.prep == ""]
    verb = verb_form(cl)
    if cl.copula or not verb or not objects or objects[0].kind in ("person", "name"):
        return ""
    return f"the person who {verb} {objects[0].text.rstrip('. ')}"


def describe_people(analysed: list[tuple[str, list[Clause]]], user: str,
                    things: set[str] = frozenset()) -> list[tuple[str, str, str]]:
    """(name, description, memory id) for every named person a memory describes, descriptions unique to one name.

    Args:
        analysed: (memory id, analysed third-person clauses) for every memory, in order.
        user: The user's display name (never described: every memory is about the user).
        things: Names known not to be people (a pet, a bike): they keep their role ("the tabby") only.

    Returns:
        Triples in memory order, e.g. ("Lalitha", "the person whose signature dish is pineapple rasam", "m16").
    """
    found: list[tuple[str, str, str]] = []
    for mem_id, clauses in analysed:
        for cl in clauses:
            owner = cl.owner if cl.subj_kind == "owned" and cl.owner != user and _NAME_RE.match(cl.owner or "") else ""
            name = owner or _named(cl, user)
            if not name:
                continue
            if owner:  # "Lalitha's signature dish is ...": a possession, for people only
                forms = () if name in things else (_possession(cl),)
            else:
                forms = (_role(cl),) if name in things else (_role(cl), _deed(cl))
            first = name.split()[0].lower()
            for text in forms:
                # the description must not name the person it stands for, nor run on
                if text and first not in text.lower() and len(text.split()) <= _MAX_WORDS:
                    found.append((name, text, mem_id))
    names_of: dict[str, set[str]] = defaultdict(set)
    for name, text, _ in found:
        names_of[text.lower()].add(name.split()[0])
    return list(dict.fromkeys(t for t in found if len(names_of[t[1].lower()]) == 1))
