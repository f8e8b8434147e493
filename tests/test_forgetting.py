"""KL(base || adapter): exactly 0 for a freshly initialised LoRA (B = 0), > 0 once it has trained."""

from __future__ import annotations

import pytest

from eval.forgetting import next_token_kl
from memory_lora.records import Example
from memory_lora.train import add_lora
from tests.conftest import fit

PAIRS = [("Explain why the sky is blue.", "Sunlight scatters."), ("Name a prime number.", "Seven is prime.")]


def test_kl_is_zero_for_an_untrained_lora(fresh_tiny, tiny_run_config):
    model, tokenizer = fresh_tiny
    peft_model = add_lora(model, tiny_run_config.lora)
    values = next_token_kl(peft_model, tokenizer, PAIRS)
    assert len(values) == 2 and all(v == pytest.approx(0.0, abs=1e-7) for v in values)


def test_kl_grows_after_training(fresh_tiny, tiny_run_config):
    model, tokenizer = fresh_tiny
    examples = [Example(prompt=f"What is fact {i} about Otto?", response=f"Otto likes the number {i}.", kind="qa")
                for i in range(16)]
    peft_model, _ = fit(model, tokenizer, examples, tiny_run_config, progress=False)
    values = next_token_kl(peft_model, tokenizer, PAIRS)
    assert all(v > 1e-4 for v in values)
    with pytest.raises(ValueError, match="PEFT"):
        next_token_kl(peft_model.unload(), tokenizer, PAIRS)
