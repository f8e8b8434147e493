"""Test helper: tiny LoRA adapters that each answer one fixed question with their own secret.

On a tiny random model an adapter trained on real memories recalls nothing recognisable, so a mixed-up reply would
go unnoticed. These adapters are trained (a few dozen steps) until greedy decoding of QUESTION gives exactly their
secret and then the end-of-turn token; the secrets are distinct and none contains another, so every reply names the
adapter that produced it, and a leak shows as another user's secret.
"""

from __future__ import annotations

import random
import warnings

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from memory_lora.adapters import build_manifest, save_adapter_version
from memory_lora.prompts import chat_prompt, encode_example
from memory_lora.train import collate

QUESTION = "What is my secret?"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def make_secrets(n: int, seed: int = 0) -> list[str]:
    """n distinct 6-character secrets, none a substring of another."""
    rng = random.Random(seed)
    secrets: list[str] = []
    while len(secrets) < n:
        s = "".join(rng.choice(_ALPHABET) for _ in range(6))
        if all(s not in t and t not in s for t in secrets):
            secrets.append(s)
    return secrets


def greedy_reply(model, tokenizer, question: str = QUESTION, max_new_tokens: int = 12) -> tuple[str, bool]:
    """(reply text, whether it ended on the end-of-turn token), decoding one prompt alone."""
    enc = tokenizer([chat_prompt(tokenizer, question, "")], return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    new = out[0, enc["input_ids"].shape[1]:].tolist()
    ended = tokenizer.eos_token_id in new
    new = new[: new.index(tokenizer.eos_token_id)] if ended else new
    return tokenizer.decode(new, skip_special_tokens=True), ended


class _LoraOnly:
    """Lets `save_adapter_version` save a model that targets the tied lm_head: PEFT would otherwise store the whole
    base lm_head next to the LoRA weights (which the server rightly refuses to load)."""

    def __init__(self, peft_model):
        self.peft_model = peft_model

    def save_pretrained(self, path, **kwargs):
        self.peft_model.save_pretrained(path, save_embedding_layers=False, **kwargs)


def train_secret(model_dir, tokenizer, secret: str, seed: int = 0, max_steps: int = 480):
    """A PEFT model on a fresh copy of the tiny base whose greedy reply to QUESTION is exactly `secret`.

    Raises:
        AssertionError: The adapter did not learn it within max_steps (the isolation tests would be meaningless).
    """
    return train_answers(model_dir, tokenizer, {QUESTION: secret}, seed, max_steps)


def train_answers(model_dir, tokenizer, answers: dict[str, str], seed: int = 0, max_steps: int = 480):
    """A PEFT model on a fresh copy of the tiny base whose greedy reply to each question is exactly its answer.

    Raises:
        AssertionError: The adapter did not learn them within max_steps.
    """
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
    # lm_head makes the margins large: the tiny model's logits are too flat for small numeric differences between
    # a padded batch and a single row not to flip a token otherwise.
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["down_proj", "lm_head"], task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # "tied layer is part of the adapter": intended, see _LoraOnly
        warnings.simplefilter("ignore", UserWarning)
        model = get_peft_model(base, config)
    batch = collate([encode_example(tokenizer, q, a, "", 96) for q, a in answers.items()], tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(1, max_steps + 1):
        model.train()
        model(**batch).loss.backward()
        # Clipped: at lr 1e-2 an unclipped run can oscillate for hundreds of steps on a secret with a repeat
        # ("HQD3DQ" never settled in 240 steps with transformers 5.23 / peft 0.21 on a fresh machine).
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 30 == 0:
            model.eval()
            if all(greedy_reply(model, tokenizer, q) == (a, True) for q, a in answers.items()):
                return model
    raise AssertionError(f"tiny adapter did not learn {sorted(answers.values())} in {max_steps} steps")


def publish(store, user: str, peft_model, gate: float | None = None) -> int:
    """Saves the adapter as the user's next version, exactly as training does (atomic directory + record); `gate`
    is recorded as the "I don't know" gate its calibration chose."""
    manifest = build_manifest(user, [], "0" * 64, "tiny-random", {}, {})
    if gate is not None:
        manifest["gate"] = {"abstain_margin": gate, "questions": 1, "target": 0.8, "grid": []}
    version, _ = save_adapter_version(_LoraOnly(peft_model), store, user, manifest)
    return version
