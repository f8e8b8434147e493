"""Behaviour tests for memory_lora.adapters: versioned, atomic saves with a manifest, verified loads that
reproduce the trained adapter exactly, and refusal of tampered weights.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from memory_lora import adapters
from memory_lora.adapters import (
    CONFIG_FILE,
    MANIFEST_FILE,
    WEIGHTS_FILE,
    build_manifest,
    load_adapter,
    save_adapter_version,
    sha256_file,
    verify_adapter,
)
from memory_lora.records import Example, Memory, stable_memory_id, text_hash
from memory_lora.store import Store
from tests.conftest import fit

USER = "otto"
MEMORIES = [Memory(id=stable_memory_id(t), text=t) for t in ("Otto has a tortoise.", "Otto lives in Wernigerode.")]


@pytest.fixture
def trained(fresh_tiny, tiny_run_config):
    """(peft_model, metrics, config) after a short training run on the tiny model."""
    model, tok = fresh_tiny
    examples = [Example(prompt=f"Question {i} about Otto?", response=f"Answer {i}.", kind="qa") for i in range(8)]
    config = dataclasses.replace(tiny_run_config, train=dataclasses.replace(tiny_run_config.train, epochs=1))
    peft_model, metrics = fit(model, tok, examples, config, progress=False)
    return peft_model, metrics, config


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def manifest_for(config, metrics) -> dict:
    return build_manifest(USER, MEMORIES, "d" * 64, "tiny-base", config.to_dict(), metrics)


def leftovers(store) -> list[str]:
    user_dir = store.home / "adapters" / USER
    return sorted(p.name for p in user_dir.iterdir()) if user_dir.exists() else []


def probe_ids(tokenizer) -> torch.Tensor:
    return tokenizer(["<|im_start|>user\nWhere does Otto live?<|im_end|>\n"], return_tensors="pt",
                     add_special_tokens=False)["input_ids"]


def test_save_writes_complete_versions_with_manifest(trained, store):
    peft_model, metrics, config = trained
    v1, dir1 = save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))
    v2, dir2 = save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))

    assert (v1, v2) == (1, 2)
    assert dir1 == store.home / "adapters" / USER / "v1" and dir2 == store.home / "adapters" / USER / "v2"
    assert leftovers(store) == ["v1", "v2"]  # no temporary directories left behind
    for directory in (dir1, dir2):
        assert {CONFIG_FILE, WEIGHTS_FILE, MANIFEST_FILE} <= {p.name for p in directory.iterdir()}

    manifest = json.loads((dir1 / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["version"] == 1 and manifest["user"] == USER
    assert manifest["weights_sha256"] == sha256_file(dir1 / WEIGHTS_FILE)
    assert manifest["adapter_bytes"] == (dir1 / WEIGHTS_FILE).stat().st_size
    assert manifest["memories"] == [{"id": m.id, "text_sha256": text_hash(m.text)} for m in MEMORIES]
    assert manifest["dataset_sha256"] == "d" * 64
    assert manifest["base_model"] == "tiny-base"
    assert manifest["config"] == config.to_dict()
    assert manifest["metrics"]["examples"] == metrics["examples"] == 8
    assert verify_adapter(dir1) == manifest

    recorded = store.adapters(USER)
    assert [r["version"] for r in recorded] == [1, 2]
    assert recorded[0]["manifest"] == manifest
    assert store.latest_adapter(USER)["path"] == str(dir2)


def test_load_round_trip_reproduces_trained_logits_exactly(trained, store, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    peft_model, metrics, config = trained
    ids = probe_ids(AutoTokenizer.from_pretrained(tiny_model_dir))
    with torch.no_grad():
        expected = peft_model(input_ids=ids).logits
    _, directory = save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))

    fresh = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
    with torch.no_grad():
        base = fresh(input_ids=ids).logits
    loaded = load_adapter(fresh, directory)
    assert not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())
    with torch.no_grad():
        got = loaded(input_ids=ids).logits
    assert torch.equal(got, expected)
    assert not torch.equal(got, base)  # precondition: the adapter matters, so equality above means something


def test_tampered_or_incomplete_adapter_is_refused(trained, store, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    peft_model, metrics, config = trained
    _, directory = save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))
    weights = directory / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one flipped bit in the last tensor's data
    weights.write_bytes(bytes(data))

    with pytest.raises(ValueError, match="does not match the manifest"):
        verify_adapter(directory)
    fresh = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype="float32")
    with pytest.raises(ValueError, match="does not match the manifest"):
        load_adapter(fresh, directory)
    assert not any("lora_" in name for name, _ in fresh.named_modules())  # refused before touching the model

    (directory / CONFIG_FILE).unlink()
    with pytest.raises(ValueError, match="incomplete"):
        verify_adapter(directory)


def test_failed_save_leaves_nothing_behind(trained, store, monkeypatch):
    peft_model, metrics, config = trained

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(peft_model, "save_pretrained", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))
    assert leftovers(store) == []
    assert store.adapters(USER) == []
    assert store.next_adapter_version(USER) == 1


def test_failure_after_weights_are_written_leaves_nothing_behind(trained, store, monkeypatch):
    peft_model, metrics, config = trained

    def broken_hash(path):
        assert (path.parent / WEIGHTS_FILE).exists()  # the temp dir already holds weights at this point
        raise RuntimeError("interrupted")

    monkeypatch.setattr(adapters, "sha256_file", broken_hash)
    with pytest.raises(RuntimeError, match="interrupted"):
        save_adapter_version(peft_model, store, USER, manifest_for(config, metrics))
    assert leftovers(store) == []
    assert store.adapters(USER) == []
