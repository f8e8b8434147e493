"""Held-out abstention questions: questions the memories do not answer, from the synthesizer's own sources, that the
training data never asks, for calibrating the "I don't know" gate without any hand-written questions.

The abstention draw (data_synth.abstention) takes `abstention_per_memory` questions per memory from a larger pool
(missing user topics and relations, unknown facts of named people, unknown details of named things). What it leaves
is as unanswerable as what it takes, with the same keyword check against every memory, and the adapter never saw it:
a calibration set that costs the user nothing. Each question is asked about the user by name, the way people ask.
A question is kept only when no training prompt holds it in any person form (case, accents and punctuation aside).
Used by memory_lora.pipeline to calibrate the gate after training (`--gate.questions N`); not run directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from data_synth.abstention import _draw, _first_person
from data_synth.config import SynthConfig
from data_synth.grammar import norm
from data_synth.rules import abstention_draw, analyse_memory
from memory_lora.records import Memory


def held_out_abstention(memories: list[Memory], user_name: str, config: SynthConfig, k: int,
                        train_prompts: Iterable[str], seed: int = 0) -> list[str]:
    """Up to `k` unanswerable questions about the user that the abstention draw left out of training.

    Args:
        memories: The user's memories, as synthesized from.
        user_name: The user's display name, as synthesized with.
        config: The synthesis config the training data was written with (its abstention settings).
        k: How many questions to return.
        train_prompts: Every prompt of the training dataset; a question found among them in any person form is
            skipped.
        seed: The seed the training data was synthesized with.

    Returns:
        Questions in the pool's order, which takes the sources in turn, so each source is represented.
    """
    user = (user_name or "the user").strip() or "the user"
    analysed = [analyse_memory(mem, user, dated=config.kinds is None or "temporal" in config.kinds) for mem in memories]
    _, _, unasked, _ = _draw(**abstention_draw(analysed, user, config, seed))
    seen = {norm(p) for p in train_prompts}
    out = []
    for q in unasked:
        q = q.replace("{u}", user)
        forms = (q, re.sub(rf"\b{re.escape(user)}\b", "the user", q), _first_person(q, user))
        if any(norm(f) in seen for f in forms) or q in out:
            continue
        out.append(q)
        if len(out) == k:
            break
    return out
