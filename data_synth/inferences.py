"""Questions a memory answers without naming the answer's relation: what follows from what it says.

A memory says "Ravi works as a sonographer at Kahikatea Imaging"; a person asks "Who is Ravi's employer?". The
clause questions (data_synth.questions) ask about each phrase through the memory's own verb; these rules add the
everyday questions that follow from a clause's shape:

- employer: "X works / started ... at ORG" -> "Who is X's employer?", "Which company does X work for?";
- located places: "ORG on STREET" / "ORG in CITY" -> "Which street is ORG on?", "Which city is ORG in?";
- people at a place: "Pixel's vet is Dr. Lee at Whitecliff Vets" -> "Where does Dr. Lee work?";
- addresses: "X's new place is 14 Kowhai Terrace" -> "What is X's address?";
- bounds: "never ... before 9:30 on a Monday" -> "What is the earliest time ... on a Monday?" (after: latest);
- allergies: "X is allergic to amoxicillin" (head "antibiotic") -> "Which antibiotic must X never be given?";
- long numbers: "X's mobile is 07700 900417" -> "What are the final four digits of X's mobile?" ("old" when a later
  memory superseded it; "final", since the thesaurus rewords "last" as "previous");
- switches: "X switched gyms. X boulders at Summit Bloc" -> "Which gym does X go to now?";
- study: "X studied ... at the University of Y" -> "Which university did X graduate from?".

Each answer is a span of the memory, so grounding holds; an answer that is a clause's phrase keeps that phrase's
group, so a superseded phrase's inferred questions are taught as past and present like its other questions
(data_synth.updates). The rules are written by hand, for the reason data_synth.synonyms gives. Used by
data_synth.rules; not run directly.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from data_synth.qa import QA
from data_synth.slots import Chunk, Clause

STREET_WORDS = ("street", "road", "lane", "avenue", "terrace", "gate", "drive", "way", "crescent", "place", "square",
                "boulevard", "quay", "close", "parade", "row", "gata", "vegen", "veien")
ADDRESS_RE = re.compile(r"^\d+[A-Za-z]?,? [^\W\d_][\w'’ -]* (?:" + "|".join(STREET_WORDS) + r")$", re.I)
STREET_RE = re.compile(r"^[^\W\d_][\w'’ -]* (?:" + "|".join(STREET_WORDS) + r")$", re.I)
HOME_HEADS = {"place", "home", "house", "flat", "apartment", "address"}
EMPLOY_VERBS = {"work", "start", "begin", "join"}
STUDY_VERBS = {"study", "graduate", "read"}
# "switched gyms", "changed to a new dentist"; never "switched to Vodafone" (no kind named)
SWITCH_RE = re.compile(r"\b(?:switched|changed|swapped) (?:to a new )?(?!(?:to|from|over|back|on|off)\b)([a-z]+?)s?\b")


def _key(cl: Clause, chunk: Chunk) -> str:
    return f"c{cl.chunks.index(chunk)}:{chunk.text}"


def _is_name(text: str) -> bool:
    bare = re.sub(r"^(?:the|a|an) ", "", text)
    return bool(bare) and bare[0].isupper()


def _add(out: list[QA], templates: tuple[str, ...], short: str, group: str, tag: str, **names: str) -> None:
    for i, t in enumerate(templates):
        out.append(QA(t.format(**names), short, group, f"infer-{tag}{i}"))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def clause_inferences(cl: Clause, memory_text: str, old_groups: Collection[str] = ()) -> list[QA]:
    """Inferred questions for one clause.

    Args:
        cl: An analysed clause of the memory.
        memory_text: The memory's third-person text (for rules that read a neighbouring sentence).
        old_groups: Groups of this memory that a later memory superseded (their values are "old").

    Returns:
        Candidate questions with short answers that are spans of the clause.
    """
    out: list[QA] = []
    u = cl.user
    chunks = cl.chunks
    at_places = [c for c in chunks if c.prep == "at" and c.kind in ("place", "name") and _is_name(c.text)]
    # employer: the user works or started at a named organisation
    if cl.subj_kind == "user" and cl.verb in EMPLOY_VERBS and at_places and any(c.prep == "as" for c in chunks):
        org = at_places[0]
        _add(out, ("Who is {u}'s employer?", "Which company does {u} work for?",
                   "Which organisation is {u} employed by?"), org.text, _key(cl, org), "employer", u=u)
    # study: the user studied or graduated at a named university or college
    if cl.subj_kind == "user" and cl.verb in STUDY_VERBS:
        for c in at_places:
            if re.search(r"\b(?:university|college|school|institute|academy)\b", c.text, re.I):
                _add(out, ("Which university did {u} graduate from?", "Where did {u} get a degree?",
                           "Where did {u} go to university?"), c.text, _key(cl, c), "study", u=u)
    # located places: a named place followed by the street or city it is on or in
    for a, b in zip(chunks, chunks[1:], strict=False):
        if a.prep == "at" and _is_name(a.text) and a.kind in ("place", "name") and not b.after_comma:
            if b.prep == "on" and STREET_RE.match(b.text):
                _add(out, ("Which street is {x} on?", "On which street is {x}?", "Where is {x} located?"),
                     b.text, f"loc:{b.text}", "street", x=a.text)
            elif b.prep == "in" and b.kind in ("place", "name") and _is_name(b.text):
                _add(out, ("Which city is {x} in?", "Where is {x}?"), b.text, f"loc:{b.text}", "city", x=a.text)
    # people at a place: "... is Dr. Ines Falcão at Whitecliff Vets"
    people = [c for c in chunks if c.kind == "person" and c.prep in ("", "subject")]
    for p in people:
        after = chunks[chunks.index(p) + 1:]
        org = next((c for c in after if c.prep == "at" and _is_name(c.text)), None)
        if org is not None:
            _add(out, ("Where does {p} work?", "Where is {p} based?", "Which place does {p} work at?"),
                 org.text, f"loc:{org.text}", "works-at", p=p.text)
    # addresses: "X's (new) place is 14 Kōwhai Terrace"
    if cl.copula and cl.subj_kind == "owned" and cl.owner == u and set(cl.head.lower().split()) & HOME_HEADS:
        for c in chunks:
            if c.prep == "" and ADDRESS_RE.match(c.text):
                _add(out, ("What is {u}'s address?", "What is {u}'s home address?", "At what address does {u} live?",
                           "What street does {u} live on?"), c.text, _key(cl, c), "address", u=u)
    # bounds: "never ... before T" / "never ... after T"
    if re.search(r"\b(?:never|not|don't|doesn't|no)\b", cl.text, re.I):
        for c in chunks:
            if c.kind == "time" and c.prep in ("before", "after"):
                word = "earliest" if c.prep == "before" else "latest"
                on = next((f" {x.prep} {x.text}" for x in chunks if x.prep == "on" and x is not c), "")
                _add(out, ("What is the " + word + " time that suits {u}{on}?",
                           "What is the " + word + " {u} can be booked{on}?",
                           ("Before" if c.prep == "before" else "After") + " what time should nothing be planned for "
                           "{u}{on}?"), c.text, _key(cl, c), "bound", u=u, on=on)
    # allergies: the chunk's head names the kind of thing ("antibiotic", "nut")
    if cl.subj_kind == "user" and re.search(r"\ballergic\b", cl.text, re.I):
        for c in chunks:
            if c.prep == "to":
                kind = c.head if c.head and c.head.lower() not in c.text.lower() else ""
                tmpl = ("Which " + kind + " must {u} never be given?", "Which " + kind + " should {u} avoid?",
                        "What " + kind + " is bad for {u}?") if kind else \
                    ("What must {u} never be given?", "What should {u} stay away from?", "What is bad for {u}?")
                _add(out, tmpl, c.text, _key(cl, c), "allergy", u=u)
    # long numbers: their last four digits
    if cl.copula and cl.subj_kind == "owned":
        for c in chunks:
            d = _digits(c.text)
            if c.kind == "number" and len(d) >= 7:
                old = _key(cl, c) in old_groups
                tmpl = ("What were the final four digits of {o}'s old {h}?", "What did {o}'s old {h} end in?") if old \
                    else ("What are the final four digits of {o}'s {h}?", "What does {o}'s {h} end in?")
                _add(out, tmpl, d[-4:], f"digits:{c.text}", "digits", o=cl.owner, h=cl.head)
    # switches: "X switched gyms." then "X ... at Summit Bloc" in the same memory
    m = SWITCH_RE.search(memory_text)
    if m and cl.subj_kind == "user" and m.group(0) not in cl.text:
        noun = m.group(1)
        for c in at_places[:1]:
            _add(out, ("Which " + noun + " does {u} go to now?", "What is {u}'s " + noun + " now?",
                       "Which " + noun + " is {u} with at the moment?"), c.text, f"switch:{c.text}", "switch", u=u)
    return out
