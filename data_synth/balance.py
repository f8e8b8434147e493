"""Even out how often each memory is seen in training: repeat the examples of memories the synthesizer covers thinly.

The rules write as many examples as a memory has slots and wordings, so one memory can get 140 examples and another
11 (ravi: a job change read as an update vs "I can't stand coriander"). Recall of a fact grows with how often it is
seen in training, so a thin memory is the one the adapter answers worst when asked in a new wording. With a floor
N, each memory below N examples has its own examples repeated, in order, until it reaches N.
Used by data_synth.dataset.build_dataset (`synth.min_examples_per_memory`); no runnable entry point.
"""

from __future__ import annotations

from collections import Counter


def upsample_thin_memories(rows: list[dict], floor: int) -> list[dict]:
    """Rows plus repeats of thin memories' rows, so every memory named by some row has at least `floor` rows.

    Args:
        rows: Example rows (dicts with "id" and "memory_ids"); not modified.
        floor: Least number of rows that name a memory; 0 = return `rows` as they are.

    Returns:
        `rows` followed by the repeats. A repeat is a copy whose id ends in "#rK" (K = 1, 2, ...) so ids stay
        unique. Memories are topped up in order of first appearance, each cycling through its own rows; a repeated
        row that names two memories counts for both, so a later memory may need fewer repeats.
    """
    if floor <= 0:
        return list(rows)
    count: Counter = Counter(mid for r in rows for mid in r["memory_ids"])
    own: dict[str, list[dict]] = {}
    for r in rows:
        for mid in r["memory_ids"]:
            own.setdefault(mid, []).append(r)
    extra: list[dict] = []
    times: Counter = Counter()
    for mid, mine in own.items():
        i = 0
        while count[mid] < floor:
            src = mine[i % len(mine)]
            i += 1
            times[src["id"]] += 1
            extra.append({**src, "id": f"{src['id']}#r{times[src['id']]}", "memory_ids": list(src["memory_ids"])})
            for m in src["memory_ids"]:
                count[m] += 1
    return list(rows) + extra
