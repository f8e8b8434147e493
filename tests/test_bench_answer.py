"""scripts/bench_answer.py runs end to end on the tiny model and reports every recipe (beam counts, the n-best
reranker, the gate) against greedy.

Run: python -m pytest tests/test_bench_answer.py
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_answer.py"


def test_bench_answer_reports_each_beam_count(tiny_model_dir, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_answer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--base-model", str(tiny_model_dir), "--n", "2", "--recipes", "3",
                       "--max-new-tokens", "4", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["num_beams"] for r in rows] == [1, 3]  # greedy is always the reference
    assert rows[0]["ratio_to_greedy"] == 1.0 and rows[0]["replies_differing_from_greedy"] == 0
    assert all(r["mean_s"] > 0 and r["mean_reply_tokens"] > 0 for r in rows)
    assert "x greedy" in capsys.readouterr().out


def test_bench_answer_times_the_reranker_with_an_adapter(tiny_model_dir, tmp_path, capsys):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora).save_pretrained(tmp_path / "adapter")
    spec = importlib.util.spec_from_file_location("bench_answer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--base-model", str(tiny_model_dir), "--adapter", str(tmp_path / "adapter"), "--n", "2",
                       "--recipes", "3,1+gate,3+rerank+gate", "--max-new-tokens", "4", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["num_beams"], r["rerank"], r["gate"]) for r in rows] == [(1, False, False), (3, False, False),
                                                                         (1, False, True), (3, True, True)]
    assert rows[2]["replies_differing_from_greedy"] == 0  # the gate is scored, never applied: greedy's text
    assert all(r["mean_s"] > 0 for r in rows)
    assert "3+rerank+gate" in capsys.readouterr().out


def test_a_bad_recipe_is_refused(capsys):
    spec = importlib.util.spec_from_file_location("bench_answer", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for recipe in ("1+rerank", "x", "4+fast"):
        try:
            bench.parse_recipe(recipe)
        except ValueError as e:
            assert recipe in str(e)
        else:
            raise AssertionError(f"{recipe!r} was accepted")
