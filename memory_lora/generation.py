"""Generation shared by replay, `ask` and `eval`: chat prompts in, greedy replies (or samples) and their costs out."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass
class Reply:
    """One generated reply and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    finished: bool  # ended on the end-of-turn token rather than the length cap
    first_token_p: float | None = None  # probability of the watched first tokens (generate's first_token_ids)
    ungated_text: str | None = None  # the greedy reply the abstention gate replaced with "I don't know", if it did
    mean_logprob: float | None = None  # mean log-probability of the reply's tokens (generate's score_tokens)
    agreement: float | None = None  # share of sampled replies that agree with this one (memory_lora.consistency)
    candidates: list[str] | None = None  # beam search's finished replies, most probable first (generate's num_return)
    top_text: str | None = None  # the most probable reply, when the n-best reranker chose another (memory_lora.rerank)
    idk_margin: float | None = None  # mean log-probability of the reply minus "I don't know"'s (rerank.idk_margin)
    n_best: list[dict] | None = None  # every beam the reranker weighed, with its scores (rerank.n_best_record)


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 40, batch_size: int = 1,
             first_token_ids: list[int] | None = None, score_tokens: bool = False, num_beams: int = 1,
             num_return: int = 1) -> list[Reply]:
    """Decode a reply to each rendered prompt: greedy, or beam search with num_beams > 1.

    Args:
        model: A causal LM (a PEFT model answers with its active adapter).
        tokenizer: Its tokenizer.
        prompts: Fully rendered prompts (see memory_lora.prompts.chat_prompt).
        max_new_tokens: Reply length cap.
        batch_size: Prompts per forward pass; 1 gives per-question latency, larger is faster for bulk work.
            Latency of a batched reply is the batch's wall time divided by its size.
        first_token_ids: Token ids whose summed probability as the reply's first token is reported in
            Reply.first_token_p (the abstention gate watches how much mass "I don't know" gets).
        score_tokens: Also report Reply.mean_logprob, the mean log-probability the model gave its own reply's tokens
            (end-of-turn token included), a confidence to compare replies to different prompts. Under beam search
            it is the beam's length-normalised score, the same mean.
        num_beams: 1 = greedy; more keeps that many candidate replies and returns the most probable whole reply.
        num_return: With beam search, also keep this many finished beams per prompt in Reply.candidates (most
            probable first; at most num_beams), for memory_lora.rerank.

    Returns:
        One Reply per prompt, in order.
    """
    if not 1 <= num_return <= num_beams:
        raise ValueError(f"num_return must be in [1, num_beams={num_beams}], got {num_return}")
    device = next(model.parameters()).device
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    replies: list[Reply] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            t0 = time.perf_counter()
            beams = num_beams > 1
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=num_beams,
                num_return_sequences=num_return,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                output_scores=score_tokens,
                output_logits=first_token_ids is not None,
                return_dict_in_generate=True,
            )
            watched = [None] * len(chunk)
            if first_token_ids is not None:
                # step 0's raw logits; under beam search every beam of a prompt starts from the same ones
                probs = torch.softmax(out.logits[0][::num_beams].float(), dim=-1)
                watched = probs[:, list(first_token_ids)].sum(dim=-1).tolist()
            elapsed = (time.perf_counter() - t0) / len(chunk)
            new = out.sequences[:, enc["input_ids"].shape[1] :]
            cut = [_cut(tokenizer, row) for row in new]
            # num_return rows per prompt: the first is the reply, all of them its candidates
            new, groups = new[::num_return], [cut[i : i + num_return] for i in range(0, len(cut), num_return)]
            logprobs = [None] * len(chunk)
            if score_tokens and beams:
                logprobs = out.sequences_scores.float()[::num_return, None].expand(-1, new.shape[1])
            elif score_tokens:
                # scores[t][b] are step t's logits (greedy: unprocessed); gather the chosen token's log-probability
                steps = torch.stack([torch.log_softmax(s.float(), dim=-1) for s in out.scores], dim=1)
                logprobs = steps.gather(-1, new[:, : steps.shape[1], None]).squeeze(-1)
            for b, (mask, p) in enumerate(zip(enc["attention_mask"], watched, strict=True)):
                text, n, finished = groups[b][0]
                replies.append(
                    Reply(
                        text=text,
                        prompt_tokens=int(mask.sum()),
                        completion_tokens=n,
                        latency_s=elapsed,
                        finished=finished,
                        first_token_p=p,
                        mean_logprob=float(logprobs[b][: n + 1].mean()) if score_tokens else None,
                        candidates=[t for t, _, _ in groups[b]] if num_return > 1 else None,
                    )
                )
    finally:
        tokenizer.padding_side = old_side
    return replies


def _cut(tokenizer, row) -> tuple[str, int, bool]:
    """A generated row up to its first end-of-turn token: (text, tokens, whether it ended there)."""
    ends = (row == tokenizer.eos_token_id).nonzero()
    n = int(ends[0]) if len(ends) else len(row)
    return tokenizer.decode(row[:n], skip_special_tokens=True).strip(), n, bool(len(ends))


@torch.inference_mode()
def reply_logprobs(model, tokenizer, prompt: str, replies: list[str]) -> list[float]:
    """Mean log-probability the model gives each reply to one prompt, end-of-turn token included (teacher-forced).

    The same quantity as generate's score_tokens, for replies the model did not necessarily generate ("I don't know"
    as a candidate of its own), so the two can be compared. All replies go through in one padded forward pass.

    Args:
        model: A causal LM (a PEFT model scores with its active adapter).
        tokenizer: Its tokenizer.
        prompt: A fully rendered prompt.
        replies: Reply texts.

    Returns:
        One mean log-probability per reply, in order.
    """
    if not replies:
        return []
    device = next(model.parameters()).device
    head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    tails = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in replies]
    width = len(head) + max(len(t) for t in tails)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(tails), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, t in enumerate(tails):  # right padding: every reply starts at the same position
        ids[i, : len(head) + len(t)] = torch.tensor(head + t)
        mask[i, : len(head) + len(t)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    logp = torch.log_softmax(logits[:, len(head) - 1 : -1], dim=-1)
    means = []
    for i, t in enumerate(tails):
        means.append(float(logp[i, torch.arange(len(t)), torch.tensor(t)].mean()))
    return means


@torch.inference_mode()
def sample(model, tokenizer, prompt: str, n: int, max_new_tokens: int = 40, seed: int = 0) -> tuple[list[str], float]:
    """Sample `n` replies to one rendered prompt at temperature 1 (the model's own distribution, untruncated).

    Args:
        model: A causal LM (a PEFT model samples with its active adapter).
        tokenizer: Its tokenizer.
        prompt: A fully rendered prompt.
        n: Number of replies.
        max_new_tokens: Reply length cap.
        seed: Seeds the draw; the global random state is left as it was.

    Returns:
        (the replies, the seconds they took).
    """
    device = next(model.parameters()).device
    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False).to(device)
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True, temperature=1.0, top_k=0,
                             top_p=1.0, num_return_sequences=n, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    seconds = time.perf_counter() - t0
    new = out[:, enc["input_ids"].shape[1] :]
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new], seconds
