"""scripts/probe_adapter.py prints, for each question, the refusal's first-token probability and the adapter's reply.

Run: python -m pytest tests/test_probe_adapter.py
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "probe_adapter.py"


def test_probe_prints_a_probability_and_a_reply_per_question(tiny_model_dir, tmp_path, capsys):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora).save_pretrained(tmp_path / "adapter")
    (tmp_path / "q.txt").write_text("Where does Maya live?\n\nHow often is the plant watered?\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("probe_adapter", SCRIPT)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    assert probe.main(["--adapter", str(tmp_path / "adapter"), "--questions", str(tmp_path / "q.txt"),
                       "--base-model", str(tiny_model_dir), "--max-new-tokens", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == 2, lines  # the blank line is no question
    for line, q in zip(lines, ("Where does Maya live?", "How often is the plant watered?"), strict=True):
        m = re.match(r"(\d\.\d{3})  (.+?)  ->  ", line)
        assert m and 0.0 <= float(m.group(1)) <= 1.0 and m.group(2) == q, line
