"""Choosing among an adapter's n-best replies, and "I don't know" scored as a reply of its own.

Two misses remain once beam search keeps a recitation from slipping:
- The adapter recites the wrong memory with the right one close behind. Asked "Which imaging centre did Ravi use to
  work at?", its most probable reply is the new job at Kahikatea Imaging, and the old job at Brackenhurst is the
  next beam, nearly as probable. The reranker keeps every beam within `margin` of the best one's mean token
  log-probability and picks the one that adds most `weight * cosine(question, reply)` under the sentence embedder
  the rag baseline uses. The embedder sees the question and the adapter's own replies, never the memories, so the
  answer still comes from the weights alone.
- The adapter answers a question no memory holds. Training teaches "I don't know" replies (memory_lora.text.REFUSALS);
  scoring them teacher-forced under the same prompt gives a probability to compare with the reply's. The gap
  (`idk_margin`, the reply's mean log-probability minus the best "I don't know" wording's) is small when the
  adapter was nearly as ready to refuse; at or under `abstain_margin` the reply becomes "I don't know".

A reply that already refuses is kept as it is. Pure functions; memory_lora.respond applies them. Not run directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from memory_lora.text import refuses


def pick(candidates: Sequence[str], means: Sequence[float], sims: Sequence[float], weight: float,
         margin: float) -> int:
    """Index of the reply to give among n-best candidates (candidates[0] is the decoder's own choice).

    Args:
        candidates: Reply texts, most probable first.
        means: Their mean token log-probabilities.
        sims: Their cosine similarities to the question.
        weight: How much similarity counts against log-probability; 0 keeps candidates[0].
        margin: Only candidates whose mean log-probability is within this of candidates[0]'s compete.

    Returns:
        An index into candidates; 0 when the first one refuses or no other competes.
    """
    if weight <= 0 or not candidates or refuses(candidates[0]):
        return 0
    return max(competing(candidates, means, margin), key=lambda i: (means[i] + weight * sims[i], -i))


def competing(candidates: Sequence[str], means: Sequence[float], margin: float) -> list[int]:
    """Indices of the candidates that do not refuse and are within `margin` of candidates[0]'s mean log-probability."""
    return [i for i, text in enumerate(candidates) if not refuses(text) and means[i] >= means[0] - margin]


def idk_margin(reply_mean: float, abstain_means: Sequence[float]) -> float:
    """The reply's mean log-probability minus the most probable "I don't know" wording's (small: nearly refused)."""
    return reply_mean - max(abstain_means)
