"""LoCoMo import: a small synthetic zip built here and the real release zip (local), both tracks, category 5 ->
abstention, one-line errors with exit 2 on bad input."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from eval.locomo import LocomoConfig, import_locomo, parse_session_date
from memory_lora.cli import main
from memory_lora.ingest import read_memories, read_questions

REAL_ZIP = Path("/work/shared/benchmarks/locomo/locomo10.zip")
CONV = {
    "speaker_a": "Ana", "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [{"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a cat named Miso."},
                  {"speaker": "Ben", "dia_id": "D1:2", "text": "Look at my garden!",
                   "blip_caption": "a photo of roses"}],
    "session_1_observation": {"Ana": [["Ana adopted a cat named Miso.", "D1:1"]],
                              "Ben": [["Ben grows roses in his garden.", "D1:2"]]},
    "session_2_date_time": "9:00 am on 1 June, 2023",
    "session_2": [{"speaker": "Ben", "dia_id": "D2:1", "text": "I ran a marathon in 2022."}],
    "session_2_observation": {"Ben": [["Ben ran a marathon in 2022.", "D2:1"]]},
    "qa": [{"question": "What is Ana's cat called?", "answer": "Miso", "evidence": ["D1:1"], "category": 4},
           {"question": "When did Ben run a marathon?", "answer": 2022, "evidence": ["D2:1"], "category": 2},
           {"question": "What is Ben's cat called?", "evidence": ["D1:1"], "category": 5,
            "adversarial_answer": "Miso"}],
}


@pytest.fixture
def small_zip(tmp_path) -> Path:
    path = tmp_path / "locomo-small.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data/multimodal_dialog/locomo10_v2/7.json", json.dumps(CONV))
    return path


def test_observations_track(small_zip, tmp_path):
    [summary] = import_locomo(LocomoConfig(str(small_zip), str(tmp_path / "out"), "observations"))
    assert summary == {"conversation": "7", "dir": str(tmp_path / "out" / "conv-7"), "memories": 3, "questions": 3,
                       "by_category": {2: 1, 4: 1, 5: 1}}
    memories = read_memories(tmp_path / "out" / "conv-7" / "memories.jsonl")  # SPEC section 1, readable as such
    assert [m.text for m in memories] == ["On 8 May 2023, Ana adopted a cat named Miso.",
                                          "On 8 May 2023, Ben grows roses in his garden.",
                                          "On 1 June 2023, Ben ran a marathon in 2022."]
    assert memories[0].time == "2023-05-08T13:56:00" and memories[2].time == "2023-06-01T09:00:00"
    questions = read_questions(tmp_path / "out" / "conv-7" / "questions.jsonl")
    assert [q.type for q in questions] == ["single-hop", "temporal", "abstention"]
    assert questions[1].answers == ["2022"]  # numbers become strings
    assert questions[2].answers == ["unknown"] and questions[2].extra["adversarial_answer"] == "Miso"
    assert [q.extra["category"] for q in questions] == [4, 2, 5]
    assert questions[0].evidence == [memories[0].id]  # dia ids mapped to the track's memory ids


def test_turns_track_keeps_dates_speakers_and_captions(small_zip, tmp_path):
    import_locomo(LocomoConfig(str(small_zip), str(tmp_path / "out"), "turns"))
    memories = read_memories(tmp_path / "out" / "conv-7" / "memories.jsonl")
    assert [m.id for m in memories] == ["conv-7-D1-1", "conv-7-D1-2", "conv-7-D2-1"]
    assert memories[1].text == "On 8 May 2023, Ben said: Look at my garden! [shares a photo: a photo of roses]"
    assert read_questions(tmp_path / "out" / "conv-7" / "questions.jsonl")[1].evidence == ["conv-7-D2-1"]


def test_session_dates():
    assert parse_session_date("12:05 am on 3 March, 2024", "x").isoformat() == "2024-03-03T00:05:00"
    assert parse_session_date("12:30 pm on 3 March, 2024", "x").hour == 12
    with pytest.raises(ValueError, match="unreadable session date"):
        parse_session_date("yesterday", "x")


def test_cli_import_and_bad_zip(small_zip, tmp_path, capsys):
    assert main(["import-locomo", str(small_zip), "--out", str(tmp_path / "o"), "--track", "turns"]) == 0
    assert "conv-7: 3 memories, 3 questions (cat 2: 1, cat 4: 1, cat 5: 1)" in capsys.readouterr().out
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    assert main(["import-locomo", str(bad), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "not a readable zip" in err[0]
    assert main(["import-locomo", str(small_zip), "--out", str(tmp_path / "o3"), "--conversations", "99"]) == 2


@pytest.mark.skipif(not REAL_ZIP.exists(), reason="LoCoMo release zip not present")
@pytest.mark.parametrize("track", ["observations", "turns"])
def test_real_zip(tmp_path, track):
    summaries = import_locomo(LocomoConfig(str(REAL_ZIP), str(tmp_path), track))
    assert len(summaries) == 10
    totals: dict[int, int] = {}
    for s in summaries:
        for cat, n in s["by_category"].items():
            totals[cat] = totals.get(cat, 0) + n
    # The README's counts: 841 / 321 / 282 / 96 / 446 for categories 4 / 2 / 1 / 3 / 5; 1,986 in all.
    assert totals == {1: 282, 2: 321, 3: 96, 4: 841, 5: 446}
    conv30 = tmp_path / "conv-30"
    memories = read_memories(conv30 / "memories.jsonl")
    assert len(memories) == (169 if track == "observations" else 369)
    questions = read_questions(conv30 / "questions.jsonl")
    assert all(q.answers == ["unknown"] for q in questions if q.extra["category"] == 5)
    assert all(q.answers != ["unknown"] for q in questions if q.extra["category"] != 5)
