"""Section 41's per-user gate rule replayed on every earlier floor-40 run that kept its beams and answered a dev set.

For each held-out run folder with a dev/ answered on the same adapter: the gate eval.gate_calibrate would choose from
the dev answers (their ungated replies and margins; target 0.8), then the held-out parametric replies at that gate
and at the runs' fixed gate 0.1, from each reply before the gate and its recorded margin over "I don't know" (the
gate only turns replies into "I don't know", so this is what eval would have given). A replay, not a run: it reads
answers already given. Prints one row per run and whether it clears issue 3's bars.

Run: python docs/results/gate_41/per_user_rule.py [docs/results/*floor40*]
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from eval.files import read_jsonl
from eval.gate_calibrate import GRID, choose_gate, gate_table, gated_reply
from eval.metric.memory_recall.memory_recall import score_reply

SINGLE_BAR = 0.95


def chosen_gate(dev_dir: Path) -> tuple[float | None, str]:
    """The per-user rule's gate on a dev run, and its abstention counts per candidate gate."""
    recs = [{**r, "reply": r.get("ungated_reply") or r["reply"]} for r in read_jsonl(dev_dir / "answers.jsonl")
            if r["method"] == "parametric"]
    rows = gate_table(recs, GRID)
    counts = " ".join(str(row["abstention_refused"]) for row in rows)
    return choose_gate(rows, 0.8), f"{counts} /{rows[0]['abstention_n']}"


def tally(records: list[dict], gate: float | None) -> dict[str, list[int]]:
    """{type: [right, asked]} for parametric replies replayed at `gate`."""
    out: dict[str, list[int]] = {}
    for r in records:
        reply = gated_reply(r.get("ungated_reply") or r["reply"], r["idk_margin"], gate)
        right = score_reply(reply, r["answers"])["accuracy"] >= 1.0
        cell = out.setdefault(r["type"], [0, 0])
        cell[0] += right
        cell[1] += 1
    return out


def clears(t: dict[str, list[int]], rag_multi: int) -> bool:
    """Issue 3's bars on a tally: single-hop >= 0.95, multi-hop above rag's count, abstention >= 0.8."""
    (s, sn), (m, _), (a, an) = (t.get(k, [0, 0]) for k in ("single-hop", "multi-hop", "abstention"))
    return s >= SINGLE_BAR * sn and m > rag_multi and a >= 0.8 * an


def main(dirs: list[str]) -> None:
    print("| run | dev abstention (off,.02,.04,.06,.08,.1) | gate | single-hop | multi-hop (rag) | abstention | "
          "clears | at 0.1: single, abst, clears |")
    print("|---|---|---|---|---|---|---|---|")
    for d in dirs:
        run = Path(d)
        if not (run / "dev" / "answers.jsonl").is_file():
            continue
        answers = read_jsonl(run / "answers.jsonl")
        param = [r for r in answers if r["method"] == "parametric" and r.get("idk_margin") is not None]
        if not param:
            continue
        rag_multi = sum(r["accuracy"] >= 1.0 for r in answers if r["method"] == "rag" and r["type"] == "multi-hop")
        gate, counts = chosen_gate(run / "dev")
        cells = []
        for g in (gate, 0.1):
            t = tally(param, g)
            cells.append((t["single-hop"], t["multi-hop"], t["abstention"], clears(t, rag_multi)))
        (s, m, a, ok), (s1, _, a1, ok1) = cells
        name = "off" if gate is None else gate
        print(f"| {run.name} | {counts} | {name} | {s[0]}/{s[1]} | {m[0]}/{m[1]} ({rag_multi}) | {a[0]}/{a[1]} | "
              f"{'yes' if ok else 'no'} | {s1[0]}, {a1[0]}, {'yes' if ok1 else 'no'} |")


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(glob.glob("docs/results/*floor40*")))
