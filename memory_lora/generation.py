"""Decoding shared by replay, the answer pipeline and the server: token ids in, greedy or beam-search replies out,
and teacher-forced scores of given replies. Rows may name a PEFT adapter each (mixed-adapter batches)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

BASE_ADAPTER = "__base__"  # PEFT's adapter name for "no adapter" in a mixed batch


@dataclass
class Reply:
    """One generated reply and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finished: bool  # ended on the end-of-turn token rather than the length cap
    candidates: list[str] | None = None  # beam search's finished replies, most probable first (num_return > 1)
    # mean log-probability of each candidate's tokens, end-of-turn included (the reply's own first), from decoding
    means: list[float] | None = None
    top_text: str | None = None  # the most probable reply, when the reranker chose another (memory_lora.respond)
    idk_margin: float | None = None  # mean log-probability of the reply minus "I don't know"'s (memory_lora.rerank)
    ungated_text: str | None = None  # the reply the "I don't know" gate replaced, if it did


def pad_id(tokenizer) -> int:
    """The padding token id (the end-of-turn token when the tokenizer has none)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _peft_kwargs(model, adapter_names: Sequence[str] | None) -> dict:
    """`adapter_names` for a PEFT model (one per row); nothing for a plain model, which has no adapters to pick."""
    if adapter_names is None or not hasattr(model, "peft_config"):
        return {}
    return {"adapter_names": list(adapter_names)}


def _cache_kwarg(model) -> str:
    """What this transformers version calls a forward pass's KV cache ("cache" from 5.x, "past_key_values" before)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.inference_mode()
def decode(model, tokenizer, prompt_ids: Sequence[Sequence[int]], max_new_tokens: int, num_beams: int = 1,
           num_return: int = 1, adapter_names: Sequence[str] | None = None, stopping_criteria=None) -> list[Reply]:
    """Decode one reply per prompt in a single left-padded batch: greedy, or beam search with num_beams > 1.

    Args:
        model: A causal LM; a PEFT model answers each row with the adapter `adapter_names` gives it.
        tokenizer: Its tokenizer.
        prompt_ids: Each rendered prompt's token ids.
        max_new_tokens: Reply length cap.
        num_beams: 1 = greedy; more keeps that many candidates and returns the most probable whole reply.
        num_return: With beam search, keep this many finished beams per prompt in Reply.candidates (most probable
            first; at most num_beams).
        adapter_names: Per row, the PEFT adapter name (BASE_ADAPTER for none); ignored for a plain model.
        stopping_criteria: Passed to `generate` (the server streams and stops rows with it).

    Returns:
        One Reply per prompt, in order; latency is the batch's wall time divided by its size.
    """
    if not 1 <= num_return <= num_beams:
        raise ValueError(f"num_return must be in [1, num_beams={num_beams}], got {num_return}")
    if not prompt_ids:
        return []
    device = next(model.parameters()).device
    width = max(len(p) for p in prompt_ids)
    pad = pad_id(tokenizer)
    # Left padding: decoder-only models continue from the right edge, every row at the same position.
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompt_ids], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids], device=device)
    extra = {"stopping_criteria": stopping_criteria} if stopping_criteria is not None else {}
    t0 = time.perf_counter()
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                         num_beams=num_beams, num_return_sequences=num_return, pad_token_id=pad,
                         eos_token_id=tokenizer.eos_token_id, output_scores=True, return_dict_in_generate=True,
                         **_peft_kwargs(model, adapter_names), **extra)
    new = out.sequences[:, width:]
    cut = [_cut(tokenizer, row) for row in new]
    if num_beams > 1:
        # a finished beam's score is its summed log-probability over its length, end-of-turn included: its mean
        means = out.sequences_scores.float().tolist()
    else:
        # each step's log-probability of the token chosen, one step at a time (a stack of every step's full
        # distribution would hold rows x steps x vocabulary floats)
        chosen = torch.stack([torch.log_softmax(step.float(), dim=-1).gather(-1, new[:, t, None]).squeeze(-1)
                              for t, step in enumerate(out.scores)], dim=1)
        means = [float(chosen[b, : n + int(done)].mean()) if n + int(done) else 0.0
                 for b, (_, n, done) in enumerate(cut)]
    elapsed = (time.perf_counter() - t0) / len(prompt_ids)
    replies = []
    for b, prompt in enumerate(prompt_ids):
        group = cut[b * num_return : (b + 1) * num_return]
        text, n, finished = group[0]
        replies.append(Reply(text=text, prompt_tokens=len(prompt), completion_tokens=n, latency_s=elapsed,
                             finished=finished, candidates=[t for t, _, _ in group] if num_return > 1 else None,
                             means=means[b * num_return : (b + 1) * num_return]))
    return replies


