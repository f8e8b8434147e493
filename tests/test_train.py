"""Behaviour tests for memory_lora.train and the training-side prompt encoding, on the tiny random model.

Covers: answer-only label masking and truncation, the answer-only loss against the model's own loss, a trained
adapter leaving the base bit-identical while changing outputs, seeding, batching and precision selection.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch

from memory_lora import train as train_mod
from memory_lora.prompts import chat_prompt, encode_example
from memory_lora.records import Example
from memory_lora.train import add_lora, answer_loss, collate, length_grouped_batches, resolve_precision
from tests.conftest import fit

FACTS = [
    ("Fennimore", "tortoise"), ("Wernigerode", "town"), ("Lorenz", "brother"), ("Ljubljana", "city"),
    ("rosemary", "herb"), ("almonds", "snack"), ("harbour", "workplace"), ("swimming", "sport"),
]


def memorisation_set() -> list[Example]:
    """Sixteen short QA pairs: small enough to memorise in a few epochs."""
    examples = []
    for name, what in FACTS:
        examples.append(Example(prompt=f"What is Otto's {what}?", response=f"It is {name}.", kind="qa"))
        examples.append(Example(prompt=f"Tell me about Otto's {what}.", response=f"Otto's {what} is {name}.",
                                kind="qa"))
    return examples


def with_train(config, **changes):
    """A copy of the run config with some train fields changed (the fixture's copy stays untouched)."""
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def lora_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}


def probe_batch(tokenizer) -> dict[str, torch.Tensor]:
    rows = [encode_example(tokenizer, p.prompt, p.response, "", 96) for p in memorisation_set()[:3]]
    return collate(rows, tokenizer.pad_token_id)


# -- label masking -------------------------------------------------------------------------------------------


def test_encode_example_masks_prompt_and_labels_response_plus_eos(fresh_tiny):
    _, tok = fresh_tiny
    prompt, response = "Where did Otto grow up?", "Otto grew up in Wernigerode."
    enc = encode_example(tok, prompt, response, "", max_length=96)
    rendered = chat_prompt(tok, prompt, "")
    n_prompt = len(tok(rendered, add_special_tokens=False)["input_ids"])
    ids, labels = enc["input_ids"], enc["labels"]

    assert len(ids) == len(labels) > n_prompt
    assert labels[:n_prompt] == [-100] * n_prompt  # no loss on any prompt token, template included
    assert labels[n_prompt:] == ids[n_prompt:]  # every response token carries loss
    assert ids[-1] == tok.eos_token_id and labels[-1] == tok.eos_token_id  # the model learns to stop
    assert tok.decode(ids[:n_prompt]) == rendered
    assert tok.decode(ids[n_prompt:-1]) == response


def test_encode_example_truncates_at_max_length(fresh_tiny):
    _, tok = fresh_tiny
    prompt, response = "Where did Otto grow up?", "Otto grew up in the small town of Wernigerode in the Harz."
    full = encode_example(tok, prompt, response, "", max_length=96)
    n_prompt = full["labels"].count(-100)
    assert len(full["input_ids"]) > n_prompt + 3  # precondition: the cut below removes part of the response

    cut = encode_example(tok, prompt, response, "", max_length=n_prompt + 3)
    assert len(cut["input_ids"]) == len(cut["labels"]) == n_prompt + 3
    assert cut["input_ids"] == full["input_ids"][: n_prompt + 3]  # prompt kept, response tail lost
    assert cut["labels"][n_prompt:] == full["input_ids"][n_prompt : n_prompt + 3]
    assert tok.eos_token_id not in cut["labels"]

    tiny = encode_example(tok, prompt, response, "", max_length=5)
    assert len(tiny["input_ids"]) == 5 and tiny["labels"] == [-100] * 5


# -- loss ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_adapter", [False, True])
def test_answer_loss_matches_model_loss_on_same_labels(fresh_tiny, tiny_run_config, with_adapter):
    model, tok = fresh_tiny
    batch = probe_batch(tok)
    assert (batch["attention_mask"] == 0).any()  # precondition: padding is part of what is compared
    if with_adapter:
        model = add_lora(model, tiny_run_config.lora)
        torch.manual_seed(1)
        with torch.no_grad():  # a non-zero update, so the adapter path really contributes
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.05)
    with torch.no_grad():
        ours = answer_loss(model, batch)
        reference = model(**batch).loss
    assert ours.dtype == torch.float32
    assert torch.isfinite(ours)
    assert abs(ours.item() - reference.item()) < 1e-5


# -- training ------------------------------------------------------------------------------------------------


@pytest.fixture
def trained(fresh_tiny, tiny_run_config, monkeypatch):
    """Train once on the memorisation set, recording the base before and the LoRA weights at initialisation."""
    model, tok = fresh_tiny
    base_before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = probe_batch(tok)
    with torch.no_grad():
        base_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    initial: dict[str, torch.Tensor] = {}
    real_add_lora = train_mod.add_lora

    def spy(m, config):
        wrapped = real_add_lora(m, config)
        initial.update(lora_state(wrapped))
        return wrapped

    monkeypatch.setattr(train_mod, "add_lora", spy)
    config = with_train(tiny_run_config, epochs=4, learning_rate=5e-3)
    peft_model, metrics = fit(model, tok, memorisation_set(), config, progress=False)
    return {"peft": peft_model, "metrics": metrics, "base_before": base_before, "base_logits": base_logits,
            "initial": initial, "batch": batch, "config": config}


