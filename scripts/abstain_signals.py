"""Which per-question score separates unanswerable questions from answerable ones, for a kept adapter?

A diagnostic for abstention: it scores every parametric reply of an eval run (answers.jsonl) with
- abstain_p: the adapter's probability of "I" as the reply's first token (what the abstention gate uses);
- mean_lp / min_lp: the mean and lowest token log-probability of the greedy reply under the adapter;
- ratio: the mean per-token log-likelihood ratio of that reply, adapter against base model;
and prints each score's AUROC for telling the abstention questions from all others (0.5 = no signal). It reads
the evaluation questions, so use it to choose what to build, never to tune a threshold that a report then uses.

Run (after `memory-lora eval ... --keep-store STORE`):
    python scripts/abstain_signals.py --store STORE --user ravi --answers DIR/answers.jsonl
"""

from __future__ import annotations

import argparse
import json

import torch
from tqdm.auto import tqdm

from memory_lora import pipeline
from memory_lora.config import RunConfig
from memory_lora.prompts import chat_prompt

SIGNALS = (("abstain_p", 1.0), ("mean_lp", -1.0), ("min_lp", -1.0), ("ratio", -1.0))  # sign: higher = abstain


def reply_logprobs(model, tokenizer, prompt: str, reply: str, max_tokens: int = 24) -> torch.Tensor:
    """Log-probability of each of the reply's first `max_tokens` tokens after the prompt."""
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(reply, add_special_tokens=False)["input_ids"][:max_tokens]
    ids = torch.tensor([p_ids + r_ids], device=next(model.parameters()).device)
    with torch.inference_mode():
        lp = torch.log_softmax(model(ids).logits[0, len(p_ids) - 1 : -1].float(), dim=-1)
    return lp[torch.arange(len(r_ids)), torch.tensor(r_ids, device=lp.device)].cpu()


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(a positive scores above a negative), ties counting half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the store kept by eval --keep-store")
    parser.add_argument("--user", required=True)
    parser.add_argument("--answers", required=True, help="that run's answers.jsonl")
    args = parser.parse_args()
    ans = pipeline.answerer(args.store, args.user, RunConfig())
    model, tokenizer = ans.model, ans.tokenizer
    records = [r for r in map(json.loads, open(args.answers, encoding="utf-8")) if r["method"] == "parametric"]
    rows = []
    for r in tqdm(records, desc="score", unit="q"):
        prompt = chat_prompt(tokenizer, r["question"], "")
        reply = r.get("ungated_reply") or r["reply"]
        adapted = reply_logprobs(model, tokenizer, prompt, reply)
        with model.disable_adapter():
            base = reply_logprobs(model, tokenizer, prompt, reply)
        rows.append({"type": r["type"], "abstain_p": r["abstain_p"], "mean_lp": adapted.mean().item(),
                     "min_lp": adapted.min().item(), "ratio": (adapted - base).mean().item()})
    for key, sign in SIGNALS:
        pos = [sign * x[key] for x in rows if x["type"] == "abstention"]
        neg = [sign * x[key] for x in rows if x["type"] != "abstention"]
        print(f"{key:10s} AUROC unanswerable vs answerable = {auroc(pos, neg):.3f} (n = {len(pos)} / {len(neg)})")


if __name__ == "__main__":
    main()
