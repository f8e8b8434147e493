"""Chain-of-thought two-hop examples across memories that share an entity.

One memory introduces a named entity by its relation to the user ("My sister Åsa works as ...", "my cat is
called Pilsner"); another says something about that name ("Åsa visited me in June"). The composed question
refers to the entity only through the relation ("When did Maya's sister visit?"), and the reply walks through
both memories before answering: "Maya's sister is Åsa. Åsa visited Maya in June. So the answer is June."
Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from data_synth.grammar import cap_first, norm
from data_synth.paraphrase import in_situ
from data_synth.questions import ClauseQuestions, _short
from data_synth.schema import Example
from data_synth.slots import Clause


@dataclass(frozen=True)
class Alias:
    """A name the user's memories tie to a relation: "Åsa" is "Maya's sister" (said in memory `memory_id`)."""

    name: str
    relation: str
    memory_id: str


def find_aliases(analysed: list[tuple[str, list[Clause]]], user: str) -> list[Alias]:
    """Relation -> name links: "Maya's sister Åsa", "Maya's dentist is Dr. Sato", "Maya's cat is called Pilsner"."""
    out: list[Alias] = []
    for mem_id, clauses in analysed:
        for cl in clauses:
            if cl.subj_kind != "owned" or cl.owner != user or not cl.head:
                continue
            relation = f"{user}'s {cl.head}"
            names = [c.text for c in cl.chunks if c.prep == "subject"]
            names += [c.text for c in cl.chunks if c.prep == "called"]
            if cl.copula:
                names += [c.text for c in cl.chunks if c.prep == "" and c.kind in ("person", "name")]
            for name in names:
                name = name.strip("'\"‘’“”")
                if name and norm(name) != norm(relation):
                    out.append(Alias(name, relation, mem_id))
    return out


def _mentions(text: str, name: str) -> str:
    """The form of `name` used in `text` (full name, or its first word for people), or ""."""
    for form in (name, name.split()[0]):
        if len(form) > 2 and re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text):
            return form
    return ""


def cot_examples(analysed: list[tuple[str, list[Clause]]], sentences: dict[str, list[str]], user: str,
                 per_pair: int, seed: int) -> list[Example]:
    """Two-hop examples for every (alias memory, other memory naming the alias) pair.

    Args:
        analysed: (memory id, analysed third-person clauses) for every memory, in order.
        sentences: memory id -> its third-person sentences (the reasoning chain quotes them).
        user: The user's display name.
        per_pair: Most examples per memory pair.
        seed: Makes the choice of questions deterministic.

    Returns:
        Examples of kind "cot" whose memory_ids name both memories.
    """
    rng = random.Random(seed)
    out: list[Example] = []
    for alias in find_aliases(analysed, user):
        for mem_id, clauses in analysed:
            if mem_id == alias.memory_id:
                continue
            picked = []
            for cl in clauses:
                form = _mentions(cl.text, alias.name)
                if not form:
                    continue
                for qa in ClauseQuestions(cl).all() + in_situ(cl, lambda c: _short(c, user)):
                    if not qa.short or form not in qa.question or norm(form) in norm(qa.short):
                        continue
                    q = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", alias.relation, qa.question, count=1)
                    if norm(alias.name.split()[0]) not in norm(q):
                        picked.append((q, qa.short, cl.text))
            rng.shuffle(picked)
            seen = set()
            for q, short, clause_text in picked:
                if norm(q) in seen or len(seen) >= per_pair:
                    continue
                seen.add(norm(q))
                fact = " ".join(s for s in sentences.get(mem_id, []) if _mentions(s, alias.name)) or clause_text
                chain = f"{cap_first(alias.relation)} is {alias.name}. {fact.rstrip('.')}. So the answer is {short}."
                out.append(Example(prompt=q, response=chain, kind="cot", memory_ids=[alias.memory_id, mem_id],
                                   template="cot/alias"))
    return out
