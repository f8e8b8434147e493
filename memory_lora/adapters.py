"""Adapter versions on disk: PEFT format (adapter_config.json + adapter_model.safetensors) plus manifest.json.

A version directory HOME/adapters/USER/vN appears only when complete: it is written under a temporary name in
the same folder and renamed into place. Loading checks the weights against the manifest's sha256 first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from memory_lora.records import Memory, text_hash
from memory_lora.store import Store

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
MANIFEST_FILE = "manifest.json"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(user: str, memories: list[Memory], dataset_hash: str, base_model: str, config: dict,
                   metrics: dict) -> dict:
    """The manifest of SPEC section 6, without the weights hash (added when the weights exist)."""
    return {
        "user": user,
        "memories": [{"id": m.id, "text_sha256": text_hash(m.text)} for m in memories],
        "dataset_sha256": dataset_hash,
        "base_model": base_model,
        "config": config,
        "metrics": metrics,
    }


def save_adapter_version(peft_model, store: Store, user: str, manifest: dict,
                         base_name: str | None = None) -> tuple[int, Path]:
    """Write the model's active adapter as the user's next version, atomically, and record it in the store.

    Args:
        peft_model: The trained PEFT model.
        store: The user's store.
        user: The user id.
        manifest: Everything but the hashes and the version, which are added here.
        base_name: What adapter_config.json names as its base (a hub id or the folder the user gave), instead of
            the local folder the weights were loaded from, which no other machine has.

    Returns:
        (version, directory).
    """
    version = store.next_adapter_version(user)
    final = store.adapter_dir(user, version)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-v{version}-", dir=final.parent))
    try:
        peft_model.save_pretrained(tmp, safe_serialization=True)
        if base_name is not None:
            config_path = tmp / CONFIG_FILE
            adapter_config = json.loads(config_path.read_text(encoding="utf-8"))
            adapter_config["base_model_name_or_path"] = base_name
            config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True), encoding="utf-8")
        weights = tmp / WEIGHTS_FILE
        manifest = {**manifest, "version": version, "weights_sha256": sha256_file(weights),
                    "config_sha256": sha256_file(tmp / CONFIG_FILE), "adapter_bytes": weights.stat().st_size}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.rename(tmp, final)  # fails rather than merging if vN appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    store.record_adapter(user, version, final, manifest)
    return version, final


def calibrated_gate(manifest: dict) -> float | None:
    """The "I don't know" gate training calibrated for an adapter version (manifest "gate"), None when it has none."""
    gate = manifest.get("gate")
    return gate.get("abstain_margin") if isinstance(gate, dict) else None


def read_manifest(directory: str | os.PathLike) -> dict:
    """The manifest.json of an adapter version."""
    return json.loads((Path(directory) / MANIFEST_FILE).read_text(encoding="utf-8"))


def verify_adapter(directory: str | os.PathLike) -> dict:
    """Check that an adapter version is complete and its weights match the manifest; return the manifest.

    Raises:
        ValueError: a file is missing or the weights' sha256 differs from the manifest.
    """
    directory = Path(directory)
    for name in (CONFIG_FILE, WEIGHTS_FILE, MANIFEST_FILE):
        if not (directory / name).is_file():
            raise ValueError(f"{directory}: adapter is incomplete ({name} missing)")
    manifest = read_manifest(directory)
    actual = sha256_file(directory / WEIGHTS_FILE)
    if actual != manifest.get("weights_sha256"):
        raise ValueError(f"{directory / WEIGHTS_FILE}: sha256 {actual[:12]}... does not match the manifest")
    return manifest


def load_adapter(model, directory: str | os.PathLike, adapter_name: str = "default"):
    """Attach a verified adapter version to the base model (PeftModel.from_pretrained), frozen, in eval mode."""
    from peft import PeftModel

    verify_adapter(directory)
    peft_model = PeftModel.from_pretrained(model, str(directory), adapter_name=adapter_name, is_trainable=False)
    peft_model.eval()
    return peft_model
