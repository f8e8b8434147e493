"""End-to-end behaviour of memory_lora.pipeline and eval.run on the tiny model: ingest -> synth (re-used until the
memories change) -> train -> answer with every method -> release, and a full eval report that is reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch
from conftest import TINY_QUESTIONS, TINY_USER, write_jsonl

from eval.configs import EvalConfig
from eval.report import validate_report
from eval.run import run_eval
from memory_lora import adapters, pipeline
from memory_lora.base_model import load_base
from memory_lora.config import METHODS
from memory_lora.generation import Reply
from memory_lora.store import Store

QUESTIONS = [q["question"] for q in TINY_QUESTIONS]


def probe_logits(model, tokenizer) -> torch.Tensor:
    ids = tokenizer(["<|im_start|>user\nWho is Otto?<|im_end|>\n"], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        return model(**ids).logits


def assert_clean(model) -> None:
    assert not [name for name, _ in model.named_modules() if "lora_" in name]
    assert not hasattr(model, "peft_config")


def test_synth_is_reused_until_memories_change(tmp_path, tiny_files, tiny_run_config):
    memories_file, _ = tiny_files
    home = tmp_path / "home"
    assert pipeline.ingest(home, TINY_USER, [memories_file]) == {"added": 4, "skipped": 0, "files": 1}
    assert pipeline.ingest(home, TINY_USER, [memories_file]) == {"added": 0, "skipped": 4, "files": 1}

    first = pipeline.synth(home, TINY_USER, tiny_run_config)
    assert first["reused"] is False and first["examples"] > 0
    assert set(first["by_memory"]) == {"t-m1", "t-m2", "t-m3", "t-m4"}
    again = pipeline.synth(home, TINY_USER, tiny_run_config)
    assert again["reused"] is True
    assert again["path"] == first["path"] and again["dataset_sha256"] == first["dataset_sha256"]

    extra = write_jsonl(tmp_path / "more.jsonl", [{"id": "t-m5", "text": "Otto's locker number is 6612."}])
    assert pipeline.ingest(home, TINY_USER, [extra])["added"] == 1
    changed = pipeline.synth(home, TINY_USER, tiny_run_config)
    assert changed["reused"] is False
    assert changed["path"] != first["path"]
    assert changed["examples"] > first["examples"] and "t-m5" in changed["by_memory"]


def test_synth_without_memories_is_a_clear_error(tmp_path, tiny_run_config):
    with pytest.raises(ValueError, match="no memories"):
        pipeline.synth(tmp_path / "home", TINY_USER, tiny_run_config)


def test_train_answer_with_every_method_and_release(tmp_path, tiny_files, tiny_run_config):
    # No replay here: the tiny base answers every prompt with one fixed sentence, and a quarter of the mix being
    # that sentence keeps it the greedy reply after two epochs, hiding whether the adapter is on. Replay in the
    # pipeline is covered by the eval test below.
    config = dataclasses.replace(tiny_run_config, train=dataclasses.replace(tiny_run_config.train, replay_ratio=0.0))
    memories_file, _ = tiny_files
    home = tmp_path / "home"
    pipeline.ingest(home, TINY_USER, [memories_file])
    model, tok = load_base(config.model)
    clean_logits = probe_logits(model, tok)

    with pytest.raises(ValueError, match="train"):
        pipeline.answerer(home, TINY_USER, config)  # parametric needs an adapter that does not exist yet
    before = pipeline.answerer(home, TINY_USER, config, need_adapter=False)
    base_before = [r.text for r in before.answer("base", QUESTIONS)]
    rag_before = [r.text for r in before.answer("rag", QUESTIONS)]

    result = pipeline.train(home, TINY_USER, config, progress=False)
    assert result["version"] == 1
    assert (home / "adapters" / TINY_USER / "v1" / "adapter_model.safetensors").is_file()
    metrics = result["train"]
    assert metrics["memories"] == 4 and metrics["adapter_bytes"] > 0
    assert metrics["replay_examples"] == 0 and metrics["examples"] == result["synth"]["examples"]
    assert_clean(model)  # training handed the cached base back without LoRA layers
    # other tools resolve the base from adapter_config.json: the folder the user gave, not a cache path
    folder = home / "adapters" / TINY_USER / "v1"
    adapter_config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter_config["base_model_name_or_path"] == config.model.base_model
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["base"]["name_or_path"] == config.model.base_model and manifest["base"]["gguf_file"] is None
    assert manifest["config_sha256"] == adapters.sha256_file(folder / "adapter_config.json")
    assert manifest["config"]["seed"] == config.seed and "seed" not in manifest["config"]["train"]

    ans = pipeline.answerer(home, TINY_USER, config)
    assert ans.has_adapter
    try:
        replies = {}
        for method in METHODS:
            out = ans.answer(method, QUESTIONS)
            assert len(out) == len(QUESTIONS) and all(isinstance(r, Reply) for r in out), method
            assert all(0 < r.completion_tokens <= config.answer.max_new_tokens for r in out), method
            replies[method] = [r.text for r in out]
        # Context methods put memories in the prompt, so they cost more prompt tokens than the question alone.
        assert ans.answer("rag", QUESTIONS[:1])[0].prompt_tokens > ans.answer("base", QUESTIONS[:1])[0].prompt_tokens
        assert replies["parametric"] != replies["base"]  # the adapter is active for parametric, off for base
        assert replies["base"] == base_before and replies["rag"] == rag_before  # off means the untouched base
    finally:
        pipeline.release(ans)

    model_after, _ = load_base(config.model)
    assert model_after is model
    assert_clean(model_after)
    assert torch.equal(probe_logits(model_after, tok), clean_logits)


def test_base_method_needs_no_adapter(tmp_path, tiny_files, tiny_run_config):
    memories_file, _ = tiny_files
    home = tmp_path / "home"
    pipeline.ingest(home, TINY_USER, [memories_file])
    ans = pipeline.answerer(home, TINY_USER, tiny_run_config, need_adapter=False)
    assert not ans.has_adapter
    [reply] = ans.answer("base", QUESTIONS[:1])
    assert isinstance(reply, Reply)
    with pytest.raises(ValueError, match="train"):
        ans.answer("parametric", QUESTIONS[:1])
    pipeline.release(ans)  # nothing to detach; must not fail


def _eval(tiny_files, out, run_config):
    memories_file, questions_file = tiny_files
    cfg = EvalConfig(memories=str(memories_file), questions=str(questions_file), out=str(out),
                     methods=list(METHODS), general=None, run=run_config)
    return run_eval(cfg, progress=False)


def test_run_eval_writes_a_valid_reproducible_report(tmp_path, tiny_files, tiny_run_config):
    report = _eval(tiny_files, tmp_path / "r1", tiny_run_config)
    out = tmp_path / "r1"
    on_disk = json.loads((out / "report.json").read_text(encoding="utf-8"))
    validate_report(on_disk)
    assert set(on_disk["methods"]) == set(METHODS)
    assert all(on_disk["methods"][m]["n"] == 4 for m in METHODS)
    assert on_disk["config"]["user"] == TINY_USER and on_disk["config"]["questions"] == 4
    # No probe file: the general-probe figures are None, but KL(base || adapter) is reported for the adapter.
    assert on_disk["general"]["n"] == 0 and on_disk["general"]["base_accuracy"] is None
    assert on_disk["general"]["kl_mean"] > 0 and on_disk["general"]["kl_prompts"] > 0
    assert on_disk["seed"] == tiny_run_config.seed
    assert on_disk["synth"]["backend"] == "rules" and on_disk["synth"]["dropped"] == {}
    assert on_disk["synth"]["examples"] == sum(on_disk["synth"]["by_kind"].values())
    # Eval questions the synthesizer happened to write word for word are listed (ids of real questions only).
    assert set(on_disk["synth"]["eval_questions_in_training"]) <= {q["id"] for q in TINY_QUESTIONS}
    # ...and every method is also scored without them.
    seen = set(on_disk["synth"]["eval_questions_in_training"])
    assert all(on_disk["methods"][m]["unseen"]["n"] == 4 - len(seen) for m in METHODS)
    assert (out / "forgetting.png").stat().st_size > 0
    # replay_ratio 0.25: the tiny chat model's full-sentence replay answers make up a quarter of the mix.
    train = on_disk["train"]
    assert train["replay_examples"] > 0
    assert abs(train["replay_examples"] / train["examples"] - 0.25) < 0.02
    assert (out / "report.md").read_text(encoding="utf-8").strip()
    records = [json.loads(line) for line in (out / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 * len(METHODS)
    assert {(r["method"], r["question_id"]) for r in records} == {(m, q["id"]) for m in METHODS for q in TINY_QUESTIONS}
    # Adapter methods record what the abstention gate saw, so a threshold can be swept from answers.jsonl alone.
    assert not any("idk_margin" in r for r in records)  # greedy with no gate: nothing scored against refusals
    assert not any("abstain_p" in r for r in records if r["method"] not in ("parametric", "hybrid"))

    again = _eval(tiny_files, tmp_path / "r2", tiny_run_config)
    accuracies = {m: s["accuracy"] for m, s in report["methods"].items()}
    assert {m: s["accuracy"] for m, s in again["methods"].items()} == accuracies
    assert again["train"]["loss_history"] == report["train"]["loss_history"]
    assert again["general"]["kl_mean"] == report["general"]["kl_mean"]
    lines_again = (tmp_path / "r2" / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    replies_again = [json.loads(line)["reply"] for line in lines_again]
    assert replies_again == [r["reply"] for r in records]  # same seed: the very same answers


def test_eval_reuses_a_kept_adapter_only_when_data_and_config_match(tmp_path, tiny_files, tiny_run_config):
    memories_file, questions_file = tiny_files
    store = tmp_path / "store"

    def run(out, config, reuse):
        cfg = EvalConfig(memories=str(memories_file), questions=str(questions_file), out=str(tmp_path / out),
                         methods=["parametric"], general=None, kl=False, run=config, keep_store=str(store),
                         reuse_adapter=reuse)
        return run_eval(cfg, progress=False)

    first = run("a", tiny_run_config, reuse=True)  # nothing to reuse yet: trains v1
    again = run("b", tiny_run_config, reuse=True)
    assert again["train"].get("reused") and again["train"]["seconds"] == first["train"]["seconds"]
    def replies(out):
        return [json.loads(line)["reply"] for line in (tmp_path / out / "answers.jsonl").read_text().splitlines()]

    assert replies("b") == replies("a")
    with Store(store) as s:
        assert s.latest_adapter(TINY_USER)["version"] == 1
    other = copy.deepcopy(tiny_run_config)
    other.train.epochs += 1  # different weights would come out: train again
    run("c", other, reuse=True)
    with Store(store) as s:
        assert s.latest_adapter(TINY_USER)["version"] == 2
    with pytest.raises(ValueError, match="keep_store"):
        EvalConfig(memories="m", questions="q", out="o", reuse_adapter=True)
