"""Seed repeats (`eval --seeds`, `eval --seeds_from`): spread per type, paired differences, flipping questions."""

from __future__ import annotations

import json

import pytest

from eval.configs import EvalConfig
from eval.seeds import SeedsConfig, run_seeds, summarize_seeds
from memory_lora.cli import main


def _run(seed: int, right: dict[str, dict[str, bool]]) -> tuple[dict, list[dict]]:
    """A report and its answers from {method: {question id: right?}}; ids ending in 'a' are abstention questions."""
    rows = [{"method": m, "question_id": q, "type": "abstention" if q.endswith("a") else "single-hop",
             "accuracy": float(ok)} for m, qs in right.items() for q, ok in qs.items()]
    methods = {}
    for m in right:
        mine = [r for r in rows if r["method"] == m]
        by_type = {}
        for t in sorted({r["type"] for r in mine}):
            of_type = [r["accuracy"] for r in mine if r["type"] == t]
            by_type[t] = {"accuracy": sum(of_type) / len(of_type), "n": len(of_type)}
        methods[m] = {"accuracy": sum(r["accuracy"] for r in mine) / len(mine), "n": len(mine), "by_type": by_type}
    report = {"methods": methods, "seed": seed, "train": {"seconds": 100.0 + seed, "tokens_per_second": 80.0}}
    return report, rows


RUNS = [
    _run(0, {"parametric": {"q1": True, "q2": True, "q3a": False, "q4a": True},
             "rag": {"q1": True, "q2": False, "q3a": False, "q4a": False}}),
    _run(1, {"parametric": {"q1": True, "q2": False, "q3a": True, "q4a": True},
             "rag": {"q1": True, "q2": False, "q3a": False, "q4a": False}}),
    _run(2, {"parametric": {"q1": True, "q2": True, "q3a": True, "q4a": True},
             "rag": {"q1": False, "q2": False, "q3a": False, "q4a": False}}),
]


def test_summary_gives_spread_paired_wins_and_flipping_questions():
    summary = summarize_seeds([(f"seed{r['seed']}", r, rows) for r, rows in RUNS])
    overall = summary["methods"]["parametric"]["all"]
    assert overall["per_seed"] == [0.75, 0.75, 1.0] and overall["min"] == 0.75 and overall["max"] == 1.0
    assert overall["mean"] == pytest.approx(0.8333, abs=1e-4) and overall["std"] == pytest.approx(0.1443, abs=1e-4)
    assert summary["methods"]["parametric"]["abstention"]["per_seed"] == [0.5, 1.0, 1.0]
    diff = summary["differences"]["parametric-rag"]["single-hop"]
    assert diff["per_seed"] == [0.5, 0.0, 1.0] and diff["wins"] == 2 and diff["ties"] == 1
    assert "rag-parametric" not in summary["differences"]  # only adapter methods are compared against the rest
    stable = summary["stability"]["parametric"]
    assert stable["always_right"] == ["q1", "q4a"] and stable["always_wrong"] == []
    assert stable["flipping"] == {"q2": ["seed0", "seed2"], "q3a": ["seed1", "seed2"]}
    assert stable["flipping_by_type"] == {"abstention": 1, "single-hop": 1}
    assert summary["stability"]["rag"]["always_wrong"] == ["q2", "q3a", "q4a"]
    assert summary["train"]["seconds"]["per_seed"] == [100.0, 101.0, 102.0]


def test_summary_rejects_runs_of_different_questions_and_a_single_run():
    other, rows = _run(1, {"parametric": {"q1": True, "q9": True}})
    with pytest.raises(ValueError, match="seedX: its questions differ"):
        summarize_seeds([("seed0", RUNS[0][0], RUNS[0][1]), ("seedX", other, rows)])
    with pytest.raises(ValueError, match="two or more runs"):
        summarize_seeds([("seed0", RUNS[0][0], RUNS[0][1])])


def test_seeds_from_cli_writes_summary_files(tmp_path, capsys):
    dirs = []
    for report, rows in RUNS:
        folder = tmp_path / f"run{report['seed']}"
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(report))
        (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        dirs.append(str(folder))
    # a run may be named by its folder or by its report.json
    assert main(["eval", "--seeds_from", *dirs[:2], dirs[2] + "/report.json", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "0.833 ± 0.144 (0.750-1.000)" in out and "q2 (run0+run2)" in out
    summary = json.loads((tmp_path / "s" / "seeds.json").read_text())
    assert summary["runs"] == ["run0", "run1", "run2"] and summary["seeds"] == [0, 1, 2]
    assert (tmp_path / "s" / "seeds_accuracy.png").stat().st_size > 0
    assert "## Questions that flip between seeds" in (tmp_path / "s" / "seeds.md").read_text()
    # a broken answers file: one line naming the file and the line
    (tmp_path / "run1" / "answers.jsonl").write_text('{"method": "rag"}\nnot json\n')
    assert main(["eval", "--seeds_from", *dirs, "--out", str(tmp_path / "s2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "answers.jsonl:2: invalid JSON" in err[0]
    assert not (tmp_path / "s2" / "seeds.json").exists()


def test_seeds_flag_errors():
    with pytest.raises(ValueError, match="two or more distinct"):
        SeedsConfig(eval=None, seeds=[3, 3])
    assert main(["eval", "--memories", "m", "--questions", "q", "--out", "o", "--seeds", "0,1", "--seed", "2"]) == 2


def test_run_seeds_tiny_trains_once_per_seed(tmp_path, tiny_files, tiny_run_config):
    memories_file, questions_file = tiny_files
    base = EvalConfig(memories=str(memories_file), questions=str(questions_file), out=str(tmp_path / "out"),
                      methods=["parametric", "rag"], general=None, kl=False, run=tiny_run_config,
                      keep_store=str(tmp_path / "home"))
    summary = run_seeds(SeedsConfig(eval=base, seeds=[0, 1]), progress=False)
    assert summary["seeds"] == [0, 1] and summary["runs"] == ["seed0", "seed1"]
    for seed in (0, 1):
        report = json.loads((tmp_path / "out" / f"seed{seed}" / "report.json").read_text())
        assert report["seed"] == seed and report["config"]["run"]["seed"] == seed
        assert report["train"]["examples"] > 0
        assert (tmp_path / "home" / f"seed{seed}").is_dir()  # one store per seed, not one overwritten
    assert len(summary["methods"]["parametric"]["all"]["per_seed"]) == 2
    assert "parametric-rag" in summary["differences"] and "stability" in summary
    assert (tmp_path / "out" / "seeds.md").exists()
