"""Tests for eval.report: summarize, write_report, format_table and validate_report (SPEC section 5)."""

from __future__ import annotations

import copy
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from eval.report import format_table, render_markdown, summarize, validate_report, write_report  # noqa: E402


def _record(method, qid, qtype, accuracy, em, f1, tokens, latency):
    return {
        "method": method,
        "question_id": qid,
        "type": qtype,
        "reply": f"reply {qid}",
        "answers": ["Tromsø"],
        "accuracy": accuracy,
        "exact_match": em,
        "f1": f1,
        "prompt_tokens": tokens,
        "latency_s": latency,
    }


@pytest.fixture
def records():
    # Deliberately out of SPEC order, plus an unknown method, to check ordering.
    return [
        _record("zzz", "q1", "single-hop", 0.0, 0.0, 0.0, 5, 0.1),
        _record("base", "q1", "single-hop", 0.0, 0.0, 0.5, 12, 0.2),
        _record("rag", "q1", "single-hop", 1.0, 1.0, 1.0, 10, 1.0),
        _record("rag", "q2", "single-hop", 1.0, 0.0, 0.5, 20, 2.0),
        _record("rag", "q3", "single-hop", 0.0, 0.0, 0.0, 30, 3.0),
        _record("rag", "q4", "abstention", 1.0, 1.0, 1.0, None, 4.0),
    ]


