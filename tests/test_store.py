"""Behaviour tests for memory_lora.store: dedupe, order, raw text, user-id safety, adapter versions, persistence."""

from __future__ import annotations

import json
import sqlite3

import pytest

from memory_lora.ingest import read_memories
from memory_lora.records import Memory, stable_memory_id
from memory_lora.store import Store, validate_user


def mem(text, mid=None, **kw):
    return Memory(id=mid or stable_memory_id(text), text=text, **kw)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def test_creates_home_and_database(tmp_path):
    home = tmp_path / "a" / "b"
    with Store(home):
        pass
    assert (home / "store.sqlite").is_file()
    con = sqlite3.connect(home / "store.sqlite")
    assert con.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_add_and_read_in_insertion_order(store):
    texts = ["zebra fact", "apple fact", "mango fact"]
    assert store.add_memories("dana", [mem(t) for t in texts]) == (3, 0)
    assert store.add_memories("dana", [mem("banana fact")]) == (1, 0)
    assert [m.text for m in store.memories("dana")] == [*texts, "banana fact"]
    assert all(m.user == "dana" for m in store.memories("dana"))


def test_dedupe_by_normalized_text(store):
    first = [mem("Dana moved to Tromsø."), mem("Dana likes tea.")]
    assert store.add_memories("dana", first) == (2, 0)
    variants = [
        Memory(id="other-id", text="dana  MOVED to tromsø."),
        mem("  Dana likes\ttea.  "),
        mem("A new fact."),
        mem("a new  FACT."),  # duplicate within the same batch
    ]
    assert store.add_memories("dana", variants) == (1, 3)
    assert [m.text for m in store.memories("dana")] == ["Dana moved to Tromsø.", "Dana likes tea.", "A new fact."]
    # Dedupe is per user.
    assert store.add_memories("erik", first) == (2, 0)


def test_same_id_different_text_is_an_error_and_rolls_back(store):
    store.add_memories("dana", [mem("original", "m1")])
    with pytest.raises(ValueError, match="m1"):
        store.add_memories("dana", [mem("fresh fact"), mem("changed text", "m1")])
    assert [m.text for m in store.memories("dana")] == ["original"]
    assert store.add_memories("dana", [mem("ORIGINAL", "m1")]) == (0, 1)


def test_raw_record_and_fields_round_trip(store, tmp_path):
    text = "Dana  moved to Tromsø  in 2023."
    src = tmp_path / "m.jsonl"
    record = {
        "id": "d1",
        "user": "someone",
        "text": text,
        "time": "2023-06-01T10:00:00Z",
        "kind": "episodic",
        "source": "chat",
        "mood": {"level": 3},
    }
    src.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    store.add_memories("dana", read_memories(src))
    m = store.get_memory("dana", "d1")
    assert m.text.encode("utf-8") == text.encode("utf-8")
    assert (m.time, m.kind, m.source, m.user) == ("2023-06-01T10:00:00Z", "episodic", "chat", "dana")
    assert m.extra == {"mood": {"level": 3}}
    con = sqlite3.connect(store.path)
    raw, thash = con.execute("SELECT raw, text_hash FROM memories WHERE id = 'd1'").fetchone()
    con.close()
    assert json.loads(raw) == record  # the record as given, including its own user field
    assert len(thash) == 64


def test_get_and_delete(store):
    store.add_memories("dana", [mem("a", "m1"), mem("b", "m2")])
    assert store.get_memory("dana", "m2").text == "b"
    assert store.get_memory("dana", "nope") is None
    assert store.get_memory("erik", "m1") is None
    assert store.delete_memory("dana", "m1") is True
    assert store.delete_memory("dana", "m1") is False
    assert [m.id for m in store.memories("dana")] == ["m2"]
    # Deleted text can be added again.
    assert store.add_memories("dana", [mem("a", "m1")]) == (1, 0)


def test_users(store):
    assert store.users() == []
    store.add_memories("erik", [mem("x")])
    store.add_memories("dana", [mem("y")])
    assert store.users() == ["dana", "erik"]
    assert store.memories("nobody") == []


@pytest.mark.parametrize(
    "user", ["../x", "a/b", "", ".hidden", "..", "a..b", "a\\b", "x" * 65, "dana\n", "-dash", "sp ace", None, 5]
)
def test_path_escaping_user_ids_rejected(store, user):
    with pytest.raises(ValueError, match="invalid user id"):
        validate_user(user)
    for call in (
        lambda: store.add_memories(user, [mem("x")]),
        lambda: store.memories(user),
        lambda: store.get_memory(user, "m"),
        lambda: store.delete_memory(user, "m"),
        lambda: store.adapter_dir(user, 1),
        lambda: store.next_adapter_version(user),
        lambda: store.record_adapter(user, 1, "p", {}),
        lambda: store.latest_adapter(user),
        lambda: store.adapters(user),
    ):
        with pytest.raises(ValueError, match="invalid user id"):
            call()
    assert store.users() == []


@pytest.mark.parametrize("user", ["dana", "Dana_2", "a", "user.name-1", "9lives", "x" * 64])
def test_valid_user_ids(store, user):
    assert store.validate_user(user) == user


def test_adapter_versions(store):
    assert store.next_adapter_version("dana") == 1
    assert store.latest_adapter("dana") is None
    assert store.adapter_dir("dana", 1) == store.home / "adapters" / "dana" / "v1"
    store.record_adapter("dana", 1, store.adapter_dir("dana", 1), {"memory_ids": ["m1"], "base_model": "b"})
    assert store.next_adapter_version("dana") == 2
    store.record_adapter("dana", 2, store.adapter_dir("dana", 2), {"memory_ids": ["m1", "m2"]})
    latest = store.latest_adapter("dana")
    assert latest["version"] == 2 and latest["manifest"] == {"memory_ids": ["m1", "m2"]}
    assert latest["path"] == str(store.home / "adapters" / "dana" / "v2") and latest["created_at"]
    assert [a["version"] for a in store.adapters("dana")] == [1, 2]
    assert store.next_adapter_version("erik") == 1
    with pytest.raises(ValueError, match="already recorded"):
        store.record_adapter("dana", 2, "x", {})
    for bad in (0, -1, "1", True):
        with pytest.raises(ValueError, match="version"):
            store.adapter_dir("dana", bad)


def test_next_version_skips_unrecorded_directories(store):
    store.adapter_dir("dana", 3).mkdir(parents=True)
    assert store.next_adapter_version("dana") == 4


def test_manifest_must_be_json(store):
    with pytest.raises(ValueError, match="JSON"):
        store.record_adapter("dana", 1, "p", {"x": object()})
    assert store.latest_adapter("dana") is None


def test_data_persists_across_reopen(tmp_path):
    home = tmp_path / "home"
    with Store(home) as s:
        s.add_memories("dana", [mem("first", "m1"), mem("second", "m2")])
        s.record_adapter("dana", 1, s.adapter_dir("dana", 1), {"k": "v"})
    with Store(home) as s:
        assert [m.id for m in s.memories("dana")] == ["m1", "m2"]
        assert s.latest_adapter("dana")["manifest"] == {"k": "v"}
        assert s.next_adapter_version("dana") == 2
        assert s.add_memories("dana", [mem("FIRST"), mem("third")]) == (1, 1)
        assert s.users() == ["dana"]


def test_newer_schema_refused(tmp_path):
    home = tmp_path / "home"
    Store(home).close()
    con = sqlite3.connect(home / "store.sqlite")
    con.execute("UPDATE schema_version SET version = 99")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="schema version 99"):
        Store(home)
