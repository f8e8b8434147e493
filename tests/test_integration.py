"""Slow end-to-end checks on the REAL bundled SmolLM2-135M-Instruct: does the adapter actually learn the memories,
and does it name the base weights it pairs with?

Runs `eval.run.run_eval` with the bundled base model and rules synthesis, pinned to the training settings this bar
was verified with (lr 1e-3, 6 epochs, replay 0.2, up to 24 QA per memory), on tests/data/mini_memories.jsonl (six
facts about one user) and tests/data/mini_questions.jsonl (one held-out PARAPHRASED question per fact: the wording
never appears in the training data). Several minutes on CPU (GGUF conversion, replay answers, training); run with
`python -m pytest tests/test_integration.py --runslow`.
"""

from __future__ import annotations

import json

import pytest
from conftest import TESTS_DIR

from eval.configs import EvalConfig
from eval.report import validate_report
from eval.run import run_eval
from memory_lora.config import DEFAULT_BASE_MODEL
from memory_lora.recipe import RunConfig

PARAMETRIC_BAR = 0.5  # at least 3 of the 6 held-out paraphrase questions answered from the adapter alone


@pytest.mark.slow
def test_parametric_recall_on_real_model(tmp_path):
    """Bar: parametric accuracy >= 0.5 on held-out paraphrases, and strictly above the base model (which never saw
    the memories, so it can only guess). A lower score means the adapter did not store the facts in a form that
    survives rewording -- the product's central claim."""
    run = RunConfig()
    assert run.model.base_model == DEFAULT_BASE_MODEL
    run.train.epochs, run.train.learning_rate, run.train.replay_ratio = 6, 1e-3, 0.2
    run.synth.max_qa_per_memory = 24
    cfg = EvalConfig(memories=str(TESTS_DIR / "data" / "mini_memories.jsonl"),
                     questions=str(TESTS_DIR / "data" / "mini_questions.jsonl"), out=str(tmp_path / "report"),
                     methods=["parametric", "base"], general=None, run=run)
    report = run_eval(cfg, progress=False)

    validate_report(json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8")))
    parametric, base = report["methods"]["parametric"], report["methods"]["base"]
    assert parametric["n"] == base["n"] == 6
    answers = (tmp_path / "report" / "answers.jsonl").read_text(encoding="utf-8")
    assert parametric["accuracy"] >= PARAMETRIC_BAR, answers
    assert parametric["accuracy"] > base["accuracy"], answers


@pytest.mark.slow
def test_an_adapter_on_the_bundled_base_names_the_weights_it_pairs_with(tmp_path):
    """adapter_config.json names the hub model the bundled GGUF derives from; the manifest records the exact file
    (name, sha256, quantization) the float weights were de-quantized from; PEFT loads the adapter from the folder."""
    import hashlib

    from peft import PeftModel

    from memory_lora import pipeline
    from memory_lora.base_model import BUNDLED_HUB_ID, load_base, resolve_source

    run = RunConfig()
    run.train.max_steps, run.train.replay_ratio = 2, 0.0
    pipeline.ingest(tmp_path, "mini", [TESTS_DIR / "data" / "mini_memories.jsonl"])
    result = pipeline.train(tmp_path, "mini", run, progress=False)
    folder = tmp_path / "adapters" / "mini" / "v1"
    adapter_config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter_config["base_model_name_or_path"] == BUNDLED_HUB_ID == "HuggingFaceTB/SmolLM2-135M-Instruct"
    base = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["base"]
    source, gguf_file = resolve_source(run.model)
    with open(f"{source}/{gguf_file}", "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert (base["gguf_file"], base["gguf_sha256"], base["gguf_quantization"]) == (gguf_file, digest, "Q4_1")
    model, _ = load_base(run.model)
    loaded = PeftModel.from_pretrained(model, str(folder))  # as another tool would, given the base weights
    try:
        assert result["version"] == 1 and any("lora_A" in n for n, _ in loaded.named_parameters())
    finally:
        loaded.unload()