def test_train_lora_leaves_base_bit_identical_and_changes_lora(trained):
    peft_model = trained["peft"]
    after = lora_state(peft_model)
    assert after and after.keys() == trained["initial"].keys()
    for name, value in after.items():
        assert not torch.equal(value, trained["initial"][name]), f"{name} never trained"
    assert not any(p.requires_grad for n, p in peft_model.named_parameters() if "lora_" not in n)

    base = peft_model.unload()
    state = base.state_dict()
    assert state.keys() == trained["base_before"].keys()
    for name, value in state.items():
        assert torch.equal(value, trained["base_before"][name]), f"base parameter {name} changed"


def test_trained_adapter_changes_outputs_and_disabling_restores_base(trained):
    peft_model, batch = trained["peft"], trained["batch"]
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    assert not peft_model.training  # handed back in eval mode
    with torch.no_grad():
        adapted = peft_model(**inputs).logits
        with peft_model.disable_adapter():
            disabled = peft_model(**inputs).logits
    assert not torch.allclose(adapted, trained["base_logits"], atol=1e-3)
    torch.testing.assert_close(disabled, trained["base_logits"], rtol=0, atol=1e-6)


def test_train_metrics_and_loss_history(trained):
    metrics = trained["metrics"]
    for key in ("seconds", "examples", "tokens", "tokens_per_second", "epochs", "steps", "final_loss",
                "loss_history"):
        assert key in metrics, key
    assert metrics["examples"] == len(memorisation_set())
    assert metrics["epochs"] == 4 and len(metrics["loss_history"]) == 4
    assert metrics["steps"] == 4 * 2  # 16 examples, batch 8
    assert metrics["tokens"] > 0 and metrics["tokens_per_second"] > 0
    history = metrics["loss_history"]
    assert all(later < earlier for earlier, later in zip(history[:-1], history[1:], strict=True)), history
    assert history[-1] < history[0] * 0.8, history  # it memorises: clearly lower loss at the end
    assert metrics["final_loss"] == history[-1]


def test_max_steps_stops_early(fresh_tiny, tiny_run_config):
    model, tok = fresh_tiny
    _, metrics = fit(model, tok, memorisation_set(), with_train(tiny_run_config, max_steps=3),
                            progress=False)
    assert metrics["steps"] == 3


def test_training_is_seeded(tiny_model_dir, tiny_run_config):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)

    def run(seed: int) -> dict[str, torch.Tensor]:
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
        model.requires_grad_(False)
        config = dataclasses.replace(with_train(tiny_run_config, epochs=1), seed=seed)
        torch.manual_seed(1234 + seed * 7)  # global RNG state must not matter, only the configured seed
        peft_model, _ = fit(model, tok, memorisation_set(), config, progress=False)
        return lora_state(peft_model)

    first, again, other = run(0), run(0), run(1)
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_one_process_trains_with_different_precisions_in_turn(tiny_model_dir, tiny_run_config):
    """A server or an eval trains many adapters in one process; accelerate keeps one process-wide state and (1.15)
    refused a second Accelerator with another mixed precision, so the second run raised ValueError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    for precision in ("no", "bf16", "no"):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
        model.requires_grad_(False)
        _, metrics = fit(model, tok, memorisation_set(), with_train(tiny_run_config, mixed_precision=precision,
                                                                           max_steps=2), progress=False)
        assert metrics["steps"] == 2


def test_train_lora_rejects_no_examples(fresh_tiny, tiny_run_config):
    model, tok = fresh_tiny
    with pytest.raises(ValueError, match="no training examples"):
        fit(model, tok, [], tiny_run_config, progress=False)


def test_examples_whose_prompt_fills_max_length_are_dropped_not_nan(fresh_tiny, tiny_run_config):
    model, tok = fresh_tiny
    long_prompt = "Tell me everything about Otto " * 40  # far past max_length on its own
    examples = [Example(prompt=long_prompt, response="Nothing.", kind="qa")] * 8 + memorisation_set()
    _, metrics = fit(model, tok, examples, with_train(tiny_run_config, epochs=1, batch_size=4), progress=False)
    assert metrics["examples"] == len(memorisation_set())
    assert all(loss == loss for loss in metrics["loss_history"])  # no NaN


def test_failed_training_gives_the_base_model_back_clean(fresh_tiny, tiny_run_config, monkeypatch):
    model, tok = fresh_tiny

    def boom(*args, **kwargs):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(train_mod, "answer_loss", boom)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(model, tok, memorisation_set(), tiny_run_config, progress=False)
    assert not any("lora_" in name for name, _ in model.named_modules())


# -- batching and precision ----------------------------------------------------------------------------------


def test_length_grouped_batches_cover_each_index_once_and_are_seeded():
    rng = random.Random(3)
    lengths = [rng.randint(5, 90) for _ in range(203)]
    batches = length_grouped_batches(lengths, 8, seed=11)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(203))
    assert all(1 <= len(b) <= 8 for b in batches)
    assert sum(len(b) < 8 for b in batches) <= 2  # only each mega-chunk's tail batch may be short
    assert length_grouped_batches(lengths, 8, seed=11) == batches
    assert length_grouped_batches(lengths, 8, seed=12) != batches
    # Grouping: within a batch the lengths are close (each batch is a slice of a sorted chunk).
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 20


def test_resolve_precision_auto_on_cpu_follows_native_bf16(monkeypatch):
    cpu = torch.device("cpu")
    native = torch.cpu._is_avx512_bf16_supported() or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    assert resolve_precision("auto", cpu) == ("bf16" if native else "no")
    assert resolve_precision("auto", cpu) == resolve_precision("auto", cpu)

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert resolve_precision("auto", cpu) == "no"
    for explicit in ("no", "bf16", "fp16"):
        assert resolve_precision(explicit, cpu) == explicit
