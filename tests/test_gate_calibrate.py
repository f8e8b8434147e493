"""The per-user "I don't know" gate (memory_lora.gate): training calibrates it on unanswerable questions held out of
the training data, saves it in the adapter's manifest, and ask and eval answer with it.

Run: python -m pytest -q tests/test_gate_calibrate.py
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from data_synth.dataset import load_dataset_dir
from data_synth.heldout import held_out_abstention
from eval.configs import EvalConfig
from eval.files import read_jsonl
from eval.run import run_eval
from memory_lora import pipeline
from memory_lora.config import AnswerConfig, GateConfig
from memory_lora.gate import choose_gate, gate_table, gated_refusal
from memory_lora.ingest import read_memories
from memory_lora.store import Store
from memory_lora.text import ABSTAIN_REPLY

# five unanswerable questions: one refused by the adapter itself, the others answered at margins 0.01-0.2
REPLIES = [ABSTAIN_REPLY, "Bergen", "Bergen", "Bergen", "Bergen"]
MARGINS = [-0.4, 0.01, 0.03, 0.05, 0.2]
GRID = (None, 0.02, 0.04, 0.06, 0.08, 0.1)


def test_a_gate_refuses_at_or_under_its_margin_and_a_refusal_stays_one():
    assert gated_refusal("Oslo", 0.05, 0.05)
    assert not gated_refusal("Oslo", 0.051, 0.05)
    assert not gated_refusal("Oslo", -3.0, None)  # no gate
    assert gated_refusal(ABSTAIN_REPLY, 2.0, 0.1)


def test_gate_table_counts_what_each_gate_would_refuse():
    rows = gate_table(REPLIES, MARGINS, GRID)
    assert [r["refused"] for r in rows] == [1, 2, 3, 4, 4, 4]
    assert {r["n"] for r in rows} == {5}


@pytest.mark.parametrize(("target", "chosen"), [(0.2, None), (0.6, 0.04), (0.8, 0.06), (1.0, 0.1)])
def test_choose_gate_takes_the_smallest_gate_reaching_the_target_else_the_largest(target, chosen):
    # 0.8 of 5 is 4 refusals: first reached at 0.06; 1.0 (5 of 5) is never reached, so the largest gate
    assert choose_gate(gate_table(REPLIES, MARGINS, GRID), target) == chosen


def test_choose_gate_needs_questions():
    with pytest.raises(ValueError, match="unanswerable"):
        choose_gate(gate_table([], [], GRID), 0.8)


def test_gate_config_is_checked():
    with pytest.raises(ValueError, match="smallest first"):
        GateConfig(grid=[0.1, 0.02])
    with pytest.raises(ValueError, match="smallest first"):
        GateConfig(grid=[0.02, None])
    with pytest.raises(ValueError, match=">= 0"):
        GateConfig(questions=-1)
    with pytest.raises(ValueError, match="target"):
        GateConfig(target=0.0)


def test_an_explicit_gate_wins_over_the_calibrated_one():
    assert AnswerConfig().gate_for(0.06) == 0.06
    assert AnswerConfig(abstain_margin=0.1).gate_for(0.06) == 0.1
    assert AnswerConfig(use_calibrated_gate=False).gate_for(0.06) is None


def _run_that_only_a_gate_refuses(tiny_run_config, questions: int):
    # Eight epochs, no refusals in training and no replay (the tiny base's one replay sentence, "I am not sure",
    # would be learned as a reply), so the tiny adapter answers the unanswerable questions: no gate refuses none of
    # them, and calibration must pick the gate so large that it refuses every reply.
    return dataclasses.replace(
        tiny_run_config, synth=dataclasses.replace(tiny_run_config.synth, abstention_per_memory=0.0),
        train=dataclasses.replace(tiny_run_config.train, replay_ratio=0.0, epochs=8),
        gate=GateConfig(questions=questions, grid=[None, 1000.0]))


def test_training_calibrates_the_gate_saves_it_and_ask_applies_it(tmp_path, tiny_files, tiny_run_config):
    memories, _ = tiny_files
    home = tmp_path / "home"
    run = _run_that_only_a_gate_refuses(tiny_run_config, 3)
    pipeline.ingest(home, "otto", [memories])
    result = pipeline.train(home, "otto", run, progress=False)

    gate = result["gate"]
    assert gate["abstain_margin"] == 1000.0 and gate["questions"] == 3
    assert [row["refused"] for row in gate["grid"]] == [0, 3]
    # the held-out questions are none of the training prompts, in the synthesizer's order
    prompts = list(load_dataset_dir(f"{result['synth']['path']}/data")["prompt"])
    asked = [a["question"] for a in result["gate_answers"]]
    assert asked == held_out_abstention(read_memories(memories), "Otto", run.synth, 3, prompts, seed=run.seed)
    assert not set(asked) & set(prompts)
    assert all(a["idk_margin"] is not None and a["reply"] != ABSTAIN_REPLY for a in result["gate_answers"])
    with Store(home) as store:
        assert store.latest_adapter("otto")["manifest"]["gate"]["abstain_margin"] == 1000.0
    on_disk = json.loads((tmp_path / "home" / "adapters" / "otto" / "v1" / "manifest.json").read_text())
    assert on_disk["gate"]["abstain_margin"] == 1000.0

    gated = pipeline.answerer(home, "otto", run)
    try:
        assert gated.gate == 1000.0
        reply = gated.answer("parametric", ["Where did Otto spend his childhood?"])[0]
        assert reply.text == ABSTAIN_REPLY and reply.ungated_text not in (None, ABSTAIN_REPLY)
        # asking for no gate gives the adapter's own reply
        ungated = gated.answer("parametric", ["Where did Otto spend his childhood?"], use_gate=False)[0]
        assert ungated.text == reply.ungated_text
        scored = gated.answer("parametric", ["Where did Otto spend his childhood?"], gate=-math.inf)[0]
        assert scored.text == reply.ungated_text and scored.idk_margin == pytest.approx(reply.idk_margin)
    finally:
        pipeline.release(gated)


def test_eval_reports_and_answers_with_the_calibrated_gate(tmp_path, tiny_files, tiny_run_config):
    memories, questions = tiny_files
    out = tmp_path / "out"
    run = _run_that_only_a_gate_refuses(tiny_run_config, 3)
    cfg = EvalConfig(memories=str(memories), questions=str(questions), out=str(out), methods=["parametric", "rag"],
                     general=None, kl=False, run=run)
    report = run_eval(cfg, progress=False)

    assert report["gate"]["abstain_margin"] == 1000.0
    assert report["config"]["abstain_margin_answered"] == 1000.0
    assert len(read_jsonl(out / "gate_answers.jsonl")) == 3
    assert "gate, calibrated" in (out / "report.md").read_text()
    answers = read_jsonl(out / "answers.jsonl")
    assert all(r["reply"] == ABSTAIN_REPLY and r["ungated_reply"] for r in answers if r["method"] == "parametric")
    assert not any(r["reply"] == ABSTAIN_REPLY for r in answers if r["method"] == "rag")  # rag is never gated


def test_no_calibration_leaves_the_adapter_without_a_gate(tmp_path, tiny_files, tiny_run_config):
    memories, _ = tiny_files
    pipeline.ingest(tmp_path, "otto", [memories])
    result = pipeline.train(tmp_path, "otto", tiny_run_config, progress=False)
    assert result["gate"] is None
    ans = pipeline.answerer(tmp_path, "otto", tiny_run_config)
    try:
        assert ans.gate is None
        assert ans.answer("parametric", ["Where did Otto grow up?"])[0].idk_margin is None  # greedy, nothing scored
    finally:
        pipeline.release(ans)
