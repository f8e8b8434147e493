"""Behaviour tests for the teacher backends (data_synth.teachers): validation, lenient parsing, the openai backend
against a fake OpenAI-compatible server on 127.0.0.1, the hf backend on the tiny random model, config checks and
dropped counts in dataset stats.

Run: `pytest tests/test_teachers.py -q` (no network; a few seconds).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_synth.config import SynthConfig
from data_synth.dataset import build_dataset, dataset_stats, load_dataset_dir, save_dataset
from data_synth.teachers import FunctionTeacher, TeacherConfigError, get_teacher, synthesize_with_backend
from data_synth.teachers.base import MAX_CONSECUTIVE_ERRORS, TeacherError, parse_pairs, teacher_examples
from data_synth.teachers.openai_teacher import OpenAITeacher
from data_synth.teachers.validate import check_pair, is_grounded, normalize
from memory_lora.cli import main
from memory_lora.recipe import RunConfig
from memory_lora.records import Memory

USER = "Dana"
MEM = Memory(id="d1", text="I moved to Tromsø in 2023 to work at the Polar Kelp Institute.")
MEM2 = Memory(id="d2", text="My sister Ingrid keeps three goats named Pip, Lotte and Brumm.")

# One teacher reply for MEM: 2 good pairs, 1 invented answer, 1 changed year, 1 answer copied into the question,
# 1 duplicate question, 1 item without an answer, 1 question without "?"; wrapped in a fence with prose around it.
REPLY = "Sure! Here are the pairs:\n```json\n" + json.dumps([
    {"question": "Which city did Dana move to?", "answer": "Tromso"},
    {"question": "Where does Dana work?", "answer": "the Polar Kelp Institute"},
    {"question": "Which country did Dana move to?", "answer": "Norway"},
    {"question": "In which year did Dana move?", "answer": "2022"},
    {"question": "Did Dana move to Tromsø?", "answer": "Tromsø"},
    {"question": "Which city did Dana move to?", "answer": "Tromsø"},
    {"question": "What did Dana do?"},
    {"question": "Dana moved in which year", "answer": "2023"},
], ensure_ascii=False) + "\n```\nLet me know if you need more [1]."
REPLY_COUNTS = {"ungrounded": 2, "answer_in_question": 1, "duplicate": 1, "malformed": 2}


# ---- validation --------------------------------------------------------------------------------------------------

def test_normalize_follows_the_scoring_rule():
    assert normalize("The Tromsø-based  Institute!") == "tromso based institute"
    assert normalize("40,917") == normalize("40917")


def test_grounded_answer_is_kept_and_invented_one_dropped():
    assert check_pair("Which city did Dana move to?", "Tromsø", MEM.text, USER) is None
    assert check_pair("Which country did Dana move to?", "Norway", MEM.text, USER) == "ungrounded"


def test_accents_and_articles_do_not_break_grounding():
    assert is_grounded("Tromso", MEM.text)
    assert is_grounded("TROMSØ.", MEM.text)
    assert is_grounded("the Polar Kelp Institute", MEM.text)
    assert is_grounded("Kelp Institute, Polar", MEM.text)  # every content word present counts too


def test_numbers_must_match_exactly():
    assert is_grounded("2023", MEM.text)
    assert not is_grounded("2022", MEM.text)
    assert not is_grounded("Tromsø 2024", MEM.text)  # the place is right, the year is invented
    assert not is_grounded("3", MEM2.text.replace("three", "30"))
    assert not is_grounded("202", MEM.text)


def test_user_name_counts_as_grounded_for_first_person_memories():
    assert is_grounded("Dana", MEM.text, USER)
    assert not is_grounded("Dana", MEM.text)


@pytest.mark.parametrize("question,answer,reason", [
    ("", "Tromsø", "empty"),
    ("Where did Dana move?", "  ", "empty"),
    ("Where did Dana move?", "Tromsø " * 30, "too_long"),
    ("Where did Dana move", "Tromsø", "malformed"),
    ("Did Dana move to Tromso?", "Tromsø", "answer_in_question"),
])
def test_bad_pairs_get_their_reason(question, answer, reason):
    assert check_pair(question, answer, MEM.text, USER) == reason


def test_duplicate_questions_are_dropped():
    seen: set[str] = set()
    assert check_pair("Where did Dana move?", "Tromsø", MEM.text, USER, seen) is None
    assert check_pair("where did Dana move ?", "Tromso", MEM.text, USER, seen) == "duplicate"


# ---- parsing and example building --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,n", [
    ('[{"question": "A?", "answer": "b"}]', 1),
    ('```json\n[{"question": "A?", "answer": "b"}]\n```\nHope this helps [1].', 1),
    ('{"question": "A?", "answer": "b"}\n{"question": "C?", "answer": "d"}', 2),
    ('{"pairs": [{"question": "A?", "answer": "b"}, {"question": "C?", "answer": "d"}]}', 2),
    ('[{"question": "A?", "answer": "b"}, {"question": "C?", "ans', 1),  # cut at the token limit
    ('1. Question: Where did Dana move?\n   Answer: "Tromsø"\n2. Q: When? A: never', 1),
    ("[]", 0),
])
def test_parse_pairs_is_lenient(text, n):
    assert len(parse_pairs(text)) == n


def test_parse_pairs_gives_none_for_prose():
    assert parse_pairs("I am not sure about that.") is None


def test_teacher_examples_keep_valid_pairs_and_count_drops():
    examples, dropped = teacher_examples([MEM], USER, FunctionTeacher("canned", lambda _p: REPLY), SynthConfig())
    assert dropped == Counter(REPLY_COUNTS)
    short = [e for e in examples if e.template == "teacher/canned/short"]
    full = [e for e in examples if e.template == "teacher/canned/full"]
    assert [e.response for e in short] == ["Tromso.", "The Polar Kelp Institute."]
    assert all(e.kind == "qa" and e.memory_ids == ["d1"] for e in examples)
    assert all("Dana moved to Tromsø in 2023" in e.response for e in full)  # the memory sentence, third person


def test_empty_malformed_and_failed_replies_are_counted():
    replies = iter(["", "[]", "I am not sure about that.", RuntimeError("boom")])

    def fn(_prompt):
        reply = next(replies)
        if isinstance(reply, Exception):
            raise reply
        return reply

    mems = [Memory(id=f"m{i}", text=MEM.text) for i in range(4)]
    examples, dropped = teacher_examples(mems, USER, FunctionTeacher("flaky", fn), SynthConfig())
    assert examples == []
    assert dropped == Counter({"empty": 2, "malformed": 1, "error": 1})


def test_a_teacher_that_keeps_failing_stops_synthesis():
    calls = []

    def fn(prompt):
        calls.append(prompt)
        raise TeacherError("HTTP 503")

    mems = [Memory(id=f"m{i}", text=MEM.text) for i in range(10)]
    with pytest.raises(TeacherError, match="failed 3 times in a row"):
        teacher_examples(mems, USER, FunctionTeacher("down", fn), SynthConfig())
    assert len(calls) == MAX_CONSECUTIVE_ERRORS


def test_teacher_pairs_caps_kept_pairs_and_mix_only_drops_rules():
    config = SynthConfig(teacher_pairs=1, teacher_full=False, teacher_mix="only")
    examples, dropped = synthesize_with_backend([MEM], USER, config, teacher=FunctionTeacher("c", lambda _p: REPLY))
    assert [e.template for e in examples] == ["teacher/c/short"]
    assert dropped["over_limit"] == 1
    added, _ = synthesize_with_backend([MEM], USER, SynthConfig(), teacher=FunctionTeacher("c", lambda _p: REPLY))
    assert {e.template.split("/")[0] for e in added} >= {"qa", "teacher"}  # "add": the rules examples stay


# ---- openai backend against a fake endpoint ----------------------------------------------------------------------

class FakeOpenAI:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1 that plays back queued (status, content) replies."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                status, content = fake.replies.pop(0) if fake.replies else (200, "[]")
                payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]} \
                    if status == 200 else {"error": {"message": content}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def teacher_env(monkeypatch):
    monkeypatch.setenv("MEMORY_LORA_TEACHER_KEY", "sk-test-123")
    monkeypatch.setenv("MEMORY_LORA_TEACHER_MODEL", "fake-7b")
    return monkeypatch


def test_openai_backend_keeps_grounded_pairs_and_sends_the_key(teacher_env):
    goats = '[{"question": "How many goats does Ingrid keep?", "answer": "three"},' \
            ' {"question": "Who keeps goats?", "answer": "Dana\'s neighbour"}]'
    with FakeOpenAI([(200, REPLY), (200, goats)]) as fake:
        teacher_env.setenv("MEMORY_LORA_TEACHER_URL", fake.url)
        examples, dropped = synthesize_with_backend([MEM, MEM2], USER, SynthConfig(backend="openai",
                                                                                   teacher_mix="only"))
    assert dropped == {**REPLY_COUNTS, "ungrounded": 3}
    assert len([e for e in examples if e.template.endswith("/short")]) == 3
    assert {e.template.rsplit("/", 1)[0] for e in examples} == {"teacher/openai"}
    assert [r["path"] for r in fake.requests] == ["/v1/chat/completions"] * 2
    assert all(r["auth"] == "Bearer sk-test-123" for r in fake.requests)
    body = fake.requests[0]["body"]
    assert body["model"] == "fake-7b" and body["temperature"] == 0 and "Tromsø" in body["messages"][0]["content"]


def test_openai_backend_retries_after_a_server_error():
    with FakeOpenAI([(500, "overloaded"), (429, "slow down"), (200, "hello")]) as fake:
        teacher = OpenAITeacher(fake.url, "fake-7b", backoff=0.01)
        assert teacher.generate("hi") == "hello"
    assert len(fake.requests) == 3
    assert fake.requests[0]["auth"] is None  # no key configured: no Authorization header


def test_openai_backend_gives_up_after_retries_and_stops_on_auth_errors():
    with FakeOpenAI([(503, "down")] * 3) as fake:
        with pytest.raises(TeacherError, match="HTTP 503"):
            OpenAITeacher(fake.url, "m", retries=2, backoff=0.01).generate("hi")
        assert len(fake.requests) == 3
    with FakeOpenAI([(401, "bad key")] * 3) as fake:
        mems = [MEM, MEM2]
        with pytest.raises(TeacherConfigError, match="HTTP 401"):
            teacher_examples(mems, USER, OpenAITeacher(fake.url, "m", backoff=0.01), SynthConfig())
        assert len(fake.requests) == 1  # not retried, not tried on the next memory


def test_openai_backend_without_url_fails_with_one_line(monkeypatch):
    monkeypatch.delenv("MEMORY_LORA_TEACHER_URL", raising=False)
    with pytest.raises(TeacherConfigError, match="MEMORY_LORA_TEACHER_URL") as err:
        get_teacher(SynthConfig(backend="openai", teacher_model="m"))
    assert "\n" not in str(err.value)


def test_cli_synth_with_openai_backend_reports_drops(teacher_env, tmp_path, capsys):
    memories = tmp_path / "m.jsonl"
    memories.write_text(json.dumps({"id": MEM.id, "text": MEM.text}) + "\n", encoding="utf-8")
    home = str(tmp_path / "home")
    assert main(["--home", home, "ingest", "dana", str(memories)]) == 0
    with FakeOpenAI([(200, REPLY)]) as fake:
        teacher_env.setenv("MEMORY_LORA_TEACHER_URL", fake.url)
        assert main(["--home", home, "synth", "dana", "--backend", "openai", "--synth.teacher_model", "cli-model"]) == 0
    out = capsys.readouterr().out
    assert "teacher output dropped: answer_in_question 1, duplicate 1, malformed 2, ungrounded 2" in out
    assert fake.requests[0]["body"]["model"] == "cli-model"


# ---- hf backend on the tiny random model -------------------------------------------------------------------------

def test_hf_backend_runs_and_drops_garbage(tiny_model_dir):
    config = SynthConfig(backend="hf", teacher_model=str(tiny_model_dir), teacher_max_new_tokens=24,
                         teacher_mix="only")
    teacher = get_teacher(config)
    teacher.device = "cpu"
    examples, dropped = synthesize_with_backend([MEM, MEM2], USER, config, teacher=teacher)
    # The tiny model answers every prompt with one dull sentence: nothing is kept, every reply is counted.
    assert examples == []
    assert sum(dropped.values()) == 2 and set(dropped) <= {"malformed", "empty", "ungrounded"}


def test_hf_backend_with_a_missing_model_is_a_clear_error(tmp_path):
    config = SynthConfig(backend="hf", teacher_model=str(tmp_path / "nope"))
    with pytest.raises(TeacherConfigError, match="cannot load teacher model .*nope") as err:
        synthesize_with_backend([MEM], USER, config)  # not counted as "error" and silently replaced by rules
    assert "\n" not in str(err.value)


def test_hf_model_sources_resolve_to_a_folder_and_gguf_file(tmp_path):
    from data_synth.teachers.hf_teacher import resolve_model

    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    (hf / "extra.gguf").write_bytes(b"")  # a Hugging Face folder loads as one even beside a .gguf
    one = tmp_path / "one"
    one.mkdir()
    (one / "m.Q4.gguf").write_bytes(b"")
    assert resolve_model(str(hf)) == (str(hf), None)
    assert resolve_model(str(one)) == (str(one), "m.Q4.gguf")
    assert resolve_model(str(one / "m.Q4.gguf")) == (str(one), "m.Q4.gguf")
    assert resolve_model("org/some-model") == ("org/some-model", None)  # a hub id
    (one / "n.Q8.gguf").write_bytes(b"")
    with pytest.raises(TeacherConfigError, match="several .gguf files"):
        resolve_model(str(one))
    (tmp_path / "empty").mkdir()
    with pytest.raises(TeacherConfigError, match="neither"):
        resolve_model(str(tmp_path / "empty"))


def test_hf_prompt_keeps_the_template_default_system_turn_unless_given_one():
    from data_synth.teachers.hf_teacher import render_prompt

    class Templated:
        chat_template = "set"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            if any(m["role"] == "system" for m in messages) and self.chat_template == "no system":
                raise ValueError("system role not supported")
            return "|".join(f"{m['role']}:{m['content']}" for m in messages) + "|assistant:"

    tok = Templated()
    assert render_prompt(tok, "Q?") == "user:Q?|assistant:"
    assert render_prompt(tok, "Q?", "") == "system:|user:Q?|assistant:"
    tok.chat_template = "no system"
    assert render_prompt(tok, "Q?", "") == "user:Q?|assistant:"
    tok.chat_template = None
    assert render_prompt(tok, "Q?") == render_prompt(tok, "Q?", "") == "User: Q?\nAssistant:"
    assert render_prompt(tok, "Q?", "Be brief.") == "Be brief.\n\nUser: Q?\nAssistant:"


# ---- config and dataset stats ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    ({"backend": "gpt"}, "synth.backend"),
    ({"backend": "hf"}, "teacher_model"),
    ({"teacher_pairs": 0}, "teacher_pairs"),
    ({"teacher_max_new_tokens": 4}, "teacher_max_new_tokens"),
    ({"teacher_mix": "replace"}, "teacher_mix"),
])
def test_synth_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SynthConfig(**kwargs)


def test_config_file_accepts_teacher_fields():
    config = RunConfig.from_dict({"synth": {"backend": "openai", "teacher_model": "m", "teacher_pairs": 4}})
    assert config.synth.backend == "openai" and config.synth.teacher_pairs == 4
    assert SynthConfig().backend == "rules" and SynthConfig().teacher_mix == "add"


def test_cli_hf_without_teacher_model_exits_2(tmp_path, capsys):
    assert main(["--home", str(tmp_path), "synth", "dana", "--backend", "hf"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "teacher_model" in err


def test_dataset_stats_report_dropped_counts_after_save_and_load(tmp_path):
    ds = build_dataset([MEM], USER, SynthConfig(), teacher=FunctionTeacher("canned", lambda _p: REPLY))
    assert dataset_stats(ds)["dropped"] == REPLY_COUNTS
    save_dataset(ds, tmp_path / "ds")
    assert dataset_stats(load_dataset_dir(tmp_path / "ds"))["dropped"] == REPLY_COUNTS
    assert "teacher/canned/short" in set(ds["template"])
    assert dataset_stats(build_dataset([MEM], USER))["dropped"] == {}
