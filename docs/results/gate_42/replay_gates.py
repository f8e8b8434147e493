"""Section 42: every earlier floor-40 held-out run replayed at each gate of the grid, gate off included.

For each docs/results/*floor40* folder whose answers kept the margins over "I don't know": single-hop, multi-hop and
abstention of the parametric replies at gate off, 0.02, 0.04, 0.06 and 0.1, from each reply before the gate and its
recorded margin (section 41b's replay, docs/results/gate_41/per_user_rule.py). A star marks a gate at which the run
clears issue 3's bars (single-hop >= 0.95, multi-hop above the run's own rag, abstention >= 0.8). A replay, not a run.

Run: python docs/results/gate_42/replay_gates.py
"""

from __future__ import annotations

import glob
import importlib.util
from pathlib import Path

from eval.files import read_jsonl

GATES = (None, 0.02, 0.04, 0.06, 0.1)
_spec = importlib.util.spec_from_file_location("per_user_rule", Path(__file__).parents[1] / "gate_41/per_user_rule.py")
per_user_rule = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(per_user_rule)


def row(run_dir: Path) -> str | None:
    """One printed line per run: each gate's single-hop, multi-hop and abstention, starred where the run clears."""
    answers = read_jsonl(run_dir / "answers.jsonl")
    records = [r for r in answers if r["method"] == "parametric" and "idk_margin" in r]
    if not records:
        return None
    rag = sum(r["accuracy"] >= 1 for r in answers if r["method"] == "rag" and r["type"] == "multi-hop")
    cells = []
    for gate in GATES:
        t = per_user_rule.tally(records, gate)
        (s, sn), (m, _), (a, _) = (t.get(k, [0, 0]) for k in ("single-hop", "multi-hop", "abstention"))
        star = "*" if per_user_rule.clears(t, rag) else ""
        cells.append(f"{'off' if gate is None else gate}: {s}/{sn} m{m} a{a}{star}")
    return f"{run_dir.name:<36} rag m{rag}  " + "  ".join(cells)


if __name__ == "__main__":
    for folder in sorted(glob.glob("docs/results/*floor40*")):
        if (Path(folder) / "answers.jsonl").exists() and (line := row(Path(folder))):
            print(line)
