"""The per-user "I don't know" gate chosen from calibration questions (eval/gate_calibrate.py, eval --gate-questions,
eval --gate-synth).

Run: python -m pytest -q tests/test_gate_calibrate.py
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from data_synth.dataset import load_dataset_dir
from data_synth.heldout import held_out_abstention
from eval.files import read_jsonl
from eval.gate_calibrate import choose_gate, gate_table, gated_reply
from eval.run import EvalConfig, run_eval
from memory_lora.cli import main
from memory_lora.config import AnswerConfig, RunConfig
from memory_lora.ingest import read_memories
from memory_lora.prompts import ABSTAIN_REPLY
from tests.conftest import TINY_QUESTIONS, write_jsonl


def _rec(kind: str, reply: str, margin: float | None, answers=("Oslo",)) -> dict:
    return {"type": kind, "reply": reply, "idk_margin": margin, "answers": ["unknown"] if kind == "abstention"
            else list(answers)}


# five unanswerable questions: one refused by the adapter itself, the others answered at margins 0.01-0.2;
# two answerable ones answered right at margins 0.03 and 0.5
RECORDS = [_rec("abstention", ABSTAIN_REPLY, -0.4), _rec("abstention", "Bergen", 0.01),
           _rec("abstention", "Bergen", 0.03), _rec("abstention", "Bergen", 0.05), _rec("abstention", "Bergen", 0.2),
           _rec("single-hop", "Oslo", 0.03), _rec("single-hop", "Oslo", 0.5)]
GRID = (None, 0.02, 0.04, 0.06, 0.08, 0.1)


def test_gated_reply_refuses_at_or_under_the_gate_and_keeps_refusals():
    assert gated_reply("Oslo", 0.05, 0.05) == ABSTAIN_REPLY
    assert gated_reply("Oslo", 0.051, 0.05) == "Oslo"
    assert gated_reply("Oslo", -3.0, None) == "Oslo"  # no gate
    assert gated_reply(ABSTAIN_REPLY, 2.0, 0.1) == ABSTAIN_REPLY


def test_gate_table_counts_what_each_gate_would_do():
    rows = {row["gate"]: row for row in gate_table(RECORDS, GRID)}
    assert [rows[g]["abstention_refused"] for g in GRID] == [1, 2, 3, 4, 4, 4]
    # the answerable reply at margin 0.03 is lost from gate 0.04 on
    assert [rows[g]["answerable_right"] for g in GRID] == [2, 2, 1, 1, 1, 1]
    assert rows[None]["abstention_n"] == 5 and rows[None]["answerable_n"] == 2


@pytest.mark.parametrize(("target", "chosen"), [(0.2, None), (0.6, 0.04), (0.8, 0.06), (1.0, 0.1)])
def test_choose_gate_takes_the_smallest_gate_reaching_the_target_else_the_largest(target, chosen):
    # 0.8 of 5 is 4 refusals: first reached at 0.06; 1.0 (5 of 5) is never reached, so the largest gate
    assert choose_gate(gate_table(RECORDS, GRID), target) == chosen


def test_choose_gate_needs_abstention_questions():
    with pytest.raises(ValueError, match="abstention"):
        choose_gate(gate_table([r for r in RECORDS if r["type"] != "abstention"], GRID), 0.8)


def test_eval_config_rejects_a_gate_set_twice_and_an_unsorted_grid(tmp_path):
    files = {"memories": "m.jsonl", "questions": "q.jsonl", "out": str(tmp_path)}
    with pytest.raises(ValueError, match="do not also set it"):
        EvalConfig(**files, gate_questions="dev.jsonl", run=RunConfig(answer=AnswerConfig(abstain_margin=0.1)))
    with pytest.raises(ValueError, match="smallest first"):
        EvalConfig(**files, gate_questions="dev.jsonl", gate_grid=(0.1, 0.02))
    with pytest.raises(ValueError, match="smallest first"):
        EvalConfig(**files, gate_questions="dev.jsonl", gate_grid=(0.02, None))


def test_cli_gate_flags_conflict_is_a_one_line_error(tmp_path, capsys):
    code = main(["--home", str(tmp_path / "home"), "eval", "--memories", "m.jsonl", "--questions", "q.jsonl",
                 "--out", str(tmp_path / "out"), "--gate-questions", "dev.jsonl", "--abstain-margin", "0.1"])
    assert code == 2
    assert "do not also set it" in capsys.readouterr().err


def test_eval_answers_with_the_gate_its_calibration_chose(tmp_path, tiny_files, tiny_run_config):
    memories, questions = tiny_files
    dev = write_jsonl(tmp_path / "dev.jsonl", [
        *({**q, "id": f"dev-{q['id']}"} for q in TINY_QUESTIONS[:2]),
        {"id": "dev-a1", "question": "What is Otto's blood type?", "answers": ["unknown"], "type": "abstention"},
        {"id": "dev-a2", "question": "Which car does Otto drive?", "answers": ["unknown"], "type": "abstention"}])
    out = tmp_path / "out"
    # Eight epochs, no refusals in training and no replay (the tiny base's one replay sentence, "I am not sure",
    # scores as a refusal), so the tiny adapter answers the unanswerable questions too: no gate (off) refuses none of
    # them, and the calibration must pick the gate so large that it refuses every reply.
    run = dataclasses.replace(tiny_run_config, synth=dataclasses.replace(tiny_run_config.synth,
                                                                         abstention_per_memory=0.0),
                              train=dataclasses.replace(tiny_run_config.train, replay_ratio=0.0, epochs=8))
    cfg = EvalConfig(memories=str(memories), questions=str(questions), out=str(out), methods=["parametric", "rag"],
                     general=None, kl=False, run=run, gate_questions=str(dev), gate_grid=(None, 1000.0))
    report = run_eval(cfg, progress=False)
    assert run.answer.abstain_margin is None  # the caller's config is left as it was

    calibration = read_jsonl(out / "gate_answers.jsonl")
    assert [r["question_id"] for r in calibration] == ["dev-t-q1", "dev-t-q2", "dev-a1", "dev-a2"]
    assert all(r["idk_margin"] is not None and r["reply"] != ABSTAIN_REPLY for r in calibration)  # nothing gated
    chosen = report["gate"]["chosen"]
    assert [row["abstention_refused"] for row in report["gate"]["grid"]] == [0, 2]
    assert chosen == 1000.0 == choose_gate(gate_table(calibration, (None, 1000.0)), 0.8)
    assert json.loads((out / "report.json").read_text())["config"]["run"]["answer"]["abstain_margin"] == chosen
    assert "gate, calibrated" in (out / "report.md").read_text()

    answers = read_jsonl(out / "answers.jsonl")
    parametric = [r for r in answers if r["method"] == "parametric"]
    assert [r["question_id"] for r in parametric] == [q["id"] for q in TINY_QUESTIONS]
    assert all(r["reply"] == ABSTAIN_REPLY and r["ungated_reply"] != ABSTAIN_REPLY for r in parametric)
    assert not any(r["reply"] == ABSTAIN_REPLY for r in answers if r["method"] == "rag")


def test_eval_calibrates_on_synthesized_held_out_questions_alone(tmp_path, tiny_files, tiny_run_config):
    memories, questions = tiny_files
    out = tmp_path / "out"
    # as above: no refusals in training, so only a gate refuses; here the calibration questions are synthesized
    # from the memories (no file), and none of them may be a training prompt
    run = dataclasses.replace(tiny_run_config, synth=dataclasses.replace(tiny_run_config.synth,
                                                                         abstention_per_memory=0.0),
                              train=dataclasses.replace(tiny_run_config.train, replay_ratio=0.0, epochs=8))
    home = tmp_path / "home"
    cfg = EvalConfig(memories=str(memories), questions=str(questions), out=str(out), methods=["parametric"],
                     general=None, kl=False, run=run, home=str(home), gate_synth=3, gate_grid=(None, 1000.0))
    report = run_eval(cfg, progress=False)

    calibration = read_jsonl(out / "gate_answers.jsonl")
    assert [r["question_id"] for r in calibration] == [f"synth-abstention-00{i}" for i in (1, 2, 3)]
    prompts = [p for d in (home / "datasets").rglob("data") for p in load_dataset_dir(d)["prompt"]]
    assert prompts and not set(prompts) & {r["question"] for r in calibration}
    assert all(r["type"] == "abstention" for r in calibration)
    assert [r["question"] for r in calibration] == held_out_abstention(read_memories(memories), "Otto", run.synth, 3,
                                                                       prompts)
    assert report["gate"]["synthesized"] == 3 and report["gate"]["questions_file"] is None
    assert report["gate"]["chosen"] == 1000.0
    assert "3 synthesized from the memories" in (out / "report.md").read_text()
    assert all(r["reply"] == ABSTAIN_REPLY for r in read_jsonl(out / "answers.jsonl"))


def test_eval_config_checks_gate_synth(tmp_path):
    files = {"memories": "m.jsonl", "questions": "q.jsonl", "out": str(tmp_path)}
    with pytest.raises(ValueError, match=">= 0"):
        EvalConfig(**files, gate_synth=-1)
    with pytest.raises(ValueError, match="do not also set it"):
        EvalConfig(**files, gate_synth=8, run=RunConfig(answer=AnswerConfig(abstain_margin=0.1)))
    assert not EvalConfig(**files).calibrates and EvalConfig(**files, gate_synth=8).calibrates
