"""Choosing among an adapter's n-best replies, and "I don't know" scored as a reply of its own.

Two misses remain once beam search keeps a recitation from slipping (docs/results/README.md sections 20-21):
- The adapter recites the wrong memory with the right one close behind. Asked "Which imaging centre did Ravi use to
  work at?", its most probable reply is the new job at Kahikatea Imaging, and the old job at Brackenhurst is the
  next beam, nearly as probable. The reranker keeps every beam within `margin` of the best one's mean token
  log-probability and picks the one that adds most `weight * cosine(question, reply)` under the sentence embedder
  the rag baseline uses. The embedder sees the question and the adapter's own replies, never the memories, so the
  answer still comes from the weights alone.
- The adapter answers a question no memory holds. Training teaches "I don't know" replies (data_synth.abstention);
  scoring them teacher-forced under the same prompt gives a probability to compare with the reply's. The gap
  (`idk_margin`, the reply's mean log-probability minus the best "I don't know" wording's) is small when the
  adapter was nearly as ready to refuse; at or under `abstain_margin` the reply becomes "I don't know".

A reply that already refuses is kept as it is. Not run directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from data_synth.abstention import REPLIES as ABSTAIN_REPLIES


def refuses(text: str) -> bool:
    """Whether a reply says "I don't know" (the opening every trained refusal shares)."""
    return text.startswith("I don't know")


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


def n_best_record(candidates: Sequence[str], means: Sequence[float], abstain_means: Sequence[float],
                  sims: Sequence[float] | None, recite_means: Sequence[float] | None,
                  base_means: Sequence[float] | None) -> list[dict]:
    """What the reranker weighed, one dict per beam, so a decision rule can be replayed offline on saved answers.

    Args:
        candidates: Beam texts, most probable first.
        means: Their mean token log-probabilities under the question's prompt.
        abstain_means: The "I don't know" wordings' mean log-probabilities under the same prompt.
        sims: Cosine(question, beam) under the embedder, or None when the reranker is off.
        recite_means: Mean log-probabilities under a question-free prompt ("What do you remember about Ravi?").
        base_means: Mean log-probabilities under the question's prompt with the adapter off, or None.

    Returns:
        [{"text", "mean", "idk_mean", "sim", "recite", "base"}, ...] rounded to 5 decimals; absent scores are None.
    """
    idk = round(max(abstain_means), 5) if abstain_means else None

    def at(values, i):
        return None if values is None else round(float(values[i]), 5)

    return [{"text": text, "mean": at(means, i), "idk_mean": idk, "sim": at(sims, i), "recite": at(recite_means, i),
             "base": at(base_means, i)} for i, text in enumerate(candidates)]


__all__ = ["ABSTAIN_REPLIES", "competing", "idk_margin", "n_best_record", "pick", "refuses"]
