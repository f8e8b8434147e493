"""Choosing a user's "I don't know" gate (answer.abstain_margin) from calibration questions, inside one eval run.

The margin gate (memory_lora.rerank) refuses when a reply is at most `abstain_margin` more probable than the trained
"I don't know". How large that margin must be differs between users' adapters: on section 40's seed-0 dev sets one
user refused 10 of 12 unanswerable questions with no gate at all and the other needed 0.06
(docs/results/README.md sections 38b, 40, 41). One gate for everyone either invents answers for one user or refuses
answerable questions for the other. So `eval --gate-questions DEV.jsonl` (and/or `--gate-synth N`: N abstention
questions synthesized from the memories and held out of training, data_synth.heldout) first answers a user's
calibration questions (never the evaluation questions) with the gate off, recording every reply's margin; a gate
only turns replies into "I don't know", so each candidate gate's outcome follows from those margins without
answering again. It then takes the smallest gate in the grid at which at least `target` of the calibration set's
abstention questions are refused (none = off is a candidate), or the largest gate when none reaches it, and answers
the evaluation questions with it. Not run directly; see eval/run.py (`eval --gate-questions`, `--gate-synth`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from eval.gate_sweep import replay
from eval.metric.memory_recall.memory_recall import score_reply

GRID: tuple[float | None, ...] = (None, 0.02, 0.04, 0.06, 0.08, 0.1)  # None = no gate
ABSTENTION = "abstention"


def gated_reply(reply: str, idk_margin: float | None, gate: float | None) -> str:
    """The reply eval would give under `gate`, from the ungated reply and its margin over "I don't know"
    (eval.gate_sweep.replay's idk-margin rule, with None for no gate)."""
    if gate is None or idk_margin is None:
        return reply
    return replay({"reply": reply, "idk_margin": idk_margin}, gate, "idk-margin")


def gate_table(records: Sequence[dict], grid: Sequence[float | None] = GRID) -> list[dict]:
    """What each gate would do on calibration answers given with the gate off.

    Args:
        records: eval answer records ({"reply", "idk_margin", "answers", "type"}), answered with no gate.
        grid: Candidate gates; None is no gate.

    Returns:
        One row per gate: {"gate", "abstention_refused", "abstention_n", "answerable_right", "answerable_n"}.
    """
    rows = []
    for gate in grid:
        refused = right = 0
        for r in records:
            # scored as eval scores it: an abstention question is right when the reply refuses
            ok = score_reply(gated_reply(r["reply"], r.get("idk_margin"), gate), r["answers"])["accuracy"] >= 1.0
            if r["type"] == ABSTENTION:
                refused += ok
            else:
                right += ok
        rows.append({"gate": gate, "abstention_refused": refused,
                     "abstention_n": sum(r["type"] == ABSTENTION for r in records),
                     "answerable_right": right, "answerable_n": sum(r["type"] != ABSTENTION for r in records)})
    return rows


def choose_gate(rows: Sequence[dict], target: float) -> float | None:
    """The first row's gate (grid order, smallest first) whose abstention share reaches `target`; else the last.

    Raises:
        ValueError: When the calibration questions hold no abstention question (nothing to calibrate on).
    """
    if not rows or rows[0]["abstention_n"] == 0:
        raise ValueError(f"gate calibration needs questions of type {ABSTENTION!r} (none given)")
    need = math.ceil(target * rows[0]["abstention_n"] - 1e-9)
    for row in rows:
        if row["abstention_refused"] >= need:
            return row["gate"]
    return rows[-1]["gate"]


def calibration(records: Sequence[dict], target: float, grid: Sequence[float | None] = GRID,
                questions_file: str | None = None, synthesized: int = 0) -> dict:
    """report["gate"]: where the calibration questions came from (a file, and how many were synthesized from the
    memories and held out of training), the target, every candidate gate's outcome and the gate chosen."""
    rows = gate_table(records, grid)
    return {"questions_file": questions_file, "synthesized": synthesized, "target": target,
            "chosen": choose_gate(rows, target), "grid": rows}


def _source(gate: dict) -> str:
    parts = [str(gate["questions_file"])] if gate.get("questions_file") else []
    if gate.get("synthesized"):
        parts.append(f"{gate['synthesized']} synthesized from the memories, held out of training")
    return "; ".join(parts) or "none"


def render_gate(gate: dict) -> list[str]:
    """report.md lines for report["gate"]."""
    chosen = "off" if gate["chosen"] is None else gate["chosen"]
    lines = [f"Chosen: **{chosen}**, the smallest gate refusing at least {gate['target']:.0%} of the calibration "
             f"abstention questions ({_source(gate)}).", "",
             "| gate | abstention refused | answerable right |", "|---|---|---|"]
    for row in gate["grid"]:
        name = "off" if row["gate"] is None else row["gate"]
        lines.append(f"| {name} | {row['abstention_refused']}/{row['abstention_n']} | "
                     f"{row['answerable_right']}/{row['answerable_n']} |")
    return lines
