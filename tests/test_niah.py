"""NIAH: depth placement math, haystack variants, scoring, heatmap files, and a tiny end-to-end grid."""

from __future__ import annotations

import json

import pytest

from eval.configs import NiahConfig, depth_list
from eval.files import write_png
from eval.haystack import build_haystack, depth_of, generate_distractors, needle_positions
from eval.niah import needle_score, run_niah
from eval.plots import niah_heatmap


def test_needle_positions_depth_math():
    assert needle_positions(21, [0, 25, 50, 75, 100]) == [0, 5, 10, 15, 20]
    assert needle_positions(69, [0, 50, 100]) == [0, 34, 68]
    assert [round(depth_of(p, 21)) for p in needle_positions(21, [0, 25, 50, 75, 100])] == [0, 25, 50, 75, 100]
    # Two depths rounding to the same slot are pushed apart, never stacked.
    assert needle_positions(3, [50, 50, 50]) == [1, 2, 0]
    with pytest.raises(ValueError):
        needle_positions(2, [0, 50, 100])
    with pytest.raises(ValueError):
        needle_positions(10, [120])


def test_depth_list():
    assert depth_list("5") == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert depth_list("1") == [0.0]
    assert depth_list("0,10,100") == [0.0, 10.0, 100.0]


def test_distractors_are_distinct_and_seeded():
    a = generate_distractors(300, seed=1)
    assert len(set(a)) == 300 and a == generate_distractors(300, seed=1) and a != generate_distractors(300, seed=2)
    assert not any("locker" in t or "lucky" in t for t in a)  # never a needle key


@pytest.mark.parametrize("variant", ["single", "multi-key", "multi-value"])
def test_haystack_places_needles_at_their_depths(variant):
    depths = [0, 25, 50, 75, 100]
    memories, questions = build_haystack(64, depths, variant, "Robin", seed=3)
    by_id = {m["id"]: i for i, m in enumerate(memories)}
    needles = sum(m["source"] == "niah-needle" for m in memories)
    assert len(memories) == 64 + needles + (15 if variant == "multi-key" else 0)
    for q, depth in zip(questions, depths, strict=True):
        first = by_id[q["evidence"][0]]
        assert first == q["position"] and abs(depth_of(first, len(memories)) - depth) <= 100 / len(memories) * 3
        for answer, mid in zip(q["answers"], q["evidence"], strict=False):
            assert answer in memories[by_id[mid]]["text"]
    assert len({m["text"] for m in memories}) == len(memories)
    assert [m["time"] for m in memories] == sorted(m["time"] for m in memories)  # stream order = time order
    if variant == "multi-value":
        assert all(len(q["evidence"]) == 3 and q["all_answers"] for q in questions)
    again, _ = build_haystack(64, depths, variant, "Robin", seed=3)
    assert again == memories


def test_needle_score_multi_value_is_the_share_recalled():
    record = {"reply": "They are 1234 and 5678.", "answers": ["1234", "5678", "9999"], "all_answers": True,
              "accuracy": 1.0}
    assert needle_score(record) == pytest.approx(2 / 3)
    assert needle_score({"reply": "x", "answers": ["y"], "accuracy": 0.0}) == 0.0


def test_heatmap_png(tmp_path):
    fig = niah_heatmap([[1.0, 0.5], [0.0, None]], [0, 100], [16, 64], "NIAH: rag", "seed 0")
    path = write_png(tmp_path / "h.png", fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_config_validation():
    with pytest.raises(ValueError, match="locomo_zip"):
        NiahConfig(out="x", distractors="locomo")
    with pytest.raises(ValueError, match="variant"):
        NiahConfig(out="x", variants=["nope"])
    with pytest.raises(ValueError, match="depths"):
        NiahConfig(out="x", depths=[150])


def test_run_niah_tiny_grid_and_reuse(tmp_path, tiny_run_config):
    cfg = NiahConfig(out=str(tmp_path / "niah"), sizes=[3, 6], depths=[0, 100], methods=["parametric", "long-context"],
                     variants=["single", "multi-value"], run=tiny_run_config)
    result = run_niah(cfg, progress=False)
    out = tmp_path / "niah"
    for name in ("niah_single_parametric.png", "niah_single_long-context.png", "niah_multi-value_parametric.png",
                 "single/scaling_accuracy.png", "single/scaling_prompt_tokens.png", "single/scaling_latency.png"):
        assert (out / name).stat().st_size > 0, name
    on_disk = json.loads((out / "niah.json").read_text())
    assert on_disk["seed"] == tiny_run_config.seed and on_disk["config"]["run"]["train"]["epochs"] == 2
    grid = on_disk["variants"]["single"]["scores"]["long-context"]
    assert len(grid) == 2 and all(len(row) == 2 and all(v is not None for v in row) for row in grid)
    assert all(v > 0 for v in on_disk["variants"]["single"]["kl_mean"].values())  # forgetting for each adapter
    report = json.loads((out / "single" / "n3" / "report.json").read_text())
    assert report["train"]["memories"] == 5 and report["general"]["kl_mean"] > 0
    # Same inputs and config: every cell is reused, so the same scores come back without training again.
    stamp = (out / "single" / "n3" / "report.json").stat().st_mtime_ns
    again = run_niah(cfg, progress=False)
    assert (out / "single" / "n3" / "report.json").stat().st_mtime_ns == stamp
    assert again["variants"] == result["variants"]


def test_several_needles_per_depth_and_key_capacity():
    memories, questions = build_haystack(32, [0, 0, 100, 100], "single", seed=0)
    assert [q["depth"] for q in questions] == [0, 0, 100, 100]
    assert [q["position"] for q in questions] == [0, 1, 35, 34]  # pushed to the neighbouring slot
    assert len({q["question"] for q in questions}) == 4  # distinct keys, never two values for one fact
    with pytest.raises(ValueError, match="distinct needle keys"):
        build_haystack(32, [50] * 6, "multi-value")
