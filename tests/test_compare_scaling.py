"""`eval --compare DIR1 DIR2` output, and scaling over memory counts (subsets, distractor padding, figures)."""

from __future__ import annotations

import json

from conftest import TINY_MEMORIES, TINY_QUESTIONS

from eval.configs import EvalConfig
from eval.scaling import ScalingConfig, run_scaling, subset
from memory_lora.cli import main


def _report(acc: float, kl: float) -> dict:
    method = {"accuracy": acc, "exact_match": 0.0, "f1": 0.5, "n": 4, "by_type": {}, "prompt_tokens_mean": 30.0,
              "latency_s_p50": 0.2, "latency_s_p95": 0.3, "by_category": {"5": {"accuracy": acc, "n": 2}}}
    return {"methods": {"parametric": method}, "general": {"base_accuracy": 0.6, "adapter_accuracy": 0.5, "n": 150,
                                                           "kl_mean": kl}, "train": {"seconds": 10.0}, "seed": 0}


def test_compare_prints_both_and_the_difference(tmp_path, capsys):
    for name, acc, kl in (("a", 0.5, 0.01), ("b", 0.75, 0.03)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps(_report(acc, kl)))
    assert main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("parametric.accuracy "))
    assert row.split() == ["parametric.accuracy", "0.500", "0.750", "+0.250"]
    assert any(line.split() == ["general.kl_mean", "0.0100", "0.0300", "+0.0200"] for line in out.splitlines())
    assert "parametric.category_5" in out
    assert main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]


def test_subset_keeps_evidence_and_pads_with_distractors():
    memories = [{"id": f"m{i}", "text": f"memory {i}", "time": f"2024-01-0{i + 1}T00:00:00"} for i in range(6)]
    questions = [{"id": f"q{i}", "question": "?", "answers": ["x"], "evidence": [f"m{i}"]} for i in range(6)]
    mems, qs = subset(memories, questions, 3, seed=0)
    assert len(mems) == 3 and len(qs) == 3 and {q["evidence"][0] for q in qs} == {m["id"] for m in mems}
    assert subset(memories, questions, 3, seed=0) == (mems, qs)
    big, qs_all = subset(memories, questions, 20, seed=0)
    assert len(big) == 20 and qs_all == questions and [m for m in big if m["id"].startswith("m")] == memories


def test_run_scaling_tiny(tmp_path, tiny_files, tiny_run_config):
    memories_file, questions_file = tiny_files
    base = EvalConfig(memories=str(memories_file), questions=str(questions_file), out=str(tmp_path / "s"),
                      methods=["rag", "long-context"], general=None, run=tiny_run_config)
    result = run_scaling(ScalingConfig(eval=base, counts=[len(TINY_MEMORIES), 12]), progress=False)
    assert result["counts"] == [4, 12]
    assert result["methods"]["rag"]["4"]["n"] == len(TINY_QUESTIONS)
    tokens = result["methods"]["long-context"]
    assert tokens["12"]["prompt_tokens_mean"] > tokens["4"]["prompt_tokens_mean"]  # more memories, longer prompts
    for name in ("scaling_accuracy.png", "scaling_prompt_tokens.png", "scaling_latency.png", "scaling.md"):
        assert (tmp_path / "s" / name).stat().st_size > 0
    report = json.loads((tmp_path / "s" / "n12" / "report.json").read_text())
    assert report["train"]["skipped"]  # no method needed an adapter: nothing trained


def test_scaling_from_dirs_merges_methods_per_count(tmp_path, capsys):
    for run, method, acc in (("a", "rag", 0.5), ("b", "parametric", 0.9)):
        for count in (10, 40):
            folder = tmp_path / run / f"n{count}"
            folder.mkdir(parents=True)
            report = {"methods": {method: {"accuracy": acc, "prompt_tokens_mean": count * 3.0, "latency_s_p50": 0.1,
                                           "n": 5}}, "train": {"memories": count, "seconds": 1.0}, "seed": 0}
            (folder / "report.json").write_text(json.dumps(report))
    assert main(["eval", "--scaling_from", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "s")]) == 0
    result = json.loads((tmp_path / "s" / "scaling.json").read_text())
    assert result["counts"] == [10, 40] and set(result["methods"]) == {"rag", "parametric"}
    assert result["methods"]["parametric"]["40"]["accuracy"] == 0.9
    assert (tmp_path / "s" / "scaling_latency.png").stat().st_size > 0