@pytest.fixture
def report(records):
    return {
        "methods": summarize(records),
        "train": {
            "seconds": 70.7,
            "examples": 96,
            "tokens": 5120,
            "tokens_per_second": 380.0,
            "epochs": 6,
            "adapter_bytes": 19600000,
            "memories": 16,
        },
        "synth": {"seconds": 1.2, "examples": 96, "by_kind": {"qa": 64, "cot": 8}},
        "general": {"base_accuracy": 0.83, "adapter_accuracy": 0.8, "n": 150},
        "config": {"base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "lora": {"r": 16}, "seed": 0},
        "versions": {"memory_lora": "0.1.0", "torch": "x", "transformers": "y", "peft": "z"},
    }


def test_summarize_hand_computed(records):
    methods = summarize(records)
    assert list(methods) == ["rag", "base", "zzz"]
    rag = methods["rag"]
    assert rag["n"] == 4
    assert rag["accuracy"] == pytest.approx(0.75)
    assert rag["exact_match"] == pytest.approx(0.5)
    assert rag["f1"] == pytest.approx(0.625)
    assert rag["by_type"] == {
        "abstention": {"accuracy": 1.0, "n": 1},
        "single-hop": {"accuracy": pytest.approx(2 / 3), "n": 3},
    }
    assert rag["prompt_tokens_mean"] == pytest.approx(20.0)  # the None is skipped, not counted as 0
    # latencies 1,2,3,4: linear percentile p50 = 2.5, p95 at rank 0.95*3 = 2.85 -> 3 + 0.85 = 3.85
    assert rag["latency_s_p50"] == pytest.approx(2.5)
    assert rag["latency_s_p95"] == pytest.approx(3.85)
    assert methods["base"]["latency_s_p50"] == pytest.approx(0.2)


def test_summarize_scores_apart_the_questions_the_training_data_contained(records, tmp_path):
    """Held-out questions the synthesizer happened to write word for word are recall, not generalization; the
    report gives each method's figures without them, next to the full ones, and names them in report.md."""
    methods = summarize(records, seen={"q1", "q4"})
    rag = methods["rag"]
    assert rag["accuracy"] == pytest.approx(0.75) and rag["n"] == 4  # the full figures are unchanged
    assert rag["unseen"] == {"accuracy": pytest.approx(0.5), "n": 2,
                             "by_type": {"single-hop": {"accuracy": pytest.approx(0.5), "n": 2}}}
    assert methods["base"]["unseen"] == {"accuracy": None, "n": 0, "by_type": {}}
    assert "unseen" not in summarize(records)["rag"]  # no overlap computed, nothing claimed
    report = {"methods": methods, "synth": {"eval_questions_in_training": ["q1", "q4"]}}
    text = (tmp_path / "report.md")
    text.write_text(render_markdown(report))
    md = text.read_text()
    assert "never contained" in md and "q1, q4" in md and "0.500 (2)" in md


def test_summarize_method_order_and_missing_type():
    recs = [
        _record(m, "q1", None, 1.0, 1.0, 1.0, 1, 0.1)
        for m in ("other", "base", "hybrid", "long-context", "rag", "parametric")
    ]
    methods = summarize(recs)
    assert list(methods) == ["parametric", "rag", "long-context", "hybrid", "base", "other"]
    assert methods["base"]["by_type"] == {"single-hop": {"accuracy": 1.0, "n": 1}}


def test_write_report_files_round_trip(tmp_path, report, records):
    out = tmp_path / "out"
    paths = write_report(report, out, records)
    expected = {"report.json", "report.md", "answers.jsonl", "accuracy_by_method.png", "cost_vs_accuracy.png"}
    assert set(paths) == expected
    assert {p.name for p in out.iterdir()} == expected  # no temp files left behind
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0

    loaded = json.loads(paths["report.json"].read_text(encoding="utf-8"))
    assert loaded == json.loads(json.dumps(report))
    validate_report(loaded)

    answers = [json.loads(line) for line in paths["answers.jsonl"].read_text(encoding="utf-8").splitlines()]
    assert answers == records
    assert answers[0]["answers"] == ["Tromsø"]  # ensure_ascii=False keeps the text readable

    for name in ("accuracy_by_method.png", "cost_vs_accuracy.png"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    md = paths["report.md"].read_text(encoding="utf-8")
    assert md.startswith("# ")
    assert "| method | accuracy | EM | F1 | n | prompt tokens | p50 s | p95 s |" in md
    assert "| rag | 0.750 | 0.500 | 0.625 | 4 | 20.0 | 2.500 | 3.850 |" in md
    assert "](accuracy_by_method.png)" in md and "](cost_vs_accuracy.png)" in md
    assert "HuggingFaceTB/SmolLM2-135M-Instruct" in md and "```json" in md
    assert "abstention" in md and "tokens_per_second" in md and "cot" in md


def test_write_report_without_records_or_optional_sections(tmp_path, report):
    del report["general"]
    paths = write_report(report, tmp_path)
    assert "answers.jsonl" not in paths and not (tmp_path / "answers.jsonl").exists()
    assert paths["accuracy_by_method.png"].stat().st_size > 0
    # Overwriting an existing report works (os.replace onto the old files).
    write_report(report, tmp_path)
    validate_report(json.loads(paths["report.json"].read_text(encoding="utf-8")))


def test_write_report_empty_methods(tmp_path):
    paths = write_report({"methods": {}}, tmp_path)
    assert paths["cost_vs_accuracy.png"].stat().st_size > 0


def test_format_table(report):
    text = format_table(report)
    lines = text.splitlines()
    assert lines[0].split() == ["method", "accuracy", "EM", "F1", "n", "prompt", "tokens", "p50", "s"]
    body = [line.split()[0] for line in lines[2:5]]
    assert body == ["rag", "base", "zzz"]
    assert lines[2].split() == ["rag", "0.750", "0.500", "0.625", "4", "20.0", "2.500"]
    assert "train: 70.7 s, 96 examples, 380.0 tokens/s" in text
    assert "general probe: base 0.830 -> adapter 0.800 (drop 0.030, n=150)" in text


def test_format_table_without_train_or_general(report):
    del report["train"], report["general"]
    text = format_table(report)
    assert "train:" not in text and "general probe" not in text


def test_validate_report_accepts_full_report(report):
    validate_report(report)


def test_validate_report_rejects_missing_train_tokens(report):
    del report["train"]["tokens"]
    with pytest.raises(ValueError, match=r"train\.tokens"):
        validate_report(report)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("methods", "rag"), "latency_s_p95"),
        (("synth",), "by_kind"),
        (("general",), "adapter_accuracy"),
        ((), "versions"),
        ((), "config"),
    ],
)
def test_validate_report_names_missing_key(report, path, key):
    broken = copy.deepcopy(report)
    section = broken
    for part in path:
        section = section[part]
    del section[key]
    with pytest.raises(ValueError, match=".".join((*path, key)).replace(".", r"\.")):
        validate_report(broken)


def test_validate_report_general_is_optional(report):
    del report["general"]
    validate_report(report)
