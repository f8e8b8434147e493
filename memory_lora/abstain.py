"""The abstention gate: a reply becomes "I don't know" when the adapter gives that opening enough probability.

The idea: an adapter trained on a few "I don't know" examples seldom makes "I" its top first token on a question
it was never asked, but may give it some probability when no memory answers. On the two example users that
probability did not separate answerable from unanswerable questions (docs/results/README.md section 11), so the
gate is off unless a threshold is set. `ask` and `eval` (memory_lora.answer)
replace a finished greedy reply, so eval can also record what the gate replaced; the server cannot replace text it
has already streamed, so there AbstainGate forces the reply token by token from the first step. Both take the same
decision on the same number: the first step's probability of ABSTAIN_REPLY's first token. Not run directly.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from memory_lora.prompts import ABSTAIN_REPLY


def abstain_token_ids(tokenizer) -> list[int]:
    """ABSTAIN_REPLY as reply tokens; the gate watches the first one."""
    return tokenizer.encode(ABSTAIN_REPLY, add_special_tokens=False)


class AbstainGate(LogitsProcessor):
    """Forces ABSTAIN_REPLY (then end-of-turn) on rows whose first-token probability of it reaches the threshold.

    Args:
        reply_ids: abstain_token_ids(tokenizer).
        eos_id: The end-of-turn token that closes a forced reply.
        threshold: Probability of reply_ids[0] at the first step from which a row abstains.
        prompt_len: Padded prompt width of the batch (the first generated position).
        rows: Per row, whether the gate applies (rows answered by the base model, without an adapter, are left
            alone).

    Attributes:
        first_p: Per row, the probability the gate saw at the first step (None before it).
        forced: Per row, whether the row is being forced.
    """

    def __init__(self, reply_ids: list[int], eos_id: int, threshold: float, prompt_len: int, rows: list[bool]):
        self.reply_ids, self.eos_id, self.threshold = list(reply_ids), eos_id, threshold
        self.prompt_len, self.rows = prompt_len, list(rows)
        self.first_p: list[float] | None = None
        self.forced = [False] * len(rows)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_len
        if step == 0:
            self.first_p = torch.softmax(scores.float(), dim=-1)[:, self.reply_ids[0]].tolist()
            self.forced = [on and p >= self.threshold for on, p in zip(self.rows, self.first_p, strict=True)]
        if not any(self.forced) or step > len(self.reply_ids):
            return scores
        target = self.reply_ids[step] if step < len(self.reply_ids) else self.eos_id
        scores = scores.clone()
        for row, forced in enumerate(self.forced):
            if forced:
                scores[row] = float("-inf")
                scores[row, target] = 0.0
        return scores
