"""Eval diagnostics: questions found word for word in the training data, and replaying the abstention gate at
other thresholds from answers.jsonl.

Run: python -m pytest tests/test_eval_diagnostics.py
"""

from __future__ import annotations

import datasets

from data_synth.dataset import save_dataset
from eval.run import training_overlap
from memory_lora.records import Question


def test_verbatim_questions_are_found_case_and_punctuation_aside(tmp_path):
    rows = {"prompt": ["What is Lena's cat called?", "Where does Lena live?"], "response": ["Pixel.", "Oslo."]}
    save_dataset(datasets.Dataset.from_dict(rows), tmp_path / "data")
    questions = [Question("q1", "what is lena's cat called", ["Pixel"]),
                 Question("q2", "What do they call Lena's cat?", ["Pixel"]),
                 Question("q3", "Where does Lena live?", ["Oslo"])]
    assert training_overlap(str(tmp_path), questions) == ["q1", "q3"]
    assert training_overlap(None, questions) == []


def test_gate_sweep_replays_the_gate_from_recorded_probabilities(tmp_path):
    import json

    from eval.gate_sweep import main, sweep

    records = [
        # answered right with little "I" mass; abstained-on only by a very eager gate
        {"method": "parametric", "type": "single-hop", "reply": "Lena lives in Oslo.", "ungated_reply": None,
         "answers": ["Oslo"], "abstain_p": 0.03},
        # an invented answer the gate at 0.2 replaced; replaying with the gate off restores it
        {"method": "parametric", "type": "abstention", "reply": "I don't know. You haven't told me that.",
         "ungated_reply": "Lena's shoe size is 9.", "answers": ["unknown"], "abstain_p": 0.25},
        {"method": "rag", "type": "single-hop", "reply": "Oslo", "answers": ["Oslo"]},
    ]
    result = sweep(records, thresholds=(0.01, 0.2, 1.0))
    acc = {p["threshold"]: p["by_type"] for p in result["thresholds"]}
    assert result["n"] == 2
    assert acc[0.01] == {"abstention": 1.0, "single-hop": 0.0}
    assert acc[0.2] == {"abstention": 1.0, "single-hop": 1.0}
    assert acc[1.0] == {"abstention": 0.0, "single-hop": 1.0}
    (tmp_path / "answers.jsonl").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    assert main([str(tmp_path), "--thresholds", "0.2,1.0"]) == 0
    assert (tmp_path / "gate_sweep.png").stat().st_size > 0
    assert json.loads((tmp_path / "gate_sweep.json").read_text())["thresholds"][1]["accuracy"] == 0.5


def rec(qtype: str, p: float, right: bool) -> dict:
    """A parametric answer record with first-token probability p; right: its greedy reply is right (an abstention
    question's greedy reply invents an answer when not right)."""
    gold = ["unknown"] if qtype == "abstention" else ["Oslo"]
    greedy = "Oslo." if qtype != "abstention" else ("I don't know." if right else "Lena's shoe size is 9.")
    return {"method": "parametric", "type": qtype, "reply": greedy, "ungated_reply": None, "answers": gold,
            "abstain_p": p}


def dev_run() -> list[dict]:
    """One adapter's dev run: a gate at 0.2 turns two invented answers into refusals and costs one answerable
    question; at 0.05 it costs three. The balanced (macro) accuracy is best at 0.2; at 1.0 (off) it is 0.75."""
    return [rec("single-hop", 0.01, True), rec("single-hop", 0.3, True), rec("single-hop", 0.1, True),
            rec("single-hop", 0.06, True), rec("abstention", 0.25, False), rec("abstention", 0.4, False),
            rec("abstention", 0.9, True), rec("abstention", 0.95, True)]


def test_gate_threshold_is_chosen_on_a_separate_dev_run(tmp_path):
    import json

    from eval.gate_sweep import calibrate, main

    dev = dev_run()
    chosen = calibrate(dev, thresholds=(0.05, 0.2, 0.5, 1.0))
    assert chosen["threshold"] == 0.2 and chosen["dev_macro"] == 0.875
    # the run is scored at the threshold the dev run chose, never at its own best one
    run = [rec("single-hop", 0.01, True), rec("single-hop", 0.3, True), rec("abstention", 0.1, False)]
    dev_dir, run_dir = tmp_path / "dev", tmp_path / "run"
    for d, rows in ((dev_dir, dev), (run_dir, run)):
        d.mkdir()
        (d / "answers.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main([str(run_dir), "--thresholds", "0.05,0.2,0.5,1.0", "--calibrate-on", str(dev_dir)]) == 0
    cal = json.loads((run_dir / "gate_sweep.json").read_text())["calibrated"]
    assert cal["threshold"] == 0.2 and cal["on"] == [str(dev_dir)]
    assert cal["by_type"] == {"abstention": 0.0, "single-hop": 0.5}


def test_gate_threshold_can_be_chosen_on_several_dev_runs_pooled(tmp_path):
    import json

    from eval.gate_sweep import calibrate, main

    # one dev run alone picks 0.2 (as in the test above); a second adapter's dev run has right answers at p 0.25,
    # which a gate at 0.2 would refuse. Pooled, the gate that costs no right answer (off, 1.0) wins.
    dev_a = dev_run()
    dev_b = [rec("single-hop", 0.25, True)] * 4 + [rec("abstention", 0.9, True)]
    thresholds = (0.05, 0.2, 0.5, 1.0)
    assert calibrate(dev_a, thresholds)["threshold"] == 0.2
    assert calibrate(dev_a + dev_b, thresholds)["threshold"] == 1.0
    run = [rec("single-hop", 0.3, True), rec("abstention", 0.1, False)]
    dirs = {"a": dev_a, "b": dev_b, "run": run}
    for name, rows in dirs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "answers.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    on = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert main([str(tmp_path / "run"), "--thresholds", "0.05,0.2,0.5,1.0", "--calibrate-on", *on]) == 0
    cal = json.loads((tmp_path / "run" / "gate_sweep.json").read_text())["calibrated"]
    assert cal["threshold"] == 1.0 and cal["on"] == on
    assert cal["by_type"] == {"abstention": 0.0, "single-hop": 1.0}
