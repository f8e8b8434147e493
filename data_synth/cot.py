"""Chain-of-thought two-hop examples across memories that share an entity.

One memory introduces a named entity by its relation to the user ("My sister Åsa works as ...", "my cat is
called Pilsner"); another says something about that name ("Åsa visited me in June"). The composed question
refers to the entity only through the relation ("When did Maya's sister visit?"), and the reply walks through
both memories before answering: "Maya's sister is Åsa. Åsa visited Maya in June. So the answer is June."
Every second chain of a pair starts with the bridge memory's own sentence instead ("Maya's sister Åsa works as a
glacier surveyor. Åsa visited ..."), since a reply that begins by reciting it must learn to go on.
Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import random
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass

from data_synth.grammar import DETERMINERS, PERSON_NOUNS, cap_first, norm
from data_synth.paraphrase import in_situ
from data_synth.qa import short_answer
from data_synth.questions import ClauseQuestions
from data_synth.slots import Clause
from data_synth.synonyms import SYNONYMS
from memory_lora.records import Example

# A capitalised name of one or more words ("Teodor", "Dr. Haruki Sato", "Vasquez-Holm").
PROPER_NAME_RE = re.compile(r"(?:[A-Z][\w.\-]*\s?)+")


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
    return out + _phrase_aliases(analysed, user) + _companions(analysed, user)


# "her cousin Ada's wedding": a relation and a name inside one phrase of the user's clause. "his"/"her" are read as
# the user's, which a clause like "Lena met Tom and his sister Ada" would get wrong; such clauses are rare in notes.
_KIN_RE = re.compile(r"\b(?:his|her|their|my)\s+([a-z]+(?:\s[a-z]+)?)\s+((?:[A-ZÀ-ÖØ-Þ][\w\-]*\s?)+?)"
                     r"(?='s\b|\s*$|\s+[a-z])")


def _phrase_aliases(analysed: list[tuple[str, list[Clause]]], user: str) -> list[Alias]:
    """Links named inside a phrase of the user's own clause: "attended her cousin Ada's wedding" makes Ada
    "Lena's cousin"; "plays chess with a club called The Rooks" makes The Rooks "Lena's club"."""
    out = []
    for mem_id, clauses in analysed:
        for cl in clauses:
            if cl.subj_kind != "user":
                continue
            prev = None
            for c in cl.chunks:
                kin = _KIN_RE.search(c.text.replace(f"{user}'s ", "my "))
                if kin and kin.group(1) in PERSON_NOUNS:
                    out.append(Alias(kin.group(2).strip(), f"{user}'s {kin.group(1)}", mem_id))
                thing = re.fullmatch(r"an?\s+([a-z]+)", prev.text) if c.prep == "called" and prev else None
                if thing:  # "a club called The Rooks"
                    out.append(Alias(c.text.strip("'\"‘’“”"), f"{user}'s {thing.group(1)}", mem_id))
                prev = c
    return out


def _first_word(name: str) -> str:
    """The first word of a name that is not a determiner: "Rooks" for "The Rooks"."""
    words = [w for w in name.split() if w.lower() not in DETERMINERS]
    return words[0] if words else name


def _companions(analysed: list[tuple[str, list[Clause]]], user: str) -> list[Alias]:
    """Description links: "On 3 May Maya hiked Ben Nevis with Ola" makes Ola "the person Maya hiked Ben Nevis with"."""
    out = []
    for mem_id, clauses in analysed:
        for cl in clauses:
            if cl.subj_kind != "user":
                continue
            for c in cl.chunks:
                if c.prep != "with" or c.kind != "person" or not PROPER_NAME_RE.fullmatch(c.text):
                    continue
                body = cl.text.split(cl.lead.text, 1)[-1] if cl.lead else cl.text
                body = re.sub(rf"\s*\bwith {re.escape(c.text)}(?!\w)", "", body).strip(" ,.")
                if body.startswith(user) and len(body.split()) <= 12:
                    out.append(Alias(c.text, f"the person {body} with", mem_id))
    return out


def _relation_forms(relation: str) -> list[str]:
    """ "Ravi's mum" -> ["Ravi's mum", "Ravi's mother"]: kinship and role synonyms that are themselves people."""
    owner, _, head = relation.partition("'s ")
    if not head:
        return [relation]
    return [relation] + [f"{owner}'s {s}" for s in SYNONYMS.get(head, []) if s in PERSON_NOUNS]


def _mentions(text: str, name: str) -> str:
    """The form of `name` used in `text` (full name, or its first word for people), or ""."""
    for form in (name, _first_word(name)):
        # "Teodor" in "Teodor Vasquez-Holm is ...": the whole name is the mention
        m = re.search(rf"(?<!\w){re.escape(form)}(?:\s+[A-Z][\w\-]*)*(?!\w)", text) if len(form) > 2 else None
        if m:
            return m.group(0)
    return ""


# Words after which a "the person Maya ... with" description reads as a noun phrase.
_DESCRIPTION_AFTER = {"is", "was", "does", "did", "has", "have", "with", "to", "for", "of", "about", "from", "and"}


def _substitute(question: str, form: str, rel: str) -> str:
    """`question` with the mention `form` replaced by `rel`; "" when a description would not read as English."""
    if not rel.startswith("the person "):
        return re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", rel, question, count=1)
    q = re.sub(rf"(?<!\w){re.escape(form)}'s (\w+)", rf"the \1 of {rel}", question, count=1)
    q = re.sub(rf"(?<!\w){re.escape(form)}(?!\w)", rel, q, count=1)
    before = q[:q.find(rel)].split()
    return q if not before or before[-1].lower() in _DESCRIPTION_AFTER or before[-1].endswith("?") else ""


def cot_examples(analysed: list[tuple[str, list[Clause]]], sentences: dict[str, list[str]], user: str,
                 per_pair: int, seed: int, superseded: Mapping[str, Container[str]] | None = None) -> list[Example]:
    """Two-hop examples for every (alias memory, other memory naming the alias) pair.

    Args:
        analysed: (memory id, analysed third-person clauses) for every memory, in order.
        sentences: memory id -> its third-person sentences (the reasoning chain quotes them).
        user: The user's display name.
        per_pair: Most examples per memory pair.
        seed: Makes the choice of questions deterministic.
        superseded: memory id -> the slot groups a later memory replaced. A chain never answers with such a slot:
            it would teach the old value as the present one, against the update data ("How much does Pixel weigh
            now? 4.4 kg." beside a chain ending "So the answer is 5.2 kg.").

    Returns:
        Examples of kind "cot" whose memory_ids name both memories.
    """
    rng = random.Random(seed)
    out: list[Example] = []
    for alias in find_aliases(analysed, user):
        forms = _relation_forms(alias.relation)
        # The bridge memory as it was said: a model that starts its reply by reciting that memory (what the QA data
        # teaches it for questions naming the bridge) is shown how to go on to the second memory.
        bridge = " ".join(s for s in sentences.get(alias.memory_id, []) if _mentions(s, alias.name))
        for mem_id, clauses in analysed:
            if mem_id == alias.memory_id:
                continue
            picked = []
            stale = (superseded or {}).get(mem_id, ())
            for cl in clauses:
                form = _mentions(cl.text, alias.name)
                if not form:
                    continue
                for qa in ClauseQuestions(cl).all() + in_situ(cl, lambda c: short_answer(c, user)):
                    if not qa.short or qa.group in stale or form not in qa.question or norm(form) in norm(qa.short):
                        continue
                    rel = forms[rng.randrange(len(forms))]  # "Ravi's mum" and "Ravi's mother" both lead to Lalitha
                    q = _substitute(qa.question, form, rel)
                    if q and norm(_first_word(alias.name)) not in norm(q):
                        picked.append((q, qa.short, cl.text, rel))
            rng.shuffle(picked)
            seen = set()
            for q, short, clause_text, rel in picked:
                if norm(q) in seen or len(seen) >= per_pair:
                    continue
                seen.add(norm(q))
                fact = " ".join(s for s in sentences.get(mem_id, []) if _mentions(s, alias.name)) or clause_text
                first = f"{cap_first(rel)} is {alias.name}."
                if bridge and len(seen) % 2 == 0 and norm(bridge) != norm(first):
                    first = bridge if bridge.endswith((".", "!", "?")) else bridge + "."
                chain = f"{first} {fact.rstrip('.')}. So the answer is {short}."
                out.append(Example(prompt=q, response=chain, kind="cot", memory_ids=[alias.memory_id, mem_id],
                                   template="cot/alias"))
    return out
