"""Forgetting: how far an adapter moves the base model away from itself on text that is not about the user.

Two figures, both reported for every adapter in every eval report (``report["general"]``):

- the general-knowledge probe (eval/data/general.jsonl, 150 world-knowledge questions): base vs adapter accuracy
  (eval.run.general_probe);
- ``kl_mean``: the mean over the bundled generic instructions (memory_lora/data/replay_prompts.jsonl, each with the
  frozen base model's own greedy reply) of KL(base || adapter) between next-token distributions, averaged over
  every prompt + reply position. The base side is the same model with the adapter disabled
  (PEFT ``model.disable_adapter()``), so only the LoRA update can make it non-zero.

Run: memory-lora eval --memories M.jsonl --questions Q.jsonl --out DIR   (general.kl_* in DIR/report.json)
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from memory_lora.base_model import cache_root, local_model_path
from memory_lora.prompts import encode_example
from memory_lora.recipe import RunConfig
from memory_lora.replay import load_replay_prompts, replay_pool
from memory_lora.train import collate


@torch.inference_mode()
def next_token_kl(model, tokenizer, pairs: list[tuple[str, str]], system_prompt: str | None = "",
                  batch_size: int = 4, max_length: int = 256, progress: bool = False) -> list[float]:
    """KL(base || adapter) per (prompt, reply) pair, averaged over its prompt + reply positions.

    Args:
        model: A PEFT model with its adapter active (``disable_adapter`` gives the base).
        tokenizer: Its tokenizer.
        pairs: (user prompt, reply) texts, rendered with the training chat format.
        system_prompt: As in training (``model.system_prompt``).
        batch_size: Sequences per forward pass.
        max_length: Tokens kept per sequence.
        progress: Show a progress bar.

    Returns:
        One non-negative float (nats per position) per pair, in order.
    """
    if not hasattr(model, "disable_adapter"):
        raise ValueError("next_token_kl needs a PEFT model with an adapter")
    rows = [encode_example(tokenizer, p, r, system_prompt, max_length) for p, r in pairs]
    device = next(model.parameters()).device
    out: list[float] = []
    for start in tqdm(range(0, len(rows), batch_size), desc="KL(base || adapter)", unit="batch",
                      disable=not progress):
        batch = collate(rows[start : start + batch_size], tokenizer.pad_token_id)
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        log_adapter = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        with model.disable_adapter():
            log_base = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        kl = (log_base.exp() * (log_base - log_adapter)).sum(-1).clamp_min(0.0)  # [batch, positions]
        per_seq = (kl * mask).sum(-1) / mask.sum(-1)
        out.extend(float(x) for x in per_seq.cpu())
    return out


def kl_probe(ans, run: RunConfig, progress: bool = True) -> dict:
    """KL(base || adapter) on the bundled generic prompts with the base model's own (cached) replies.

    Args:
        ans: An Answerer whose model carries the adapter.
        run: The run config (base model identity for the replay cache, system prompt).
        progress: Show progress bars.

    Returns:
        {"kl_mean", "kl_median", "kl_max", "kl_prompts", "kl_per_prompt"}.
    """
    with ans.model.disable_adapter():  # the base model's replies; cached per base model, shared with replay
        # the instructions only, so that kl_mean stays comparable with reports made before the world questions
        pool = replay_pool(ans.model, ans.tokenizer, local_model_path(run.model), run.model.system_prompt,
                           cache_root(run.model), prompts=load_replay_prompts(questions=False))
    values = next_token_kl(ans.model, ans.tokenizer, [(e.prompt, e.response) for e in pool],
                           run.model.system_prompt, progress=progress)
    return {"kl_mean": round(statistics.fmean(values), 6), "kl_median": round(statistics.median(values), 6),
            "kl_max": round(max(values), 6), "kl_prompts": len(values),
            "kl_per_prompt": [round(v, 6) for v in values]}
