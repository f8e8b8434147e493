"""The product's steps as library calls: ingest -> synth -> train (+ gate calibration) -> ask. The CLI, the
server and `eval` call these; this is the orchestration layer, the one place synthesis meets training and answering.

Datasets live at HOME/datasets/USER/<key>/ where the key hashes the memories, the synthesis config and the seed, so
`train` re-uses what `synth` wrote for the same memories and re-synthesizes when memories changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import datasets

from data_synth.dataset import build_dataset, dataset_stats, load_dataset_dir, save_dataset
from data_synth.dataset import preview as dataset_preview
from data_synth.heldout import held_out_abstention
from memory_lora import __version__
from memory_lora.adapters import build_manifest, calibrated_gate, load_adapter, save_adapter_version
from memory_lora.answer import Answerer
from memory_lora.base_model import base_identity, cache_root, describe, hub_name, load_base, local_model_path
from memory_lora.gate import calibrate
from memory_lora.ingest import read_memories
from memory_lora.recipe import RunConfig, training_identity
from memory_lora.records import Example, Memory, text_hash
from memory_lora.replay import mix_replay, replay_pool
from memory_lora.store import Store
from memory_lora.text import display_name
from memory_lora.train import train_lora

log = logging.getLogger(__name__)


def ingest(home: str | Path, user: str, files: list[str | Path]) -> dict:
    """Read memory files (all validated before anything is stored) and add them to the user's store.

    Returns:
        {"added": n, "skipped": n (duplicates), "files": n}.
    """
    memories: list[Memory] = []
    for path in files:
        memories.extend(read_memories(path))
    with Store(home) as store:
        added, skipped = store.add_memories(user, memories)
    return {"added": added, "skipped": skipped, "files": len(files)}


def user_memories(home: str | Path, user: str) -> list[Memory]:
    """The user's stored memories; a clear error when there are none."""
    with Store(home) as store:
        memories = store.memories(user)
    if not memories:
        raise ValueError(f"user {user!r} has no memories in {home}; run `memory-lora ingest {user} FILE` first")
    return memories


