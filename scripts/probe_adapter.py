"""Greedy replies of a kept adapter to questions you write, with the probability it gives a refusal's first token.

A study tool for finding which wordings an adapter refuses (docs/results/README.md section 27c): write wordings of
one fact, one per line, and see which are answered. Write them yourself; probing with evaluation questions and then
changing the data to fit them tunes on the test set.

Run (after `memory-lora eval ... --keep-store STORE`):
    python scripts/probe_adapter.py --adapter STORE/adapters/USER/v1 --questions wordings.txt [--base-model M]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from peft import PeftModel

from memory_lora.abstain import abstain_token_ids
from memory_lora.adapters import MANIFEST_FILE, load_adapter
from memory_lora.base_model import load_base
from memory_lora.config import ModelConfig
from memory_lora.generation import generate
from memory_lora.prompts import chat_prompt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", required=True, help="a saved adapter version folder (or any PEFT adapter)")
    parser.add_argument("--questions", required=True, help="text file, one question per line")
    parser.add_argument("--base-model", default=None, help="base model (default: the config's)")
    parser.add_argument("--max-new-tokens", type=int, default=30)
    args = parser.parse_args(argv)
    with open(args.questions, encoding="utf-8") as f:
        questions = [line.strip() for line in f if line.strip()]
    config = ModelConfig(base_model=args.base_model) if args.base_model else ModelConfig()
    model, tokenizer = load_base(config)
    if (Path(args.adapter) / MANIFEST_FILE).is_file():
        model = load_adapter(model, args.adapter)  # one of ours: checked against its manifest
    else:
        model = PeftModel.from_pretrained(model, args.adapter, is_trainable=False)  # any PEFT adapter folder
    model.eval()
    with torch.no_grad():
        replies = generate(model, tokenizer, [chat_prompt(tokenizer, q, config.system_prompt) for q in questions],
                           max_new_tokens=args.max_new_tokens, first_token_ids=abstain_token_ids(tokenizer)[:1])
    print("P(refusal's first token)  question  ->  reply")
    for q, r in zip(questions, replies, strict=True):
        print(f"{r.first_token_p:.3f}  {q}  ->  {r.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