def _cut(tokenizer, row) -> tuple[str, int, bool]:
    """A generated row up to its first end-of-turn token: (text, tokens, whether it ended there)."""
    ends = (row == tokenizer.eos_token_id).nonzero()
    n = int(ends[0]) if len(ends) else len(row)
    return tokenizer.decode(row[:n], skip_special_tokens=True).strip(), n, bool(len(ends))


def encode_prompts(tokenizer, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of rendered prompts (the chat template already holds every special token)."""
    return [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]


def generate(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 40, batch_size: int = 1,
             num_beams: int = 1) -> list[Reply]:
    """Decode a reply to each rendered prompt, `batch_size` prompts per call (replay, the general probe).

    Args:
        model: A causal LM (a PEFT model answers with its active adapter).
        tokenizer: Its tokenizer.
        prompts: Fully rendered prompts (memory_lora.prompts.chat_prompt).
        max_new_tokens: Reply length cap.
        batch_size: Prompts per forward pass; 1 gives per-question latency.
        num_beams: 1 = greedy; more = beam search.

    Returns:
        One Reply per prompt, in order.
    """
    ids = encode_prompts(tokenizer, prompts)
    replies: list[Reply] = []
    for start in range(0, len(ids), batch_size):
        replies += decode(model, tokenizer, ids[start : start + batch_size], max_new_tokens, num_beams)
    return replies


@torch.inference_mode()
def reply_logprobs(model, tokenizer, prompt_ids: Sequence[int], replies: Sequence[str],
                   adapter_name: str | None = None) -> list[float]:
    """Mean log-probability the model gives each reply to one prompt, end-of-turn token included (teacher-forced).

    The prompt runs once and its cache is shared by every reply, which then go through together, right-padded.

    Args:
        model: A causal LM.
        tokenizer: Its tokenizer.
        prompt_ids: The rendered prompt's token ids.
        replies: Reply texts.
        adapter_name: The PEFT adapter to score with (mixed-batch name); None = the model as it is.

    Returns:
        One mean log-probability per reply, in order.
    """
    if not replies:
        return []
    device = next(model.parameters()).device
    tails = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in replies]
    n, width = len(tails), max(len(t) for t in tails)
    head = torch.tensor([list(prompt_ids)], device=device)
    prefix = model(input_ids=head, use_cache=True, **_peft_kwargs(model, None if adapter_name is None else
                                                                  [adapter_name]))
    # position 0 of every reply is predicted by the prompt's last position; the rest by the replies' own tokens
    logp = [torch.log_softmax(prefix.logits[0, -1].float(), dim=-1).expand(n, -1)[:, None]]
    if width > 1:
        ids = torch.full((n, width - 1), pad_id(tokenizer), dtype=torch.long, device=device)
        for i, t in enumerate(tails):
            ids[i, : len(t) - 1] = torch.tensor(t[:-1])
        mask = torch.ones((n, head.shape[1] + width - 1), dtype=torch.long, device=device)
        cache = getattr(prefix, "cache", None) or prefix.past_key_values
        cache.batch_repeat_interleave(n)
        names = None if adapter_name is None else [adapter_name] * n
        rest = model(input_ids=ids, attention_mask=mask, use_cache=True, **{_cache_kwarg(model): cache},
                     **_peft_kwargs(model, names))
        logp.append(torch.log_softmax(rest.logits.float(), dim=-1))
    logp = torch.cat(logp, dim=1)
    return [float(logp[i, torch.arange(len(t)), torch.tensor(t)].mean()) for i, t in enumerate(tails)]
