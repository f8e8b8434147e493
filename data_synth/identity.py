"""Question families about what a thing is and what it is called: copula complements ("Maya's badge number is
88214" -> "What is Maya's badge number?") and namings ("... named it Biscuit" -> "What is Ravi's car called?").

Plain functions over a data_synth.questions.ClauseQuestions (passed as `self`, whose `add` collects the questions).
Used by data_synth.questions; not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import VERB_OBJECT_NOUN, norm, past_tense, third_singular
from data_synth.qa import last_word, q_text, short_answer, singular
from data_synth.slots import Chunk

AGE_RE = re.compile(r"(?i)aged\s+\d{1,3}|\d{1,3}\s*-?\s*(?:years?|yrs?|months?)\s*-?\s*old|\d{1,3}\s*yo")


def complement_questions(self, c: Chunk, group: str) -> None:
    """Questions whose answer is a copula complement ("Maya's badge number is 88214" -> "What is ...?")."""
    cl, short = self.cl, short_answer(c)
    if AGE_RE.fullmatch(c.text):  # "..., 3 yrs old": an age, even as an afterthought, is asked as one
        for subj in self.subjects:
            self.add(f"How old is {subj}?", c.text, group + "/age", "age")
        return
    if c.after_comma:
        return  # an afterthought ("..., Thursdays only") is left to cloze and recitation
    if c.kind == "thing" and not re.match(r"(?i)(a|an|the)\s", c.text) and cl.subj_kind == "user":
        return  # adjective complement ("allergic"): the preposition phrase after it is the slot
    if re.fullmatch(r"[a-z]+ing", c.text):
        return  # a progressive verb ("is training for ..."): no job, the phrases after it are the slots
    head = last_word(cl.head)
    for subj in self.subjects:
        if norm(short) in norm(subj):
            continue
        if c.kind == "date":
            self.add(f"When is {subj}?", short, group, "when-is")
            self.add(f"What date is {subj}?", short, group, "date-is")
            self.add(f"On what day is {subj}?", short, group, "day-is")
        elif c.kind == "person" or (cl.person and c.kind in ("name", "title")):
            self.add(f"Who is {subj}?", short, group, "who-is")
            self.add(f"What is the name of {subj}?", short, group, "name-of")
            continue
        elif cl.person and c.kind == "thing":
            self.job(c, group)
            continue
        self.add(f"What is {subj}?", short, group, "what-is")
        self.add(f"What's {subj}?", short, group, "whats")
        self.add(f"Remind me, what is {subj}?", short, group, "remind")
        self.add(f"Do you remember {subj}?", short, group, "remember")
        if c.kind == "number" and head not in ("number", "code"):
            self.add(f"Which number is {subj}?", short, group, "which-number")
        favourite = "favourite" in cl.head or "favorite" in cl.head
        if cl.subj_kind == "owned" and head and head not in ("number", "code") and not favourite:
            self.add(f"What {head} does {cl.owner} have?", short, group, "what-have")
            if c.kind == "thing" and re.match(r"(?i)an?\s", c.text):
                self.add(f"What kind of {head} does {cl.owner} have?", short, group, "kind-have")
                if cl.name:  # "Ravi's cat Pixel is a tabby" is also asked by the name
                    self.add(f"What kind of {head} is {cl.name}?", short, group, "kind-is")
        if cl.subj_kind == "owned" and favourite:
            self.add(f"Which {head} does {cl.owner} like best?", short, group, "like-best")
            self.add(f"What {head} does {cl.owner} like the most?", short, group, "like-most")
        break
    colour = re.search(r"\b(?:[a-z]+-)?(?:red|green|blue|yellow|orange|purple|pink|black|white|grey|gray|brown|"
                       r"teal|turquoise|navy|silver|gold|beige)\b(?:\s+(?:green|blue))?", c.text)
    if colour and self.owned and not re.search(r"colou?r", self.owned):
        self.add(f"What colour is {self.owned}?", colour.group(0), group + "/colour", "colour")
        self.add(f"What color is {self.owned}?", colour.group(0), group + "/colour", "color")

def named_questions(self, c: Chunk, group: str, prev: Chunk | None) -> None:
    """Questions about a "called X" / "named X" slot; `prev` is the slot before it (what is named)."""
    cl, short = self.cl, c.text
    things = []
    if cl.copula and self.owned and (prev is None or prev.prep == ""):
        things.append(self.owned)
    if prev is not None and not prev.head and prev.prep == "" and cl.subj_kind == "user" and cl.verb:
        cat = VERB_OBJECT_NOUN.get(cl.verb.split()[0])
        if cat and cat != "thing":
            things.append(f"{cl.user}'s {cat}")
    if prev is not None and prev.head:
        head = singular(last_word(prev.head)) if prev.text == "one" else prev.head
        if prev.prep == "" and cl.subj_kind == "user":
            things.append(f"{cl.user}'s {head}")
        elif prev.text != "one":
            if prev.participle:
                ctx = f"that {self.subjects[0]} {cl.aux} {prev.participle}"
            elif cl.verb and not cl.copula and cl.subj_kind == "user":
                verb = third_singular(cl.verb) if cl.aux == "does" else past_tense(cl.verb)
                obj = self.obj.text if self.obj is not None and self.obj is not prev else ""
                ctx = " ".join(x for x in ("that", self.subjects[0], verb, obj) if x)
            else:
                ctx = ""
            things.append(f"the {head}" + (f" {ctx} {prev.prep}" if ctx else ""))
    if prev is not None and prev.text == "one" and self.obj is not None and self.obj.head:
        things.append(f"the {singular(last_word(self.obj.head))} {cl.user} especially likes")
    for thing in things:
        self.add(f"What is the name of {thing}?", short, group, "name-of")
        self.add(f"What is {thing} called?", short, group, "called")
        if thing.startswith(cl.user + "'s "):
            bare = "the " + thing[len(cl.user) + 3:]
            self.add(f"What name did {cl.user} give {bare}?", short, group, "gave-name")
            self.add(f"What does {cl.user} call {bare}?", short, group, "call")
    if self.obj is not None and cl.subj_kind == "user" and prev is self.obj and cl.verb and self.obj.head:
        verb = third_singular(cl.verb) if cl.aux == "does" else past_tense(cl.verb) if cl.aux == "did" else ""
        if verb:
            self.add(q_text("What is the name of the", last_word(self.obj.head), "that", cl.user, verb), short, group,
                     "name-rel")
