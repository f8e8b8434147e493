"""Replay against forgetting: bundled generic instructions answered once by the frozen base (self-distillation).

Training on the base model's own answers to generic prompts pulls the adapter towards leaving everything that is
not about the user unchanged. Answers are generated once per base model and cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from memory_lora.generation import generate
from memory_lora.prompts import chat_prompt
from memory_lora.records import Example

# Bundled replay prompts: generic instructions, and short questions about the world. The questions are there because
# the memory data is short questions too: replayed with only instructions, a demo adapter answered "What is the capital
# of India?" with "I don't know. I have no memory of that." and the capital of France with a place from the user's
# memories (general probe 0.647 -> 0.187). None is near a general-probe question in wording (tests/test_replay.py), and
# none asks a probe fact, its reverse, or a fact whose answer is a probe answer (checked by hand: "Who wrote Hamlet?"
# and "Which metal is liquid at room temperature?" were left out for Shakespeare and Mercury).
INSTRUCTIONS = "data/replay_prompts.jsonl"
WORLD_QUESTIONS = "data/replay_questions.jsonl"


def load_replay_prompts(path: str | os.PathLike | None = None, questions: bool = True) -> list[str]:
    """Replay prompts from a JSONL of {"prompt"}; by default the bundled instructions plus world questions.

    Args:
        path: Another JSONL file to use instead of the bundled ones.
        questions: With the bundled set, include the short world questions (False: the instructions only, as the
            KL probe of eval.forgetting uses them).
    """
    if path is not None:
        texts = [Path(path).read_text(encoding="utf-8")]
    else:
        files = [INSTRUCTIONS, WORLD_QUESTIONS] if questions else [INSTRUCTIONS]
        texts = [resources.files("memory_lora").joinpath(f).read_text(encoding="utf-8") for f in files]
    return [json.loads(line)["prompt"] for text in texts for line in text.splitlines() if line.strip()]


def _complete_sentences(text: str) -> str:
    """Cut a reply that hit the length cap back to its last full sentence, so replay never teaches cut-offs."""
    ends = [m.end() for m in re.finditer(r"[.!?](\s|$)", text)]
    return text[: ends[-1]].strip() if ends else ""


def replay_pool(model, tokenizer, base_key: str, system_prompt: str | None, cache_dir: str | os.PathLike,
                prompts: list[str] | None = None, max_new_tokens: int = 40) -> list[Example]:
    """Self-distilled replay examples: each prompt answered greedily by the frozen base, cached on disk.

    Args:
        model: The frozen base model (no adapter active).
        tokenizer: Its tokenizer.
        base_key: Identifies the base model in the cache key (its path or name).
        system_prompt: Prompt format used for training; answers depend on it.
        cache_dir: Folder for the cached answers.
        prompts: Generic instructions; None = the bundled set.
        max_new_tokens: Answer length cap.
    """
    prompts = prompts if prompts is not None else load_replay_prompts()
    key = hashlib.sha256(json.dumps([base_key, system_prompt, prompts, max_new_tokens]).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / "replay" / f"{key}.jsonl"
    if cache.exists():
        rows = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        rendered = [chat_prompt(tokenizer, p, system_prompt) for p in prompts]
        rows = []
        batch = 16
        for start in tqdm(range(0, len(rendered), batch), desc="replay answers (once per base model)", unit="batch"):
            replies = generate(model, tokenizer, rendered[start : start + batch], max_new_tokens, batch_size=batch)
            for prompt, reply in zip(prompts[start : start + batch], replies, strict=True):
                text = reply.text if reply.finished else _complete_sentences(reply.text)
                if text:
                    rows.append({"prompt": prompt, "response": text})
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        os.replace(tmp, cache)
    return [Example(prompt=r["prompt"], response=r["response"], kind="replay", template="self-distill") for r in rows]


def replay_count(n_memory_examples: int, ratio: float) -> int:
    """Replay examples needed so they make up `ratio` of the final mix."""
    if ratio <= 0 or n_memory_examples == 0:
        return 0
    return round(n_memory_examples * ratio / (1.0 - ratio))


def mix_replay(memory_examples: list[Example], pool: list[Example], ratio: float, seed: int) -> list[Example]:
    """Memory examples plus replay examples making up `ratio` of the result.

    Replay examples are drawn without repetition while the pool lasts, then the pool is re-shuffled and reused.
    """
    n = replay_count(len(memory_examples), ratio)
    if n == 0 or not pool:
        return list(memory_examples)
    rng = random.Random(seed)
    drawn: list[Example] = []
    while len(drawn) < n:
        order = list(pool)
        rng.shuffle(order)
        drawn.extend(order[: n - len(drawn)])
    return list(memory_examples) + drawn
