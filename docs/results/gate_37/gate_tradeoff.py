"""What each "I don't know" gate threshold gives each user, replayed on every kept run with saved beams (section 37).

For each user and threshold: single-hop and abstention right, summed over that user's held-out runs, and how many
runs clear the issue's bars on them (single-hop >= 0.95 of the questions, abstention >= 0.8); the same on the dev
runs. The shipped reranker (sim=0.5) picks the reply, as eval did; only the gate changes (eval.rerank_replay).

Run: python docs/results/gate_37/gate_tradeoff.py        (from the repository root)
"""

from __future__ import annotations

import glob
import math
import sys
from collections import Counter

sys.path.insert(0, ".")
from eval.files import read_jsonl  # noqa: E402
from eval.metric.memory_recall.memory_recall import score_reply  # noqa: E402
from eval.rerank_replay import parse_rule, replay_reply  # noqa: E402
from memory_lora.rerank import refuses  # noqa: E402

BARS = {"single-hop": 0.95, "abstention": 0.8}  # the bars, per run
GATES = (None, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15)
RULE = parse_rule("sim=0.5")


def runs(user: str, dev: bool) -> list[list[dict]]:
    """Parametric records with saved beams, one list per run folder of docs/results."""
    if dev:
        paths = glob.glob(f"docs/results/devmore_35/{user}_s*/answers.jsonl")
        paths += glob.glob(f"docs/results/nbest_34/{user}_*/dev/answers.jsonl")
        paths += glob.glob(f"docs/results/{user}_*floor40*/dev/answers.jsonl")
    else:
        paths = glob.glob(f"docs/results/nbest_34/{user}_*/answers.jsonl")
        paths += glob.glob(f"docs/results/{user}_*floor40*/answers.jsonl")
    out = []
    # the runs section 37 replayed: later sections' runs (section 38's named refusals) are another synthesizer
    paths = [p for p in paths if "_named_" not in p]
    for path in sorted(paths):
        recs = [r for r in read_jsonl(path) if r["method"] == "parametric" and isinstance(r.get("n_best"), list)]
        if recs:
            out.append(recs)
    return out


def tally(recs: list[dict], gate: float | None) -> tuple[Counter, Counter]:
    """(right, asked) by question type with the gate at `gate` (None: off)."""
    right, asked = Counter(), Counter()
    for r in recs:
        text = replay_reply(r, RULE, gate=gate)
        ok = refuses(text) if r["type"] == "abstention" else score_reply(text, r["answers"])["accuracy"] >= 1.0
        right[r["type"]] += ok
        asked[r["type"]] += 1
    return right, asked


def main() -> None:
    print("| user, set | gate | single-hop right | abstention right | runs clearing single-hop "
          "| runs clearing abstention |")
    print("|---|---|---|---|---|---|")
    for user in ("demo", "ravi"):
        for dev in (False, True):
            sets = runs(user, dev)
            if not sets:
                continue
            for gate in GATES:
                right, asked, clear, held = Counter(), Counter(), Counter(), Counter()
                for recs in sets:
                    r, n = tally(recs, gate)
                    right.update(r)
                    asked.update(n)
                    for qtype, bar in BARS.items():
                        if n[qtype]:  # runs whose questions hold the type (the older dev runs lack some)
                            held[qtype] += 1
                            clear[qtype] += r[qtype] >= math.ceil(bar * n[qtype])
                cells = [f"{right[t]}/{asked[t]}" for t in BARS] + [f"{clear[t]} of {held[t]}" for t in BARS]
                label = f"{user}, {'dev' if dev else 'held-out'}"
                print(f"| {label} | {'off' if gate is None else gate} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
