"""Replays an answer-type check on the saved beams of docs/results/nbest_34 (section 35a of docs/results/README.md).

A question whose wording asks for money, a number, a clock time or a date is given "I don't know" when the reply the
shipped reranker chose holds nothing of that kind (variant C; variants A and B instead narrow the reranker's pool to
fitting beams). It reads only the question and the adapter's own beams. Rejected: on the held-out sets it refuses no
extra abstention question and costs multi-hop and preference answers. Kept to reproduce the section's figures.

Run: python docs/results/typed_35/replay_typed.py dev|test     (from the repository root)
"""

from __future__ import annotations

import collections
import glob
import json
import re
import sys

sys.path.insert(0, ".")
from eval.metric.memory_recall.memory_recall import score_reply  # noqa: E402
from eval.rerank_replay import choose as rule_choice  # noqa: E402
from eval.rerank_replay import parse_rule  # noqa: E402
from memory_lora.prompts import ABSTAIN_REPLY  # noqa: E402
from memory_lora.rerank import competing, pick, refuses  # noqa: E402

SHIPPED = parse_rule("sim=0.5")
MONTHS = set("january february march april may june july august september october november december "
             "jan feb mar apr jun jul aug sep sept oct nov dec".split())
DAYS = set("monday tuesday wednesday thursday friday saturday sunday weekend weekends weekday weekdays".split())
TIMES = set("spring summer autumn fall winter christmas easter yesterday today tomorrow ago morning evening night "
            "noon midnight daily weekly monthly yearly week month year".split())
NUMBERS = set("one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred "
              "thousand half dozen once twice".split())
MONEY_Q = r"\bhow much\b.*\b(pay|paid|cost|costs|price|rent|spend|spent|charge|charged|fee|earn|earns|salary)\b"


def kind(question: str) -> str | None:
    """The kind of value the question's wording asks for, or None."""
    q = question.lower()
    if re.search(MONEY_Q, q):
        return "money"
    if re.search(r"\bhow (much|many|old|heavy|long|far|tall)\b", q) or re.match(
            r"^(how (big|often|fast)|what (percentage|number|size|weight|price))\b", q):
        return "num"
    if re.search(r"\bwhat time\b", q):
        return "time"
    if re.match(r"^when (did|does|do|is|was|were|will|has|had|are|can|should|would)\b", q) or re.match(
            r"^(in what year|what year|which year|what month|which month|what date|which day|what day|on what date|"
            r"on which)\b", q) or re.search(r"\b(what|which) (year|month|date|day)\b", q):
        return "date"
    return None


def fits(value_kind: str, reply: str) -> bool:
    """Whether the reply holds a value of that kind."""
    t = reply.lower()
    words, digit = set(re.findall(r"[a-z]+", t)), bool(re.search(r"\d", t))
    if value_kind == "money":
        return bool(re.search(r"[£$€¥₹]|\b(pounds?|dollars?|euros?|kroner|krone|nzd|gbp|usd|eur|nok|dkk|sek|rupees?|"
                              r"pence|p)\b|\d\s?(k|p)\b|\bfree\b", t))
    if value_kind == "num":
        return digit or bool(words & NUMBERS)
    if value_kind == "time":
        return digit or bool(words & {"noon", "midnight", "morning", "evening", "night", "afternoon"})
    return digit or bool(words & (MONTHS | DAYS | TIMES))


def choose(record: dict, variant: str, gate: float | None) -> str:
    """The reply under a variant: shipped, A (pool narrowed, none fits -> refuse), B (none fits -> shipped), C."""
    beams = record["n_best"]
    texts, means, sims = [b["text"] for b in beams], [b["mean"] for b in beams], [b["sim"] for b in beams]
    text = texts[rule_choice(beams, SHIPPED)]
    k = kind(record["question"])
    if variant in ("A", "B") and k and not refuses(texts[0]):
        pool = [j for j in competing(texts, means, 0.3) if fits(k, texts[j])]
        if pool:
            # the shipped score among fitting beams only: the others get a similarity no beam can beat
            text = texts[pick(texts, means, [sims[j] if j in pool else -1e9 for j in range(len(texts))], 0.5, 0.3)]
        elif variant == "A":
            text = ABSTAIN_REPLY
    if variant == "C" and k and not refuses(text) and not fits(k, text):
        text = ABSTAIN_REPLY
    if gate is not None and record["idk_margin"] <= gate and not refuses(text):
        text = ABSTAIN_REPLY  # the margin gate as eval.rerank_replay.replay_reply applies it
    return text


def main(split: str) -> None:
    runs = [d for d in sorted(glob.glob("docs/results/nbest_34/*_*")) if not d.endswith(".json")]
    for variant in ("shipped", "A", "B", "C"):
        for gate in (None, 0.08, 0.1):
            total, count = collections.Counter(), collections.Counter()
            for d in runs:
                for line in open(d + ("/dev" if split == "dev" else "") + "/answers.jsonl", encoding="utf-8"):
                    r = json.loads(line)
                    if r["method"] != "parametric":
                        continue
                    text = choose(r, variant, gate)
                    right = refuses(text) if r["type"] == "abstention" else score_reply(text, r["answers"])["accuracy"]
                    total[r["type"]] += right
                    count[r["type"]] += 1
            print(variant, "gate", "off" if gate is None else gate,
                  " ".join(f"{t}:{total[t]:.0f}/{count[t]}" for t in sorted(count)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev")
