"""Questions about a time range a clause gives for the user's schedule: "Ravi is on day shifts, 7am to 3pm." ->
"What time do Ravi's day shifts start?" (7am), "When does Ravi's day shift end?" (3pm), "What hours do Ravi's day
shifts cover?" (7am to 3pm).

The range's two times come out of the parser as separate slots, so without this the start, the end and the span of
a shift, a class or opening hours are never asked as such. Used by data_synth.questions; not run directly.
"""

from __future__ import annotations

from data_synth.qa import singular
from data_synth.slots import Clause

RANGE_PREPS = ("to", "until", "till")


def range_questions(cl: Clause) -> list[tuple[str, str, str, str]]:
    """(question, short answer, slot group, wording key) for each "T1 to T2" range of the user's thing."""
    if cl.subj_kind != "user":
        return []
    out: list[tuple[str, str, str, str]] = []
    for i in range(1, len(cl.chunks) - 1):
        a, b = cl.chunks[i], cl.chunks[i + 1]
        if not (a.kind == "time" and b.kind == "time" and a.prep in ("", "from") and b.prep in RANGE_PREPS):
            continue
        thing = next((c for c in reversed(cl.chunks[:i]) if c.kind == "thing" and c.head), None)
        if thing is None:
            continue
        plural = f"{cl.user}'s {thing.head}"
        single = f"{cl.user}'s {singular(thing.head)}"
        do = "do" if plural != single else "does"
        span = f"{a.text} to {b.text}"
        key = f"range{i}:"
        out += [
            (f"What time {do} {plural} start?", a.text, key + "start", "range-start"),
            (f"When does {single} begin?", a.text, key + "start", "range-begin"),
            (f"What time {do} {plural} end?", b.text, key + "end", "range-end"),
            (f"When does {single} finish?", b.text, key + "end", "range-finish"),
            (f"What hours {do} {plural} cover?", span, key + "span", "range-hours"),
            (f"From when to when {'is' if do == 'does' else 'are'} {plural}?", span, key + "span", "range-span"),
        ]
    return out
