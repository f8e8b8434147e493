"""The one answer pipeline: decode (greedy or beam search), rerank the n-best, then the "I don't know" gate.

`ask` and `eval` (through memory_lora.answer.Answerer) and the server's batcher all answer through `respond`, so the
reply a user is served is the reply that was measured. A batch may mix adapters: each row names its own PEFT
adapter (mixed-adapter batches), and rows without one are answered by the base model, which is never reranked or
gated. Not run directly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from memory_lora.config import AnswerConfig
from memory_lora.generation import BASE_ADAPTER, Reply, decode, reply_logprobs
from memory_lora.rerank import idk_margin, pick
from memory_lora.text import ABSTAIN_REPLY, REFUSALS, refuses


@dataclass
class Row:
    """One question on its way through the pipeline.

    Attributes:
        prompt_ids: The rendered prompt's token ids.
        question: What the reranker compares replies with (the question, or the user's last message).
        adapter: The PEFT adapter name that answers; None = the base model.
        gate: The "I don't know" gate (answer.abstain_margin) for this row: None = off, -inf = score the margin but
            never refuse (calibration).
    """

    prompt_ids: Sequence[int]
    question: str
    adapter: str | None = None
    gate: float | None = None


def respond(model, tokenizer, rows: Sequence[Row], config: AnswerConfig, embedder=None,
            stopping_criteria=None, max_new_tokens: int | None = None) -> list[Reply]:
    """Answer every row in one decoding pass, then rerank and gate the adapter rows.

    Args:
        model: The base model, or a PEFT model holding the rows' adapters.
        tokenizer: Its tokenizer.
        rows: The questions.
        config: Decoding (num_beams), reranking (rerank_weight, rerank_margin) and the reply cap.
        embedder: A sentence-transformers model for the reranker (needed when config.rerank_weight > 0).
        stopping_criteria: Passed to `generate` (the server streams and stops rows with it).
        max_new_tokens: Reply cap of this call; None = config.max_new_tokens.

    Returns:
        One Reply per row: Reply.idk_margin where the row was scored, Reply.top_text when the reranker chose another
        beam, Reply.ungated_text when the gate refused.
    """
    if not rows:
        return []
    rerank = config.rerank_weight > 0 and config.num_beams > 1
    if rerank and embedder is None:
        raise ValueError("answer.rerank_weight needs the sentence embedder")
    names = [row.adapter or BASE_ADAPTER for row in rows]
    replies = decode(model, tokenizer, [row.prompt_ids for row in rows], max_new_tokens or config.max_new_tokens,
                     config.num_beams, config.num_beams if rerank else 1, names, stopping_criteria)
    for row, reply in zip(rows, replies, strict=True):
        if row.adapter is None or not (rerank or row.gate is not None):
            continue
        t0 = time.perf_counter()
        _rerank_and_gate(model, tokenizer, row, reply, config, embedder if rerank else None)
        reply.latency_s += time.perf_counter() - t0
    return replies


def _rerank_and_gate(model, tokenizer, row: Row, reply: Reply, config: AnswerConfig, embedder) -> None:
    """Pick a beam by similarity to the question; with a gate, score the trained refusals under the row's prompt
    beside the reply's own score from decoding (the same mean token log-probability) and refuse by margin. The
    refusals are scored only when a gate will read them: they cost a forward pass over the prompt and each wording."""
    candidates = reply.candidates or [reply.text]
    means = reply.means
    if row.gate is not None:
        reply.idk_margin = idk_margin(means[0], reply_logprobs(model, tokenizer, row.prompt_ids, list(REFUSALS),
                                                               row.adapter))
    if embedder is not None and len(candidates) > 1:
        emb = embedder.encode([row.question, *candidates], convert_to_tensor=True, normalize_embeddings=True,
                              show_progress_bar=False)
        sims = (emb[1:] @ emb[0]).tolist()
        best = pick(candidates, means, sims, config.rerank_weight, config.rerank_margin)
        if best:
            reply.top_text, reply.text = reply.text, candidates[best]
            reply.completion_tokens = len(tokenizer(reply.text, add_special_tokens=False)["input_ids"])
    if row.gate is not None and reply.idk_margin <= row.gate and not refuses(reply.text):
        reply.ungated_text, reply.text = reply.text, ABSTAIN_REPLY
        reply.completion_tokens = len(tokenizer(reply.text, add_special_tokens=False)["input_ids"])
        reply.finished = True
