"""Knowledge updates: when a later memory supersedes an earlier one, the latest value wins.

Two memories are an update pair when the later one (by `time`, else by order) talks about the same topic
(shared content words, with a few topic classes such as home/live/moved or phone/mobile/number) and carries an
update cue ("now", "switched", "moved", "new", "no longer", "first day", ...). The earlier memory's slots of the kind
the later one restates (a place, a number, a name), introduced by a matching preposition and belonging to a present
state ("lives in", "mobile is"; a past event such as "joined a gym in 2023" stays true), are then superseded: its
plain questions are answered with the new value, and "before"/"used to" questions keep the old. A question worded
by the old memory ("What time is Ravi on day shifts to?" once he works nights) is only asked about the past, and
the old value is also asked by what else held then: the old memory's month and its other sentences ("How much did
Pixel weigh when Leicester vet said she needed a diet?"). `update_examples` writes these examples. These are rules,
so they miss updates phrased with no shared word; a teacher backend can do better. Used by data_synth.rules; not run
directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from data_synth.grammar import (
    ADVERBS,
    DETERMINERS,
    MODALS,
    PREPOSITIONS,
    PRONOUNS,
    cap_first,
    norm,
    past_tense,
    verb_info,
)
from data_synth.slots import Clause
from memory_lora.records import Example

CUES = re.compile(r"\b(now|switched|switch|moved|move|changed|new|no longer|cancell?ed|instead|any ?more|"
                  r"replaced|for good|quit|left|first day)\b", re.I)
# Prepositions that can introduce the same slot in old and new wording ("lives in X" / "moved to Y").
WHERE_PREPS = {"in", "at", "to", "based in", "based at", "into"}
TOPIC_CLASSES = {
    "home": {"live", "lives", "living", "moved", "move", "house", "flat", "apartment", "place", "address", "home"},
    "phone": {"phone", "mobile", "number", "sim", "cell"},
    "job": {"work", "works", "job", "employer", "sonographer", "position", "role", "hired"},
    "gym": {"gym", "gyms", "membership", "climb", "boulder"},
    "weight": {"weigh", "weighs", "weighed", "weight", "kg", "kilos"},
}
STOP = set("the a an and or but with from into onto this that these those have has had been being were was "
           "about after before there their they them then than when what which while will would could should "
           "says said said just still also very really first ever today yesterday month year years week".split())
SLOT_KINDS = {"place", "name", "number", "quantity", "money", "person", "time", "role"}
ROLE_VERBS = {"work", "start", "begin", "join", "serve"}  # "as X" after these is the user's role


@dataclass(frozen=True)
class Update:
    """Memory `new_id` supersedes slot `group` (value `old`) of memory `old_id` with value `new`."""

    old_id: str
    new_id: str
    group: str
    old: str
    new: str
    kind: str


def _topics(text: str, user: str) -> set[str]:
    words = {w for w in re.findall(r"[a-zA-Z][a-zA-Z'-]{2,}", text.lower()) if w not in STOP and w != user.lower()}
    stems = {re.sub(r"(?:'s|s|ed|ing)$", "", w) for w in words}
    classes = {f"#{name}" for name, members in TOPIC_CLASSES.items() if words & members}
    return stems | classes


def _subject(cl: Clause) -> str:
    if cl.subj_kind == "user":
        return "USER"
    if cl.subj_kind == "owned" and cl.owner == cl.user:
        # "my mobile" and "my number" are one slot: the user's thing of a topic class.
        heads = set(cl.head.lower().split())
        cls = next((name for name, members in TOPIC_CLASSES.items() if heads & members), "")
        if cls:
            return f"USER#{cls}"
    return norm(cl.subject)


def _slots(clauses: list[Clause], states_only: bool = False) -> list[tuple[str, str, str, str, str]]:
    """(group, text, kind, subject, prep) of every slot a question can ask about.

    `states_only` keeps the slots of present states ("lives in", "is on day shifts") and drops past events: a new
    memory can supersede where the user lives, never where they joined a gym in 2023.
    """
    out = []
    for cl in clauses:
        if states_only and cl.aux in ("did", "had"):
            continue
        for i, c in enumerate(cl.chunks):
            kind = "place" if c.kind == "name" and c.prep in ("in", "at", "to", "on") else c.kind
            if c.prep == "as" and cl.verb in ROLE_VERBS:
                kind = "role"  # "works as a sonographer" is superseded by "started as senior sonographer"
            if kind in SLOT_KINDS and c.prep not in ("subject", "called"):
                out.append((f"c{i}:{c.text}", c.text, kind, _subject(cl), c.prep))
    return out


def _unit(quantity: str) -> str:
    """The unit of a measured quantity ("5.2 kg" -> "kg"), "" when it has none."""
    return norm(re.sub(r"^[\d.,\s]+", "", quantity))


def _same_slot(old_prep: str, new_prep: str) -> bool:
    return old_prep == new_prep or (old_prep in WHERE_PREPS and new_prep in WHERE_PREPS)


def find_updates(memories: list[tuple[str, str, str | None, list[Clause]]], user: str) -> list[Update]:
    """Update pairs among (id, text, time, clauses), oldest first by time then order."""
    order = sorted(range(len(memories)), key=lambda i: (memories[i][2] or "", i))
    out: list[Update] = []
    for a_pos, ia in enumerate(order):
        a_id, a_text, _, a_clauses = memories[ia]
        a_top, a_norm = _topics(a_text, user), norm(a_text)
        for ib in order[a_pos + 1:]:
            b_id, b_text, _, b_clauses = memories[ib]
            if not a_top & _topics(b_text, user):
                continue
            # Without a cue only a new measurement of the same thing in the same unit is an update ("Pixel weighs
            # 5.2 kg" then "Weighed Pixel this morning: 4.4 kg"): a measurement states the value at its time.
            cue = bool(CUES.search(b_text))
            b_norm = norm(b_text)
            b_slots = _slots(b_clauses)
            seen: dict[tuple[str, str], int] = {}
            for group, text, kind, subj, prep in _slots(a_clauses, states_only=True):
                # The i-th place (number, name...) of the old memory is replaced by the i-th of the new one with a
                # matching preposition ("on Belgrave Gate" by "on Anglesea Street", not by "at Summit Bloc"), and
                # only for the same subject: "my mum lives in X" is not updated by "I moved to Y".
                if cue:
                    news = [t for _, t, k, s, p in b_slots
                            if k == kind and s == subj and _same_slot(prep, p) and norm(t) not in a_norm]
                else:
                    # a measurement names its subject anywhere ("weighed Pixel"), so the subject need only occur
                    news = [t for _, t, k, _, _ in b_slots
                            if k == kind == "quantity" and _unit(t) and _unit(t) == _unit(text)
                            and f" {subj} " in f" {b_norm} " and norm(t) not in a_norm]
                i = seen.get((kind, prep), 0)
                seen[(kind, prep)] = i + 1
                if i < len(news) and norm(text) not in b_norm:
                    out.append(Update(a_id, b_id, group, text, news[i], kind))
    # Only the latest value of a slot is current: keep, per old slot, the update from the newest memory.
    latest: dict[tuple[str, str], Update] = {}
    for u in out:
        latest[(u.old_id, u.group)] = u
    return list(latest.values())


def update_response(old_sentence: str, new_sentence: str, now: bool, short: str) -> str:
    """The reply that teaches both values in time order; `now` selects which one the question asks for."""
    answer = f"Now: {short}." if now else f"Before: {short}."
    return f"{cap_first(answer)} Earlier: {old_sentence.rstrip('.')}. Later: {new_sentence.rstrip('.')}."


# Words that never name a state: "on day shifts" -> "on night shifts" replaces "day", not "on".
_FUNCTION_WORDS = PREPOSITIONS | DETERMINERS | PRONOUNS | MODALS | ADVERBS | {"i", "my", "is", "am", "are", "was",
                                                                              "were", "and", "or", "now"}


def names_old_state(question: str, old_sent: str, new_sent: str, old_values: frozenset[str] | set[str]) -> bool:
    """Whether a question is worded by the old memory, so that the new value would not answer it.

    Two signs: it quotes another superseded value of the memory ("I am on day shifts, what time to 3pm?"), or a word
    the new memory replaced before the same noun ("day shifts" where the new memory says "night shifts").
    """
    q, old, new = f" {norm(question)} ", norm(old_sent).split(), norm(new_sent).split()
    new_text = f" {' '.join(new)} "

    # an old value without its article ("a sonographer" -> "sonographer"); one the new memory still says ("senior
    # sonographer") does not date the question
    cores = (" ".join(w for w in norm(v).split() if w not in DETERMINERS) for v in old_values)
    if any(c and f" {c} " in q and f" {c} " not in new_text for c in cores):
        return True
    before_new = {(b, a) for a, b in pairwise(new)}  # (noun, the word before it) in the new memory
    for a, b in pairwise(old):  # "day shifts" in the old memory and the question, "night shifts" in the new
        if a in _FUNCTION_WORDS or b in _FUNCTION_WORDS or f" {a} {b} " not in q or f" {a} {b} " in new_text:
            continue
        if any(n == b and w != a and w not in _FUNCTION_WORDS for n, w in before_new):
            return True
    return False


PAST_AUX = {"does": "did", "do": "did", "is": "was", "am": "was", "are": "were"}


def _past_forms(past: str) -> list[str]:
    """Ways to ask for a superseded value: "... before?", "... previously?", "did X use to ...?", "X's old ...".

    People ask for an old value in all of these ways; the issue's own example is "used to live in".
    """
    forms = [f"{past} before?", f"{past} previously?"]
    m = re.match(r"^(.*\bdid) (I|the user|[A-Z][\w'’-]*) (\w+)\b(.*)$", past)
    if m:
        forms.append(f"{m.group(1)} {m.group(2)} use to {m.group(3)}{m.group(4)}?")
    m = re.match(r"^(.*\b(?:was|were)\b.*?)\b([A-Z][\w-]*|the user|my)('s)? ([a-z]+)\b(.*)$", past)
    if m and (m.group(3) or m.group(2) == "my"):
        forms.append(f"{m.group(1)}{m.group(2)}{m.group(3) or ''} old {m.group(4)}{m.group(5)}?")
    return forms


# How people ask for a current value; "now" alone taught one wording (held-out asks "these days", "currently").
# "now" is listed twice: it stays the commonest.
NOW_MARKERS = ("now", "these days", "now", "at the moment", "currently")


def past_clause(sentence: str) -> str:
    """A present-tense sentence told in the past, for a "when" clause ("Leicester vet says she needs a diet" ->
    "Leicester vet said she needed a diet"); "" when it has no present-tense verb to turn."""
    # the date dated_text puts before an episodic memory would read "... when On 2 April 2023, ..."
    words = re.sub(r"^On [^,]{4,30}\d{4},\s*", "", sentence.rstrip(".!")).split()
    turned = False
    for i, w in enumerate(words):
        info = verb_info(w)
        if info and info[1] == "pres" and (info[0] == "be" or w.lower().endswith("s")):
            words[i] = {"is": "was", "am": "was", "are": "were"}.get(w.lower(), past_tense(info[0]))
            turned = True
    if not turned or not words:
        return ""
    if words[0].lower() in DETERMINERS | PRONOUNS:
        words[0] = words[0].lower()
    return " ".join(words)


def _anchored_past_forms(past: str, context: Sequence[str], month: str) -> list[str]:
    """Ways to ask for a superseded value by what else held then: the old memory's month ("How much did Pixel weigh
    in May 2023?") and its other sentences ("... when Leicester vet said she needed a diet?"). People anchor an old
    value to its circumstances as often as they say "before"; without these the adapter gave the current value."""
    forms = [f"{past} in {month}?"] if month else []
    for sentence in context:
        clause = past_clause(sentence)
        if clause and len(clause.split()) <= 12:
            forms.append(f"{past} when {clause}?")
    return forms


def update_examples(prompt: str, up: Update, old_sent: str, new_sent: str, ids: list[str], n: int,
                    old_values: frozenset[str] | set[str] = frozenset(), context: Sequence[str] = (),
                    month: str = "") -> list[Example]:
    """A superseded slot: the plain and "now" questions get the new value, "before" the old one.

    A question worded by the old memory (see names_old_state) is asked only about the past. `context` (the
    old memory's other sentences) and `month` (its month, "May 2023") add one question per anchored way of asking
    for the old value (the caller passes them with a slot's first wording only, so each is asked once).
    """
    q = prompt.rstrip("?")
    # "Where does Ravi live before?" -> "Where did Ravi live before?": the old value is asked in the past tense.
    past = re.sub(r"\b(does|do|is|am|are)\b", lambda m: PAST_AUX[m.group(1)], q, count=1)
    out = []
    forms = _past_forms(past)
    before = forms[n % len(forms)]
    old_only = names_old_state(q, old_sent, new_sent, old_values - {up.old})
    marker = NOW_MARKERS[n % len(NOW_MARKERS)]
    asks = [(prompt, True, "plain"), (f"{q} {marker}?", True, "now"), (before, False, "before")]
    asks += [(text, False, "before") for text in _anchored_past_forms(past, context, month)]
    for text, now, tag in asks:
        if now and old_only:
            continue
        short = up.new if now else up.old
        response = (cap_first(short) + ".") if (n + len(out)) % 2 == 0 else update_response(old_sent, new_sent,
                                                                                            now, short)
        out.append(Example(prompt=text, response=response, kind="temporal", memory_ids=ids + [up.new_id],
                           template=f"update/{tag}"))
    return out
