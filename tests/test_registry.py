"""Behaviour tests for the server's adapter registry: loads only verified LoRA safetensors from inside the store,
keeps a pinned version answering after a newer one arrives, and bounds the resident set (LRU)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3

import pytest
import torch
from secret_adapters import QUESTION, make_secrets, publish, train_secret
from transformers import AutoTokenizer

from memory_lora.adapters import CONFIG_FILE, MANIFEST_FILE, WEIGHTS_FILE, save_adapter_version
from memory_lora.prompts import chat_prompt
from memory_lora.server.registry import AdapterLoadError, AdapterRegistry
from memory_lora.store import Store

USERS = ("ann", "bob", "cyd")


@pytest.fixture(scope="module")
def trained(tiny_model_dir):
    """(tokenizer, {user: (secret, peft model)}) plus a second version for ann."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    secrets = make_secrets(len(USERS) + 1, seed=7)
    models = {u: (s, train_secret(tiny_model_dir, tokenizer, s, seed=i)) for i, (u, s) in enumerate(zip(USERS, secrets,
                                                                                                       strict=False))}
    models["ann@v2"] = (secrets[-1], train_secret(tiny_model_dir, tokenizer, secrets[-1], seed=11))
    return tokenizer, models


@pytest.fixture
def store(tmp_path, trained):
    _, models = trained
    with Store(tmp_path / "home") as s:
        for user in USERS:
            publish(s, user, models[user][1])
        yield s


@pytest.fixture
def registry(fresh_tiny, store):
    reg = AdapterRegistry(fresh_tiny[0], store, max_adapters=2)
    yield reg
    reg.close()


def replies(registry, tokenizer, names: list[str]) -> list[str]:
    """Greedy replies to QUESTION, one row per adapter name, all in one mixed batch."""
    enc = tokenizer([chat_prompt(tokenizer, QUESTION, "")] * len(names), return_tensors="pt",
                    add_special_tokens=False)
    with torch.inference_mode():
        out = registry.model.generate(**enc, adapter_names=names, max_new_tokens=10, do_sample=False,
                                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return [tokenizer.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True) for row in out]


def test_mixed_batch_rows_get_their_own_adapter(registry, trained):
    tokenizer, models = trained
    names = [registry.ensure(registry.pin_latest(u)).name for u in USERS]
    assert len(set(names)) == 3
    order = [names[2], "__base__", names[0], names[1], names[0]]
    got = replies(registry, tokenizer, order)
    assert [got[0], got[2], got[3], got[4]] == [models["cyd"][0], models["ann"][0], models["bob"][0], models["ann"][0]]
    assert not any(models[u][0] in got[1] for u in USERS)  # the base row carries no secret


def test_pinned_version_keeps_answering_until_released(registry, store, trained):
    tokenizer, models = trained
    old_key = registry.pin_latest("ann")
    old = registry.ensure(old_key).name
    assert publish(store, "ann", models["ann@v2"][1]) == 2
    new_key = registry.pin_latest("ann")
    new = registry.ensure(new_key).name
    registry.collect()
    assert new_key == ("ann", 2) and new != old
    # An in-flight request started on v1 finishes on v1 while new requests get v2.
    assert replies(registry, tokenizer, [old, new]) == [models["ann"][0], models["ann@v2"][0]]
    registry.unpin(old_key)
    registry.collect()
    assert [(r.user, r.version) for r in registry.resident()] == [("ann", 2)]
    assert old not in registry.model.peft_config


def test_lru_bound_never_drops_pinned_adapters(registry):
    keys = [registry.pin_latest(u) for u in USERS]
    for key in keys:
        registry.ensure(key)
    registry.collect()
    assert len(registry.resident()) == 3  # all pinned: over max_adapters=2, nothing dropped
    for key in keys:
        registry.unpin(key)
    registry.ensure(keys[0])  # ann becomes the most recently used
    registry.collect()
    assert [r.user for r in registry.resident()] == ["cyd", "ann"] and registry.evictions == 1
    assert registry.loads == 3  # ann was still resident: no reload


def _expect_refused(registry, user: str, match: str):
    key = registry.pin_latest(user)
    with pytest.raises(AdapterLoadError, match=match):
        registry.ensure(key)
    assert registry.resident() == [] and registry.loads == 0


def test_tampered_weights_are_refused(registry, store):
    weights = store.adapter_dir("ann", 1) / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    _expect_refused(registry, "ann", "sha256")


def test_rewritten_manifest_json_does_not_help(registry, store):
    """The store's own copy of the manifest is the reference, so editing manifest.json next to the weights fails."""
    directory = store.adapter_dir("ann", 1)
    data = bytearray((directory / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (directory / WEIGHTS_FILE).write_bytes(bytes(data))
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest["weights_sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))
    _expect_refused(registry, "ann", "sha256")


def test_version_directory_symlinked_outside_the_store_is_refused(registry, store, tmp_path):
    directory = store.adapter_dir("ann", 1)
    outside = tmp_path / "outside"
    shutil.move(directory, outside)
    os.symlink(outside, directory)
    _expect_refused(registry, "ann", "inside the store")


def test_pickle_only_adapter_is_never_loaded(registry, store):
    directory = store.adapter_dir("ann", 1)
    (directory / WEIGHTS_FILE).unlink()
    (directory / "adapter_model.bin").write_bytes(b"\x80\x04not really a pickle")
    _expect_refused(registry, "ann", "missing")


@pytest.mark.parametrize("setting", [{"use_dora": True}, {"modules_to_save": ["lm_head"]},
                                     {"init_lora_weights": "pissa"}, {"megatron_config": {"x": 1}},
                                     {"peft_type": "IA3"}, {"surprise": 1}])
def test_configs_beyond_plain_lora_are_refused(registry, store, setting):
    path = store.adapter_dir("ann", 1) / CONFIG_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), **setting}))
    _expect_refused(registry, "ann", CONFIG_FILE)


def test_adapter_carrying_base_weights_is_refused(fresh_tiny, store, trained):
    """PEFT saves the whole tied lm_head next to an lm_head LoRA; loading it would overwrite every user's base."""
    _, models = trained
    save_adapter_version(models["bob"][1], store, "dan", {"user": "dan"})  # PEFT's default save, manifest correct
    registry = AdapterRegistry(fresh_tiny[0], store, max_adapters=2)
    try:
        _expect_refused(registry, "dan", "other than LoRA")
    finally:
        registry.close()


def test_recorded_path_is_ignored_and_user_ids_are_validated(registry, store):
    with sqlite3.connect(store.path) as con:  # a path column pointing elsewhere must not matter
        con.execute("UPDATE adapters SET path = '/etc' WHERE user = 'bob'")
    registry.ensure(registry.pin_latest("bob"))
    assert [r.user for r in registry.resident()] == ["bob"]
    for user in ("../ann", "ann/../../x", ".."):
        with pytest.raises(ValueError, match="invalid user id"):
            registry.pin_latest(user)
