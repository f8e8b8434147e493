"""Tests for topping up thinly covered memories (data_synth.balance, `synth.min_examples_per_memory`).

Run: `pytest tests/test_synth_balance.py -q`. Invented memories only, never the held-out question files.
"""

from __future__ import annotations

import pytest

from data_synth.balance import upsample_thin_memories
from data_synth.config import SynthConfig
from data_synth.dataset import build_dataset, dataset_stats, load_dataset_dir, save_dataset
from memory_lora.records import Memory


def row(rid: str, *mids: str) -> dict:
    return {"id": rid, "kind": "qa", "prompt": f"q {rid}", "response": f"a {rid}", "memory_ids": list(mids),
            "template": "t"}


def test_thin_memory_is_topped_up_by_cycling_its_own_rows():
    rows = [row("a1", "A"), row("a2", "A"), row("a3", "A"), row("b1", "B"), row("b2", "B"), row("n1")]
    out = upsample_thin_memories(rows, 5)
    assert out[:6] == rows  # the written rows come first, untouched
    extra = out[6:]
    assert [r["id"] for r in extra] == ["a1#r1", "a2#r1", "b1#r1", "b2#r1", "b1#r2"]
    assert [r["prompt"] for r in extra] == ["q a1", "q a2", "q b1", "q b2", "q b1"]
    assert len({r["id"] for r in out}) == len(out)
    assert upsample_thin_memories(rows, 0) == rows
    assert upsample_thin_memories(rows, 2) == rows  # every memory already has two


def test_a_repeated_row_counts_for_every_memory_it_names():
    rows = [row("ab", "A", "B"), row("b1", "B"), row("b2", "B")]
    out = upsample_thin_memories(rows, 3)
    # A needs two more and each repeat of "ab" also counts for B, which then has five: nothing added for B
    assert [r["id"] for r in out[3:]] == ["ab#r1", "ab#r2"]
    assert out[3]["memory_ids"] is not rows[0]["memory_ids"]


def test_dataset_floor_gives_every_memory_enough_rows_and_records_the_repeats(tmp_path):
    mems = [Memory(id="t1", text="I moved to Kraków in September 2019 to work at the Vistula Robotics Lab."),
            Memory(id="t2", text="I can't stand black liquorice."),
            Memory(id="t3", text="My brother Émile works as a sound engineer in Lyon.")]
    plain = build_dataset(mems, "Lena", seed=1)
    per = dataset_stats(plain)["by_memory"]
    floor = max(per.values()) + 5
    ds = build_dataset(mems, "Lena", SynthConfig(min_examples_per_memory=floor), seed=1)
    stats = dataset_stats(ds)
    assert min(stats["by_memory"].values()) >= floor
    assert stats["repeats"] == len(ds) - len(plain) > 0
    assert dataset_stats(plain)["repeats"] == 0
    assert ds["id"][:len(plain)] == plain["id"]
    assert set(zip(ds["prompt"], ds["response"], strict=True)) == set(zip(plain["prompt"], plain["response"],
                                                                           strict=True))
    save_dataset(ds, tmp_path / "ds")
    assert dataset_stats(load_dataset_dir(tmp_path / "ds"))["repeats"] == stats["repeats"]


def test_floor_must_not_be_negative():
    with pytest.raises(ValueError, match="min_examples_per_memory"):
        SynthConfig(min_examples_per_memory=-1)
