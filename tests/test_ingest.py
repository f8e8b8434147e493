"""Behaviour tests for memory_lora.ingest: formats, stable ids, raw text, and line-numbered input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memory_lora.ingest import MAX_LINE_BYTES, read_memories, read_questions
from memory_lora.records import InputError, stable_memory_id


def write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def jsonl(*records):
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def assert_error(path, line, fragment, reader=read_memories):
    with pytest.raises(InputError) as info:
        reader(path)
    msg = str(info.value)
    assert path.name in msg
    assert f"{path.name}:{line}:" in msg
    assert fragment in msg
    assert "\n" not in msg
    assert info.value.line == line


# -- formats -------------------------------------------------------------------------------------------------


def test_jsonl_records_with_defaults_and_extra(tmp_path):
    p = write(
        tmp_path,
        "m.jsonl",
        jsonl(
            {
                "id": "dana-m001",
                "user": "dana",
                "text": "Dana moved to Tromsø in 2023.",
                "time": "2023-06-01T10:00:00Z",
                "kind": "episodic",
                "source": "chat",
                "mood": "happy",
            },
            {"text": "Dana likes tea."},
        ),
    )
    first, second = read_memories(p)
    assert first.id == "dana-m001" and first.user == "dana" and first.kind == "episodic"
    assert first.time == "2023-06-01T10:00:00Z" and first.source == "chat"
    assert first.extra == {"mood": "happy"}
    assert second.id == stable_memory_id("Dana likes tea.")
    assert second.kind == "semantic" and second.time is None and second.extra == {}


def test_blank_lines_skipped_but_line_numbers_kept(tmp_path):
    p = write(tmp_path, "m.jsonl", '{"text": "a"}\n\n   \n{"text": "b", "kind": "opinion"}\n')
    assert_error(p, 4, "unknown kind 'opinion'")


def test_plain_text_one_memory_per_line(tmp_path):
    p = write(tmp_path, "notes.txt", "I live in Tromsø.\n\n   \nMy  cat is  called Kit.\r\n")
    mems = read_memories(p)
    assert [m.text for m in mems] == ["I live in Tromsø.", "My  cat is  called Kit."]
    assert all(m.source == "notes.txt" and m.kind == "semantic" for m in mems)
    assert mems[1].id == stable_memory_id("My  cat is  called Kit.")


def test_markdown_and_non_json_content_is_plain_text(tmp_path):
    p = write(tmp_path, "notes.md", "[link](https://example.org)\n{draft} call mum\n")
    assert [m.text for m in read_memories(p)] == ["[link](https://example.org)", "{draft} call mum"]


def test_format_detected_from_content_not_extension(tmp_path):
    p = write(tmp_path, "export.txt", jsonl({"role": "user", "content": "I have two kids."}))
    (m,) = read_memories(p)
    assert m.text == "I have two kids." and m.kind == "episodic" and m.source == "chat"
    p = write(tmp_path, "records.data", jsonl({"text": "x", "kind": "procedural"}))
    assert read_memories(p)[0].kind == "procedural"


def test_chat_array_keeps_only_user_messages(tmp_path):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "My sister Åsa lives in Longyearbyen."},
        {"role": "assistant", "content": "Noted!"},
        {"role": "user", "content": [{"type": "text", "text": "I drive a Volvo."}, {"type": "image_url"}]},
        {"role": "user", "content": None},
    ]
    p = write(tmp_path, "chat.json", json.dumps(messages, indent=1, ensure_ascii=False))
    mems = read_memories(p)
    assert [m.text for m in mems] == ["My sister Åsa lives in Longyearbyen.", "I drive a Volvo."]
    assert all(m.kind == "episodic" and m.source == "chat" for m in mems)


def test_chat_messages_object_and_jsonl(tmp_path):
    msgs = [{"role": "user", "content": "I am vegetarian."}, {"role": "assistant", "content": "OK"}]
    obj = write(tmp_path, "chat.json", json.dumps({"model": "x", "messages": msgs}, indent=2))
    lines = write(tmp_path, "chat.jsonl", jsonl(*msgs))
    assert [m.text for m in read_memories(obj)] == ["I am vegetarian."]
    assert [m.text for m in read_memories(lines)] == ["I am vegetarian."]


def test_chat_errors_name_the_message_line(tmp_path):
    doc = '{\n "messages": [\n  {"role": "user", "content": "ok"},\n  {"role": "user", "content": 5}\n ]\n}\n'
    assert_error(write(tmp_path, "c.json", doc), 4, "'content' must be")
    doc = '[\n {"role": "user", "content": "ok"},\n {"content": "no role"}\n]'
    assert_error(write(tmp_path, "d.json", doc), 3, "'role'")


def test_chat_with_no_user_messages_is_an_error(tmp_path):
    p = write(tmp_path, "c.json", json.dumps([{"role": "assistant", "content": "hi"}]))
    assert_error(p, 1, "no memories")


def test_ids_stable_across_runs_and_derived_from_text(tmp_path):
    a = write(tmp_path, "a.txt", "Dana moved to Tromsø.\n")
    b = write(tmp_path, "b.jsonl", jsonl({"text": "dana  moved to TROMSØ."}))
    assert read_memories(a)[0].id == read_memories(a)[0].id == read_memories(b)[0].id
    assert read_memories(a)[0].id == stable_memory_id("Dana moved to Tromsø.")


def test_raw_text_preserved_byte_for_byte(tmp_path):
    text = "  Dana  moved to\tTromsø  in 2023.  "
    p = write(tmp_path, "m.jsonl", jsonl({"text": text}))
    assert read_memories(p)[0].text == text
    p = write(tmp_path, "m.txt", text + "\n")
    assert read_memories(p)[0].text.encode("utf-8") == text.encode("utf-8")


def test_bom_is_ignored(tmp_path):
    p = write(tmp_path, "m.jsonl", "\ufeff" + jsonl({"text": "a"}))
    assert read_memories(p)[0].text == "a"


def test_pretty_printed_single_record_and_record_array(tmp_path):
    p = write(tmp_path, "one.json", json.dumps({"text": "a", "kind": "procedural"}, indent=2))
    assert read_memories(p)[0].kind == "procedural"
    p = write(tmp_path, "many.json", json.dumps([{"text": "a"}, {"text": "b"}], indent=2))
    assert [m.text for m in read_memories(p)] == ["a", "b"]


def test_same_text_without_ids_is_not_an_error(tmp_path):
    p = write(tmp_path, "m.txt", "Call mum on Sundays.\ncall mum  on sundays.\n")
    assert len(read_memories(p)) == 2  # the store dedupes these


# -- errors --------------------------------------------------------------------------------------------------


def test_invalid_json_names_line_and_json_error(tmp_path):
    p = write(tmp_path, "m.jsonl", '{"text": "a"}\n{"text": "b",}\n')
    assert_error(p, 2, "invalid JSON")
    p = write(tmp_path, "pretty.json", '{\n  "text": "a",\n  oops\n}\n')
    assert_error(p, 3, "invalid JSON")
    p = write(tmp_path, "hello.jsonl", "hello\n")
    assert_error(p, 1, "invalid JSON")


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"id": "x"}, "missing required field 'text'"),
        ({"text": ""}, "'text' is empty"),
        ({"text": "   "}, "'text' is empty"),
        ({"text": 5}, "'text' must be a string"),
        ({"text": "a", "id": 7}, "'id' must be a string"),
        ({"text": "a", "kind": ["semantic"]}, "'kind' must be a string"),
        ({"text": "a", "time": 2023}, "'time' must be a string"),
        ({"text": "a", "kind": "opinion"}, "unknown kind"),
        ({"text": "a", "time": "yesterday"}, "not ISO 8601"),
        ({"text": "a", "time": "2023-13-01T00:00:00Z"}, "not ISO 8601"),
    ],
)
def test_bad_fields(tmp_path, record, fragment):
    p = write(tmp_path, "m.jsonl", jsonl({"text": "fine"}, record))
    assert_error(p, 2, fragment)


def test_not_an_object(tmp_path):
    assert_error(write(tmp_path, "m.jsonl", jsonl({"text": "a"}) + "[1]\n"), 2, "expected a JSON object")


def test_valid_times_accepted(tmp_path):
    times = ["2023-06-01T10:00:00Z", "2023-06-01", "2023-06-01T10:00:00+02:00", "2023-06-01 10:00"]
    p = write(tmp_path, "m.jsonl", jsonl(*({"text": f"t{i}", "time": t} for i, t in enumerate(times))))
    assert [m.time for m in read_memories(p)] == times


def test_non_utf8_reports_line_of_first_bad_byte(tmp_path):
    p = write(tmp_path, "m.jsonl", b'{"text": "ok"}\n{"text": "ok2"}\n{"text": "caf\xe9"}\n\xff\n')
    assert_error(p, 3, "UTF-8")
    p = write(tmp_path, "notes.txt", b"fine\n\xc3(\n")
    assert_error(p, 2, "UTF-8")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    assert_error(write(tmp_path, "m.jsonl", content), 1, "no memories")


def test_line_over_limit(tmp_path):
    long = "x" * (MAX_LINE_BYTES + 1)
    assert_error(write(tmp_path, "m.jsonl", jsonl({"text": "a"}, {"text": long})), 2, "limit")
    assert_error(write(tmp_path, "m.txt", "a\nb\n" + long + "\n"), 3, "limit")
    ok = "y" * (MAX_LINE_BYTES - 20)
    assert read_memories(write(tmp_path, "ok.txt", ok + "\n"))[0].text == ok


def test_duplicate_explicit_ids(tmp_path):
    p = write(tmp_path, "m.jsonl", jsonl({"id": "a", "text": "x"}, {"text": "y"}, {"id": "a", "text": "z"}))
    assert_error(p, 3, "duplicate id 'a'")


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="missing.jsonl"):
        read_memories(tmp_path / "missing.jsonl")


# -- questions -----------------------------------------------------------------------------------------------


def test_questions_parsed_with_defaults(tmp_path):
    p = write(
        tmp_path,
        "q.jsonl",
        jsonl(
            {
                "id": "q1",
                "question": "Where does Dana live?",
                "answers": ["Tromsø", "Tromso"],
                "type": "single-hop",
                "evidence": ["dana-m002"],
            },
            {"question": "Does Dana own a boat?", "answers": ["unknown"], "type": "abstention"},
            {"question": "Capital of France?", "answers": ["Paris"]},
        ),
    )
    q1, q2, q3 = read_questions(p)
    assert q1.id == "q1" and q1.answers == ["Tromsø", "Tromso"] and q1.evidence == ["dana-m002"]
    assert q2.type == "abstention" and q2.evidence == []
    assert q3.type == "single-hop" and q3.id.startswith("q-")
    assert read_questions(p)[2].id == q3.id


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"answers": ["a"]}, "missing required field 'question'"),
        ({"question": "", "answers": ["a"]}, "'question' is empty"),
        ({"question": "q?"}, "missing required field 'answers'"),
        ({"question": "q?", "answers": []}, "non-empty list"),
        ({"question": "q?", "answers": "a"}, "non-empty list"),
        ({"question": "q?", "answers": [1]}, "non-empty strings"),
        ({"question": "q?", "answers": ["a"], "type": "trivia"}, "unknown type"),
        ({"question": "q?", "answers": ["a"], "evidence": "m1"}, "'evidence'"),
        ({"id": "q0", "question": "again?", "answers": ["a"]}, "duplicate id 'q0'"),
    ],
)
def test_question_errors(tmp_path, record, fragment):
    p = write(tmp_path, "q.jsonl", jsonl({"id": "q0", "question": "ok?", "answers": ["a"]}, record))
    assert_error(p, 2, fragment, reader=read_questions)


def test_question_file_errors(tmp_path):
    assert_error(write(tmp_path, "q.jsonl", ""), 1, "no questions", reader=read_questions)
    assert_error(write(tmp_path, "q.jsonl", "\n{oops\n"), 2, "invalid JSON", reader=read_questions)
    assert_error(write(tmp_path, "q.jsonl", b"\n\n\x80\n"), 3, "UTF-8", reader=read_questions)


def test_ids_stable_across_processes(tmp_path):
    p = write(tmp_path, "m.txt", "Dana moved to Tromsø.\n")
    code = "import sys; from memory_lora.ingest import read_memories; print(read_memories(sys.argv[1])[0].id)"
    ids = {
        subprocess.run(
            [sys.executable, "-c", code, str(p)],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert ids == {read_memories(p)[0].id}


def test_deeply_nested_json_is_an_input_error(tmp_path):
    p = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="deep.json"):
        read_memories(p)
    assert_error(write(tmp_path, "deep.jsonl", jsonl({"text": "a"}) + "[" * 5000 + "\n"), 2, "invalid JSON")