def _dataset_key(memories: list[Memory], config: RunConfig, name: str) -> str:
    payload = [name, asdict(config.synth), config.seed, [(m.id, text_hash(m.text), m.time) for m in memories]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def dataset_hash(ds: datasets.Dataset) -> str:
    """sha256 over the dataset rows, for manifests."""
    digest = hashlib.sha256()
    for row in ds.to_list():
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def synth(home: str | Path, user: str, config: RunConfig) -> dict:
    """Synthesize (or re-use) the user's training dataset from their stored memories.

    Returns:
        {"path", "seconds", "examples", "by_kind", "by_memory", "dataset_sha256", "reused"}.
    """
    memories = user_memories(home, user)
    name = display_name(user)
    directory = Path(home) / "datasets" / user / _dataset_key(memories, config, name)
    stats_file = directory / "stats.json"
    if stats_file.exists():
        return {**json.loads(stats_file.read_text(encoding="utf-8")), "path": str(directory), "reused": True}
    start = time.perf_counter()
    ds = build_dataset(memories, name, config.synth, seed=config.seed)
    seconds = time.perf_counter() - start
    stats = {**dataset_stats(ds), "seconds": round(seconds, 3), "dataset_sha256": dataset_hash(ds),
             "backend": config.synth.backend}
    save_dataset(ds, directory / "data")
    tmp = stats_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(stats_file)
    return {**stats, "path": str(directory), "reused": False}


def preview(dataset_dir: str | Path, n: int) -> str:
    """N sample examples of every kind from a dataset directory written by `synth`."""
    return dataset_preview(load_dataset_dir(Path(dataset_dir) / "data"), n)


def _examples(ds: datasets.Dataset) -> list[Example]:
    return [Example(prompt=r["prompt"], response=r["response"], kind=r["kind"], memory_ids=list(r["memory_ids"]),
                    template=r["template"], id=r["id"]) for r in ds.to_list()]


def calibration_questions(memories: list[Memory], user: str, config: RunConfig, train_prompts: list[str]) -> list[str]:
    """config.gate.questions unanswerable questions held out of the training data (data_synth.heldout)."""
    questions = held_out_abstention(memories, display_name(user), config.synth, config.gate.questions, train_prompts,
                                    seed=config.seed)
    if len(questions) < config.gate.questions:
        log.warning("only %d held-out abstention questions could be synthesized (asked for %d)", len(questions),
                    config.gate.questions)
    return questions


def calibrate_gate(answerer_: Answerer, memories: list[Memory], user: str, config: RunConfig,
                   train_prompts: list[str]) -> tuple[dict | None, list[dict]]:
    """Choose the adapter's "I don't know" gate on held-out unanswerable questions (memory_lora.gate).

    Returns:
        (the manifest's gate record, or None when calibration is off or no question could be synthesized; the
        calibration answers).
    """
    if config.gate.questions <= 0:
        return None, []
    questions = calibration_questions(memories, user, config, train_prompts)
    if not questions:
        return None, []
    record, answers = calibrate(answerer_, questions, config.gate)
    log.info("gate calibrated on %d questions: abstain_margin %s", len(questions), record["abstain_margin"])
    return record, answers


def train(home: str | Path, user: str, config: RunConfig, progress: bool = True) -> dict:
    """Train a new adapter version for the user on their dataset plus replay, calibrate its gate, publish it.

    Returns:
        {"version", "path", "train": train metrics incl. adapter_bytes and memories, "synth": synth stats,
        "gate": the calibration record or None, "gate_answers": the calibration answers}.
    """
    memories = user_memories(home, user)
    synth_stats = synth(home, user, config)
    ds = load_dataset_dir(Path(synth_stats["path"]) / "data")
    memory_examples = _examples(ds)
    model, tokenizer = load_base(config.model)
    base_key = local_model_path(config.model)
    pool = replay_pool(model, tokenizer, base_key, config.model.system_prompt, cache_root(config.model)) \
        if config.train.replay_ratio > 0 else []
    examples = mix_replay(memory_examples, pool, config.train.replay_ratio, config.seed)
    peft_model, metrics = train_lora(model, tokenizer, examples, config.lora, config.train, config.model,
                                     seed=config.seed, progress=progress)
    try:
        metrics["memories"] = len(memories)
        metrics["replay_examples"] = len(examples) - len(memory_examples)
        answerer_ = Answerer(peft_model, tokenizer, memories, display_name(user), config.answer,
                             config.model.system_prompt)
        t0 = time.perf_counter()
        gate, gate_answers = calibrate_gate(answerer_, memories, user, config, list(ds["prompt"]))
        if gate is not None:
            gate["seconds"] = round(time.perf_counter() - t0, 2)
        manifest = build_manifest(user, memories, synth_stats["dataset_sha256"], describe(config.model),
                                  config.to_dict(), metrics)
        manifest.update(memory_lora_version=__version__, base=base_identity(config.model), gate=gate)
        with Store(home) as store:
            version, path = save_adapter_version(peft_model, store, user, manifest, base_name=hub_name(config.model))
    finally:
        peft_model.unload()  # give the cached base model back without LoRA layers
    metrics["adapter_bytes"] = (path / "adapter_model.safetensors").stat().st_size
    return {"version": version, "path": str(path), "train": metrics, "synth": synth_stats, "gate": gate,
            "gate_answers": gate_answers}


def trained_adapter(home: str | Path, user: str, config: RunConfig) -> dict | None:
    """The user's latest adapter when it was trained on exactly today's dataset and settings, else None.

    Lets `eval --keep_store DIR --reuse_adapter true` answer new questions with an adapter trained earlier, without
    training again; anything that would change the weights (memories, synthesized data, model, LoRA, training
    settings) must match the manifest. Returns what `train` returns.
    """
    with Store(home) as store:
        latest = store.latest_adapter(user)
    if latest is None:
        return None
    manifest = latest["manifest"]
    synth_stats = synth(home, user, config)
    wanted = json.loads(json.dumps(config.to_dict()))  # as the manifest stores it (tuples become lists)
    same = manifest.get("dataset_sha256") == synth_stats["dataset_sha256"] and \
        training_identity(manifest.get("config", {})) == training_identity(wanted)
    if not same:
        return None
    metrics = {**manifest["metrics"], "adapter_bytes": manifest.get("adapter_bytes"), "reused": True}
    return {"version": latest["version"], "path": str(latest["path"]), "train": metrics, "synth": synth_stats,
            "gate": manifest.get("gate"), "gate_answers": []}


def answerer(home: str | Path, user: str, config: RunConfig, need_adapter: bool = True) -> Answerer:
    """An Answerer for the user: base model plus their latest adapter (verified) when one exists."""
    memories = user_memories(home, user)
    model, tokenizer = load_base(config.model)
    with Store(home) as store:
        latest = store.latest_adapter(user)
    gate = None
    if latest is not None:
        model = load_adapter(model, latest["path"])
        gate = calibrated_gate(latest["manifest"])
    elif need_adapter:
        raise ValueError(f"user {user!r} has no adapter yet; run `memory-lora train {user}` first")
    return Answerer(model, tokenizer, memories, display_name(user), config.answer, config.model.system_prompt,
                    calibrated_gate=gate)


def release(answerer_: Answerer) -> None:
    """Detach the adapter so the process-wide cached base model is clean again."""
    if answerer_.has_adapter:
        answerer_.model.unload()
