"""Behaviour tests for API keys (memory_lora.keys, the store's api_keys table) and the `keys` and `serve` commands."""

from __future__ import annotations

import re

import pytest

from memory_lora import keys
from memory_lora.cli import main
from memory_lora.store import STORE_FILE, Store

KEY_RE = re.compile(r"ml-[A-Za-z0-9_-]{43}")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def test_key_maps_to_exactly_its_user_and_only_its_hash_is_stored(store):
    dana, dana2, erik = keys.create_key(store, "dana"), keys.create_key(store, "dana"), keys.create_key(store, "erik")
    assert all(KEY_RE.fullmatch(k) for k in (dana, dana2, erik)) and len({dana, dana2, erik}) == 3
    assert [keys.authenticate(store, k) for k in (dana, dana2, erik)] == ["dana", "dana", "erik"]
    raw = (store.home / STORE_FILE).read_bytes() + b"".join(p.read_bytes() for p in store.home.glob("*-wal"))
    assert dana.encode() not in raw and keys.hash_key(dana).encode() in raw
    assert [k["key_id"] for k in store.api_keys("dana")] == [keys.key_id_of(keys.hash_key(k)) for k in (dana, dana2)]


@pytest.mark.parametrize("candidate", [None, "", "ml-", "ml-" + "A" * 42, "ml-" + "A" * 44, "ml-" + "A" * 42 + "!",
                                       "x" + "A" * 45])
def test_malformed_or_unknown_keys_authenticate_nobody(store, candidate):
    keys.create_key(store, "dana")
    assert keys.authenticate(store, candidate) is None
    assert keys.authenticate(store, "ml-" + "A" * 43) is None  # well-formed but never issued


def test_revoke_by_id_or_key_is_immediate_and_leaves_other_keys(store):
    first, second = keys.create_key(store, "dana"), keys.create_key(store, "dana")
    assert keys.revoke_key(store, keys.key_id_of(keys.hash_key(first)))
    assert keys.authenticate(store, first) is None and keys.authenticate(store, second) == "dana"
    assert keys.revoke_key(store, second) and keys.authenticate(store, second) is None
    assert not keys.revoke_key(store, second)  # already revoked
    assert all(k["revoked_at"] for k in store.api_keys("dana"))


@pytest.mark.parametrize("user", ["../evil", "..", ".hidden", "a/b", "a\\b", "", "x" * 65, "dana\n"])
def test_user_ids_that_could_escape_the_store_are_refused(store, user):
    with pytest.raises(ValueError, match="invalid user id"):
        keys.create_key(store, user)
    with pytest.raises(ValueError):
        store.latest_adapter(user)


def test_keys_commands(tmp_path, capsys):
    home = str(tmp_path / "home")
    assert main(["--home", home, "keys", "create", "dana"]) == 0
    key = capsys.readouterr().out
    assert KEY_RE.fullmatch(key.rstrip("\n")) and key.count("\n") == 1  # the key alone on one line
    key = key.strip()
    with Store(home) as store:
        assert keys.authenticate(store, key) == "dana"
    assert main(["--home", home, "keys", "list", "dana"]) == 0
    listing = capsys.readouterr().out
    assert key not in listing and "active" in listing
    key_id = listing.split()[0]
    assert main(["--home", home, "keys", "revoke", key_id]) == 0
    capsys.readouterr()
    with Store(home) as store:
        assert keys.authenticate(store, key) is None
    assert main(["--home", home, "keys", "revoke", key_id]) == 2
    assert main(["--home", home, "keys", "create", "../evil"]) == 2
    assert "invalid user id" in capsys.readouterr().err


def test_serve_command_maps_flags_to_serve_config(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("memory_lora.server.serve", lambda home, config: seen.update(home=home, config=config))
    argv = ["--home", str(tmp_path), "serve", "--port", "0", "--max_adapters", "3", "--batch_window_ms", "2.5",
            "--mixed_batching", "false", "--max_tokens_cap", "100", "--default_max_tokens", "50", "--base-model", "m"]
    assert main(argv) == 0
    config = seen["config"]
    assert seen["home"] == str(tmp_path)
    assert (config.port, config.max_adapters, config.batch_window_ms, config.mixed_batching) == (0, 3, 2.5, False)
    assert (config.max_tokens_cap, config.default_max_tokens, config.host, config.model.base_model) == \
        (100, 50, "127.0.0.1", "m")
    assert main(["--home", str(tmp_path), "serve", "--default_max_tokens", "600"]) == 2  # over the default cap
