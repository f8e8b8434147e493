"""Question templates: one analysed clause (data_synth.slots.Clause) -> many differently worded questions per slot.

Every question is built from the clause's parts with do-support ("Maya moved to Tromsø" -> "Where did Maya move?"),
with the wh-word chosen from the slot type and preposition. Used by data_synth.rules; not run directly.
"""

from __future__ import annotations

import re

from data_synth.grammar import VERB_OBJECT_NOUN, WEEKDAYS, norm, past_tense
from data_synth.identity import complement_questions, named_questions
from data_synth.qa import QA
from data_synth.qa import ing_base as _ing_base
from data_synth.qa import last_word as _last
from data_synth.qa import q_text as _q
from data_synth.qa import short_answer as _short
from data_synth.ranges import range_questions
from data_synth.roles import role_questions
from data_synth.slots import DATE_RE, ING_NOUNS, PLACE_WORDS, YEAR_RE, Chunk, Clause

JOB_VERBS = {"work"}
AUTHOR_HEADS = {"novel", "book", "song", "film", "movie", "album", "poem", "play", "podcast", "painting", "series"}
NEG_VERBS = {"hate", "dislike", "detest", "loathe", "avoid"}
POS_VERBS = {"like", "love", "enjoy", "prefer", "adore", "fancy"}
POSITIONS = {"top", "bottom", "end", "start", "front", "back", "side", "beginning", "middle", "rest", "moment"}
EVENT_VERBS = {"attend", "host", "hold", "organise", "organize", "celebrate", "throw"}  # the object is an event
RACE_VERBS = {"run", "finish", "complete", "swim", "cycle", "ride", "walk", "row", "ski"}


# Heads of phrases after in/at/on that name an occasion or a manner, never a place ("on the third attempt", "on a
# diet", "on the phone"): such a phrase is asked "which attempt", not "where".
OCCASION_HEADS = {"attempt", "try", "go", "occasion", "time", "diet", "phone", "call", "way", "basis", "purpose",
                  "average", "whole", "holiday", "leave"}


ORDINAL_RE = re.compile(r"(?:the\s+)?(?:\d+(?:st|nd|rd|th)|first|second|third|fourth|fifth|last|next)\b")


def _occasion(text: str) -> bool:
    """True for "the third attempt", "a diet": a phrase after in/at/on that is no place."""
    words = norm(text).split()
    return bool(words) and (words[-1] in OCCASION_HEADS or bool(ORDINAL_RE.match(" ".join(words))))


# nouns that end like a participle
_ED_NOUNS = {"bed", "shed", "seed", "speed", "breed", "need", "feed", "reed", "weed", "steed", "greed", "hundred",
             "sled", "red"}
_ING_NOUNS = ING_NOUNS | {"sibling", "pudding", "painting", "drawing", "recording", "filling", "icing", "stuffing",
                          "lightning", "dumpling", "darling", "duckling", "seedling", "earring", "sapling"}


def _noun_like(word: str) -> bool:
    """False for a head that is a participle or an adverb ("IronLeaf membership cancelled", "moved here"): "What
    kind of cancelled" is no question."""
    w = word.lower()
    if w in ("here", "there", "now", "today", "home", "abroad"):
        return False
    if w.endswith("ed") and w not in _ED_NOUNS:
        return False
    return not (w.endswith("ing") and len(w) > 5 and w not in _ING_NOUNS)


