"""Calibrating a user's "I don't know" gate (answer.abstain_margin) on questions their memories leave unanswered.

The margin gate (memory_lora.respond) refuses when a reply is at most `abstain_margin` more probable than a trained
refusal. How large that margin must be differs between users' adapters: one adapter refuses nearly every
unanswerable question with no gate at all, another needs one, and one gate for everyone either invents answers for
the first or refuses answerable questions for the second. So after training, the calibration questions (held out
of the training data, data_synth.heldout) are answered once with the gate off, recording every reply's margin; a
gate only turns replies into "I don't know", so each candidate gate's outcome follows from those margins without
answering again. The smallest gate in the grid that refuses at least `target` of them is chosen (off is a
candidate), or the largest when none does; the manifest records it and ask, eval and serve apply it. Not run
directly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from memory_lora.config import GateConfig
from memory_lora.text import refuses


def gated_refusal(reply: str, margin: float | None, gate: float | None) -> bool:
    """Whether `reply` (answered with no gate, its margin over "I don't know" recorded) is a refusal under `gate`."""
    return refuses(reply) or (gate is not None and margin is not None and margin <= gate)


def gate_table(replies: Sequence[str], margins: Sequence[float | None], grid: Sequence[float | None]) -> list[dict]:
    """How many of the calibration questions each candidate gate refuses.

    Args:
        replies: Replies to unanswerable questions, given with no gate.
        margins: Their idk margins (memory_lora.rerank.idk_margin).
        grid: Candidate gates; None is no gate.

    Returns:
        One row per gate: {"gate", "refused", "n"}.
    """
    return [{"gate": gate, "refused": sum(gated_refusal(r, m, gate) for r, m in zip(replies, margins, strict=True)),
             "n": len(replies)} for gate in grid]


def choose_gate(rows: Sequence[dict], target: float) -> float | None:
    """The first row's gate (grid order, smallest first) refusing at least `target` of the questions; else the last.

    Raises:
        ValueError: With no calibration question (nothing to calibrate on).
    """
    if not rows or rows[0]["n"] == 0:
        raise ValueError("gate calibration needs at least one unanswerable question")
    need = math.ceil(target * rows[0]["n"] - 1e-9)
    for row in rows:
        if row["refused"] >= need:
            return row["gate"]
    return rows[-1]["gate"]


def calibrate(answerer, questions: Sequence[str], config: GateConfig) -> tuple[dict, list[dict]]:
    """Answer unanswerable questions with the adapter, gate off, and choose its gate.

    Args:
        answerer: A memory_lora.answer.Answerer holding the adapter (its answer settings are the ones served).
        questions: Questions no memory answers, never seen in training.
        config: The grid and target.

    Returns:
        (the manifest's gate record {"abstain_margin", "questions", "target", "grid"}, one
        {"question", "reply", "idk_margin"} per question for audit).
    """
    replies = answerer.answer("parametric", list(questions), gate=-math.inf)
    texts, margins = [r.text for r in replies], [r.idk_margin for r in replies]
    rows = gate_table(texts, margins, config.grid)
    record = {"abstain_margin": choose_gate(rows, config.target), "questions": len(questions),
              "target": config.target, "grid": rows}
    answers = [{"question": q, "reply": t, "idk_margin": None if m is None else round(m, 5)}
               for q, t, m in zip(questions, texts, margins, strict=True)]
    return record, answers
