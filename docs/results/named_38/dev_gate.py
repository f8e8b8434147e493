"""The gate section 38 chose on the dev sets, replayed from the saved beams of the two named-refusal runs.

Rule, fixed before the dev answers were read: the smallest of 0.02, 0.04, 0.06, 0.08 and 0.1 at which both users
refuse at least 0.8 of their dev abstention questions; else the shipped 0.1. Prints each user's right answers by type
at every gate (off included, for reference) and the chosen gate. The shipped reranker (sim=0.5) picks the reply, as
eval did; only the gate changes (eval.rerank_replay).

Run: python docs/results/named_38/dev_gate.py        (from the repository root)
"""

from __future__ import annotations

import sys

sys.path[:0] = [".", "docs/results/gate_37"]
from gate_tradeoff import tally  # noqa: E402  (the same replay: shipped reranker, only the gate changes)

from eval.files import read_jsonl  # noqa: E402

GATES = (None, 0.02, 0.04, 0.06, 0.08, 0.1)
CHOOSABLE = GATES[1:]  # eval has no "off" value beside the gate flag, so off is shown, not chosen
RUNS = {"demo": "docs/results/demo_named_floor40_seed0/dev/answers.jsonl",
        "ravi": "docs/results/ravi_named_floor40_seed0/dev/answers.jsonl"}


def main() -> None:
    clears = {g: True for g in GATES}
    for user, path in RUNS.items():
        recs = [r for r in read_jsonl(path) if r["method"] == "parametric"]
        print(f"{user} ({len(recs)} dev questions)")
        for g in GATES:
            right, asked = tally(recs, g)
            clears[g] &= right["abstention"] >= 0.8 * asked["abstention"]
            row = " ".join(f"{t} {right[t]}/{asked[t]}" for t in sorted(asked))
            print(f"  gate {'off' if g is None else g}: {row}")
    print("chosen gate:", next((g for g in CHOOSABLE if clears[g]), 0.1))


if __name__ == "__main__":
    main()