class ClauseQuestions:
    """Builds the questions for one clause; `all()` returns them in generation order."""

    def __init__(self, cl: Clause):
        self.cl = cl
        self.out: list[QA] = []
        user = cl.user
        if cl.subj_kind == "owned":
            self.owned = f"{cl.owner}'s {cl.head}"
            self.subjects = [self.owned] + ([cl.name] if cl.name else [])
            inner = next((c for c in cl.chunks if c.after_comma and c.prep in ("at", "on", "in", "for")), None)
            if inner is not None and cl.copula and inner.kind not in ("place", "name"):
                self.subjects.append(f"{self.owned} {inner.prep} {inner.text}")
        else:
            self.owned = ""
            self.subjects = [cl.subject]
        self.obj = next((c for c in cl.chunks if c.prep == "" and not c.after_comma), None)
        self.user = user

    def add(self, question: str, short: str, group: str, wh: str):
        question = re.sub(r"(?<=\w )The (?=[a-z])", "the ", question)  # "did the bill come to", not "did The bill"
        if norm(short) and norm(short) not in norm(question) and len(question) < 200:
            self.out.append(QA(question, short, group, wh))
            if wh == "who-is":  # "Who is Maya's landlord?" is also "Who does Maya rent from?"
                self.out += [QA(q, short, group, key) for q, key in role_questions(question)]

    def _ctx(self, slot: Chunk) -> list[str]:
        """Other phrases that may be kept in a question for context (never the slot itself)."""
        ctx = []
        for c in self.cl.chunks:
            if c is slot or c is self.obj or c.after_comma or c.prep in ("subject", "called", "because", "rather than"):
                continue
            if c.kind == "purpose" or c.participle:
                continue
            ctx.append(f"{c.prep} {c.text}" if c.prep not in ("", "every") else c.text)
        return ctx[:1]

    def _vp(self, wh: str, subj: str, slot: Chunk | None, strand: str = "", ctx: str = "") -> str:
        cl = self.cl
        obj = self.obj.text if self.obj is not None and self.obj is not slot else ""
        if slot is not None and slot.after_comma and cl.copula:
            obj = ""  # "Which floor is Maya's flat on?", not "... flat number 47B on?"
        # "What year did Maya move to Tromsø in?" but "Which city did Maya move to in March 2023?"
        tail = (ctx, strand) if slot is not None and slot.kind in ("date", "time", "purpose") else (strand, ctx)
        if cl.copula:
            return _q(wh, cl.aux, subj, obj, *tail)
        return _q(wh, cl.aux, subj, cl.adverbs, cl.verb, obj, *tail)

    def _both(self, wh: str, slot: Chunk, short: str, group: str, strand: str = "", key: str = ""):
        """Ask with each subject form, without and with one context phrase."""
        ctxs = [""] + self._ctx(slot)
        for i, subj in enumerate(self.subjects):
            if norm(short) in norm(subj):
                continue
            self.add(self._vp(wh, subj, slot, strand, ctxs[i % len(ctxs)]), short, group, key or wh)
            if i == 0 and len(ctxs) > 1:
                self.add(self._vp(wh, subj, slot, strand, ctxs[1]), short, group, (key or wh) + "+ctx")

    # -- slot families ---------------------------------------------------------------------------------------
    def date(self, c: Chunk, group: str):
        prep = c.prep if c.prep in ("on", "in", "since", "until", "by") else "in"
        self._both("When", c, c.text, group)
        day = re.fullmatch(rf"(?:an?\s+)?({'|'.join(WEEKDAYS)})(s?)(?:\s+(morning|afternoon|evening|night)s?)?\.?",
                           c.text.strip())
        if day:  # a weekday is not a date: "On which day ...?", never "In which month ...?"
            self._both("On which day", c, day.group(1), group)
            self._both("What day of the week", c, day.group(1), group, strand="on")
            if day.group(3):  # "Thursday evenings"
                self._both(f"On which {day.group(3)}", c, day.group(1), group)
            return
        if re.search(r"\d{1,2}(?:st|nd|rd|th)?\s+[A-Z]|[A-Z][a-z]+\.?\s+\d{1,2}\b(?!\d)", c.text):
            self._both("On what date", c, c.text, group)
            self._both("What date", c, c.text, group, strand=prep if prep != "on" else "")
        year = YEAR_RE.search(c.text)
        if year:
            self._both("In what year", c, year.group(0), group)
            self._both("What year", c, year.group(0), group, strand="in" if prep == "in" else "")
        m = DATE_RE.search(c.text)
        if m and re.search(r"[A-Z][a-z]+", c.text) and not re.search(r"\d{1,2}\s+[A-Z]", c.text):
            self._both("In which month", c, c.text, group)

    def by_kind(self, c: Chunk, group: str):
        cl, k, prep = self.cl, c.kind, c.prep
        strand = prep if prep not in ("", "every", "subject") else ""
        short = _short(c, self.user)
        if c.participle:
            return self.participle(c, group, short)
        if prep == "with" and k in ("title", "thing", "quantity") and not cl.copula and cl.verb:
            # "signs off emails with 'Warm tides'" is also asked as "How does Maya sign off emails?"
            self._both("How", c, short, group, key="How-with")
        comp = self.obj
        if (cl.copula and prep and comp is not None and comp.kind == "thing" and not c.after_comma
                and re.match(r"(?i)(?!a\s|an\s)", comp.text) and cl.subj_kind != "user"):
            return  # "snack is smoked almonds with rosemary": the phrase belongs to the complement
        if prep == "" and cl.copula:
            return self.complement(c, group)
        if k == "person" and re.match(r"[a-z]", c.text):
            rel, name = re.match(r"(.*?)\s*([A-Z].*)$", c.text).groups()
            rel = re.sub(r"^(?:the|a|an)\s+", "", rel)
            if rel:
                for form in (f"{self.user}'s {rel}", ):
                    self.add(f"What is the name of {form}?", name, group + "/rel", "name-of")
                    self.add(f"What is {form} called?", name, group + "/rel", "called")
                    self.add(f"Who is {form}?", name, group + "/rel", "who-is")
        if k == "date":
            return self.date(c, group)
        if k == "freq":
            self._both("How often", c, short, group)
            self._both("When", c, short, group)
        elif k == "time" and prep == "in":
            self._both("How fast", c, short, group)
            self._both("In what time", c, short, group)
            for subj in self.subjects[:1]:
                if self.obj is not None and cl.verb in RACE_VERBS:
                    self.add(f"What was {subj}'s time in {self.obj.text}?", short, group, "time-of")
                    self.add(f"What was {subj}'s finishing time in {self.obj.text}?", short, group, "finish")
                    self.add(f"How long did it take {subj} to {cl.verb} {self.obj.text}?", short, group, "howlong")
        elif k == "time":
            self._both("What time", c, short, group, strand=strand if strand != "at" else "")
        elif k == "duration":
            self._both("How long", c, short, group)
        elif k == "money":
            self._both("How much money", c, short, group, strand=strand)
            self._both("How much", c, short, group, strand=strand)
            if c.after_comma and self.obj is not None and self.obj.kind in ("name", "thing"):
                # "joined IronLeaf Gym ..., £29 a month": the price is the object's
                thing = re.sub(r"^(?:a|an)\s+", "the ", self.obj.text)
                past = cl.aux == "did"
                self.add(f"How much {'did' if past else 'does'} {thing} cost?", short, group, "cost")
                self.add(f"What {'was' if past else 'is'} the price of {thing}?", short, group, "price")
        elif k in ("quantity", "number"):
            self._both("How much" if k == "quantity" else "What number", c, short, group, strand=strand)
            if c.head and k == "quantity":
                self._both("What amount", c, short, group, strand=strand)
        elif k == "person":
            if prep == "":
                self._both("Who", c, short, group)
                self._both("Whom", c, short, group)
            else:
                self._both("Who", c, short, group, strand=strand)
                self._both(f"{prep.capitalize()} whom", c, short, group)
            if prep == "by" and _last(cl.head) in AUTHOR_HEADS:
                for subj in self.subjects:
                    self.add(f"Who wrote {subj}?", short, group, "wrote")
                    self.add(f"Who is the author of {subj}?", short, group, "author")
        elif k == "purpose":
            self._both("Why", c, short, group)
            inf = c.text.split()
            if len(inf) > 1:
                self._both("What", c, " ".join(inf[1:]), group + "/inner", strand="to " + inf[0])
                head = _last(c.text).lower()
                if head.isalpha():
                    self._both(f"Which {head}", c, " ".join(inf[1:]), group + "/inner", strand="to " + inf[0])
        elif k == "reason":
            self._both("Why", c, short, group)
        elif prep == "":
            cat = VERB_OBJECT_NOUN.get(cl.verb.split()[0]) if cl.verb else None
            if cl.copula:
                return self.complement(c, group)
            if c.text.lower() in ("anything", "something", "nothing", "it", "one"):
                return
            self._both("What", c, short, group)
            self.sentiment(c, group, short)
            if cat and cat != "thing":
                self._both(f"What {cat}", c, short, group)
                self._both(f"Which {cat}", c, short, group)
            elif c.head and _noun_like(_last(c.head)):
                self._both(f"What kind of {_last(c.head)}", c, short, group)
        elif prep in ("to", "in", "at", "on", "near", "into", "based in", "based at") and k in ("place", "name"):
            self.place(c, group, short)
        elif prep == "from" and k in ("place", "name"):
            self._both("Where", c, short, group, strand="from")
            self._both("From which place", c, short, group)
        elif prep == "as":
            if cl.verb in ("work", "start", "begin"):  # "started as senior sonographer at ..." is a job too
                self.job(c, group)
            else:
                self._both("How", c, short, group)
            self._both("What", c, short, group, strand="as")
        elif prep in ("during", "since", "until"):
            self._both("When", c, short, group)
        elif prep in ("rather than", "away from", "of") or (c.after_comma and cl.subj_kind == "owned" and cl.copula
                                                            and c.kind not in ("place", "name")):
            return
        elif c.head and (norm(c.head) == norm(c.text) or " of " in c.text or _last(c.head) in POSITIONS):
            self._both("What", c, short, group, strand=strand)
        elif c.head:
            last = _last(c.head)
            self._both(f"Which {last}", c, short, group, strand=strand)
            self._both(f"What {last}", c, short, group, strand=strand)
            if prep in ("in", "at", "on") and cl.subj_kind in ("user", "name", "owned") and not _occasion(c.text):
                self._both("Where", c, short, group)
            if prep in ("with", "for", "over", "about"):
                self._both("What", c, short, group, strand=strand)
        elif prep:
            self._both("What", c, short, group, strand=strand)

    def sentiment(self, c: Chunk, group: str, short: str):
        """Likes and dislikes get asked with the other sentiment verbs too ("can't stand" -> "dislike", "hate")."""
        cl, verb = self.cl, self.cl.verb
        neg = verb in NEG_VERBS or (cl.aux in ("can't", "cannot") and verb == "stand") or cl.aux in ("doesn't",)
        if not (neg or verb in POS_VERBS) or cl.subj_kind != "user":
            return
        subj = self.subjects[0]
        forms = ([f"What does {subj} dislike?", f"What does {subj} hate?", f"What can't {subj} stand?",
                  f"What is something {subj} really dislikes?", f"Name something {subj} can't stand.",
                  f"Tell me what {subj} hates."] if neg else
                 [f"What does {subj} like?", f"What does {subj} enjoy?", f"What does {subj} prefer?",
                  f"What is something {subj} really likes?", f"Name something {subj} likes.",
                  f"Tell me what {subj} enjoys."])
        for i, q in enumerate(forms):
            self.add(q, short, group, f"sent{i}")

    def place(self, c: Chunk, group: str, short: str):
        prep = c.prep.replace("based ", "")
        self._both("Where", c, short, group)
        self._both(f"{prep.capitalize()} which place", c, short, group)
        if c.head and c.kind == "place":
            self._both(f"Which {_last(c.head)}", c, short, group, strand=prep)
        last = c.text.split()[-1].lower()
        if c.kind == "place" and prep == "on":
            self._both("Which street", c, short, group, strand=prep)
        elif c.kind == "place":
            self._both("Which city", c, short, group, strand=prep)
        elif last in PLACE_WORDS:
            self._both(f"Which {last}", c, short, group, strand=prep)
        self._both("What place", c, short, group, strand=prep)
        if self.cl.verb in ("work", "live"):
            for subj in self.subjects:
                self.add(f"Where is {subj} {'employed' if self.cl.verb == 'work' else 'based'}?", short, group,
                         "verb-extra")
        if self.cl.verb in EVENT_VERBS and self.obj is not None and self.obj is not c and prep in ("in", "at"):
            # "attended his cousin Divya's wedding in Kochi" -> "Where did Divya's wedding take place?"
            owned = re.search(r"[A-Z][\w-]*'s\s+[a-z].*$", self.obj.text)
            event = owned.group(0) if owned else re.sub(r"^(?:a|an|his|her|their|my)\s+", "the ", self.obj.text)
            self.add(f"Where was {event}?", short, group, "event-where")
            self.add(f"Where did {event} take place?", short, group, "event-place")

    def participle(self, c: Chunk, group: str, short: str):
        p = c.participle
        for subj in self.subjects:
            if p.endswith("ing"):
                base = _ing_base(p)
                aux = self.cl.aux if self.cl.aux in ("did", "does") else "does"
                self.add(_q("Where" if c.kind == "place" else "What", aux, subj, base,
                            "" if c.kind == "place" else c.prep), short, group, "part")
                obj = self.obj
                if not c.prep and self.cl.aux == "did" and obj is not None and obj is not c and subj == self.cl.subject:
                    # "broke my left ankle playing futsal" -> "What was Ravi playing when he broke his left ankle?"
                    when = f"when {subj} {past_tense(self.cl.verb)} {obj.text}"
                    self.add(_q("What was", subj, p, when), short, group, "part-when")
            else:
                be = "was" if c.kind == "date" or p in ("bought", "adopted", "born", "made") else "is"
                wh = "When" if c.kind == "date" else "Where"
                self.add(_q(wh, be, subj, p, c.prep if wh == "Where" and c.prep == "from" else ""), short, group,
                         "part")
                if c.kind == "date" and YEAR_RE.search(c.text):
                    self.add(_q("In what year", be, subj, p), YEAR_RE.search(c.text).group(0), group, "part-year")

    def job(self, c: Chunk, group: str):
        short = _short(c)
        for subj in self.subjects:
            if norm(short) in norm(subj):
                continue
            for q, key in ((f"What does {subj} do for a living?", "job1"), (f"What is {subj}'s job?", "job2"),
                           (f"What is {subj}'s profession?", "job3"), (f"What kind of work does {subj} do?", "job4"),
                           (f"What does {subj} do?", "job5")):
                self.add(q, short, group, key)

    def complement(self, c: Chunk, group: str):
        complement_questions(self, c, group)

    def named(self, c: Chunk, group: str, prev: Chunk | None):
        named_questions(self, c, group, prev)

    def condition(self, lead: Chunk):
        """Procedures ("When booking hotels, Maya always ..."): ask what the user wants in that situation; the
        answer is the whole rule, so these carry no short answer."""
        subj, when = self.subjects[0], f"{lead.prep} {lead.text}"
        do = "do" if self.cl.aux in ("does", "did") else ""
        for q, key in ((f"What does {subj} want {when}?", "cond-want"),
                       (f"What should you do {when} for {subj}?", "cond-should"),
                       (f"What are {subj}'s preferences {when}?", "cond-pref"),
                       (f"How does {subj} like things done {when}?", "cond-how"),
                       (_q("What", self.cl.aux or "does", subj, self.cl.adverbs, do, when), "cond-do")):
            self.out.append(QA(q, "", "cond", key))

    def subject_name(self, c: Chunk, group: str):
        """The appositive name in "Maya's sister Åsa": ask for the name of the relation."""
        cl = self.cl
        owned = f"{cl.owner}'s {c.head}"
        self.add(f"What is the name of {owned}?", c.text, group, "name-of")
        self.add(f"What is {owned} called?", c.text, group, "called")
        if cl.person:  # "Who is Ravi's cat?" reads wrong
            self.add(f"Who is {owned}?", c.text, group, "who-is")
        self.add(f"What is {owned}'s name?", c.text, group, "name-poss")

    def all(self) -> list[QA]:
        cl = self.cl
        if not (cl.aux or cl.copula):
            return []
        if cl.lead is not None and cl.lead.kind == "date":
            self.date(cl.lead, "lead")
        if cl.lead is not None and cl.lead.kind == "condition":
            self.condition(cl.lead)
        prev = None
        for i, c in enumerate(cl.chunks):
            group = f"c{i}:{c.text}"
            if c.prep == "subject":
                self.subject_name(c, group)
            elif c.prep == "called":
                self.named(c, group, prev)
            else:
                self.by_kind(c, group)
            if c.prep != "called":
                prev = c
        for question, short, group, wh in range_questions(cl):
            self.add(question, short, group, wh)
        return self.out
