"""Resident per-user adapters on one shared base model: safe loading, reference counts, LRU eviction, hot swap.

Every user's adapter version is loaded under a fresh PEFT adapter name (`a1`, `a2`, ...), never one derived from
the user id, so two users can never share a name (user ids may hold '.', which PEFT names cannot, and mapping
characters would let "a.b" and "a_b" collide). A request pins the (user, version) it resolved on arrival; that
version stays loaded until the request is done, however many newer versions appear meanwhile. A version that is no
longer the user's latest is dropped as soon as nothing pins it; the least recently used ones are dropped beyond
`max_adapters`.

Loading never runs code from the adapter folder: the weights are read once into memory, their sha256 compared with
the manifest the store recorded (and manifest.json), and parsed with safetensors (no pickle, no `.bin` fallback);
adapter_config.json must describe a plain LoRA. Only the batcher's worker thread calls `ensure` and `collect`, so the
model is never changed while a forward pass runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from memory_lora.adapters import CONFIG_FILE, MANIFEST_FILE, WEIGHTS_FILE, calibrated_gate
from memory_lora.store import ADAPTERS_DIR, Store, validate_user

log = logging.getLogger(__name__)

_PLACEHOLDER = "_idle"  # always-present no-op adapter: PEFT ignores adapter_names when no adapter is active
# adapter_config.json settings a plain LoRA may set; every other one must keep PEFT's default, because the others
# import modules (megatron), rewrite base weights at init (pissa, loftq, corda...), replace whole layers
# (modules_to_save) or cannot be mixed in one batch (DoRA). Anything that touches the shared base touches every user.
_FREE_SETTINGS = {"task_type", "peft_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
                  "inference_mode", "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout",
                  "fan_in_fan_out", "use_rslora", "init_lora_weights", "layers_to_transform", "layers_pattern",
                  "rank_pattern", "alpha_pattern", "ensure_weight_tying"}

Key = tuple[str, int]  # (user, version)


class AdapterLoadError(RuntimeError):
    """An adapter version is missing, outside the store, tampered with, or not a plain LoRA."""


@dataclass
class Resident:
    """One adapter version loaded on the model."""

    user: str
    version: int
    name: str  # PEFT adapter name
    nbytes: int  # parameter bytes of its LoRA weights
    load_s: float  # seconds to verify and load it
    gate: float | None = None  # the "I don't know" gate its calibration chose (the store's manifest), None = none


def _read_inside(directory: Path, name: str, root: Path) -> bytes:
    """Read directory/name, refusing symlinks and anything that resolves outside `root`."""
    path = directory / name
    if path.is_symlink() or not path.is_file():
        raise AdapterLoadError(f"{path}: missing or not a regular file")
    if not path.resolve().is_relative_to(root):
        raise AdapterLoadError(f"{path}: resolves outside the store")
    return path.read_bytes()


def _lora_config(raw: bytes):
    """A PEFT LoraConfig from adapter_config.json, refusing anything but a plain LoRA."""
    from peft import LoraConfig

    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AdapterLoadError(f"{CONFIG_FILE}: invalid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("peft_type") != "LORA":
        raise AdapterLoadError(f"{CONFIG_FILE}: not a LoRA adapter")
    defaults = {}
    for f in dataclasses.fields(LoraConfig):
        has_factory = f.default_factory is not dataclasses.MISSING
        defaults[f.name] = f.default_factory() if has_factory else f.default
    unknown = sorted(set(data) - set(defaults))
    if unknown:
        raise AdapterLoadError(f"{CONFIG_FILE}: unknown settings {unknown}")
    refused = sorted(k for k, v in data.items() if k not in _FREE_SETTINGS and v != defaults[k])
    if refused or not isinstance(data.get("init_lora_weights", True), bool):
        raise AdapterLoadError(f"{CONFIG_FILE}: unsupported settings {refused or ['init_lora_weights']}")
    # Set by PEFT itself (peft_type, auto_mapping) or by us (inference_mode); the weights are overwritten anyway.
    data = {k: v for k, v in data.items() if k not in ("peft_type", "auto_mapping", "inference_mode")}
    data["init_lora_weights"] = True
    try:
        return LoraConfig(**data, inference_mode=True)
    except (TypeError, ValueError) as e:
        raise AdapterLoadError(f"{CONFIG_FILE}: {e}") from None


class AdapterRegistry:
    """The adapters resident on one shared base model.

    Args:
        model: The frozen base model; it is wrapped in place (PEFT) until `close`.
        store: The store the adapters come from.
        max_adapters: How many unpinned adapter versions may stay loaded.
    """

    def __init__(self, model, store: Store, max_adapters: int):
        from peft import LoraConfig, get_peft_model

        self.store = store
        self.max_adapters = max_adapters
        self._root = (store.home / ADAPTERS_DIR).resolve()
        self._lock = threading.Lock()  # guards the bookkeeping below; the model itself is touched by one thread only
        self._resident: OrderedDict[Key, Resident] = OrderedDict()  # least recently used first
        self._refs: Counter[Key] = Counter()
        self._latest: dict[str, int] = {}  # newest version seen per user
        self._names = itertools.count(1)
        self.loads = 0
        self.evictions = 0
        # One zero-initialised rank-1 LoRA on a single linear layer keeps an adapter active at all times (changes
        # nothing: lora_B starts at zero, and it is never named in adapter_names).
        linear = next(n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "lm_head" not in n)
        placeholder = LoraConfig(r=1, target_modules=[linear], task_type="CAUSAL_LM")
        self.model = get_peft_model(model, placeholder, adapter_name=_PLACEHOLDER)
        self.model.requires_grad_(False)
        self.model.eval()

    # -- any thread ----------------------------------------------------------------------------------------

    def pin_latest(self, user: str) -> Key | None:
        """Pins the user's latest recorded adapter version for one request; None if the user has none yet."""
        validate_user(user)
        latest = self.store.latest_adapter(user)
        if latest is None:
            return None
        key = (user, int(latest["version"]))
        with self._lock:
            self._refs[key] += 1
            self._latest[user] = max(self._latest.get(user, 0), key[1])
        return key

    def unpin(self, key: Key) -> None:
        """Releases one pin taken by `pin_latest`."""
        with self._lock:
            self._refs[key] -= 1
            if self._refs[key] <= 0:
                del self._refs[key]

    def recorded_gate(self, key: Key) -> float | None:
        """The calibrated gate the store's manifest records for a version (before it is loaded)."""
        record = next((a for a in self.store.adapters(key[0]) if a["version"] == key[1]), None)
        return calibrated_gate(record["manifest"]) if record else None

    def resident(self) -> list[Resident]:
        """The loaded adapter versions, least recently used first."""
        with self._lock:
            return list(self._resident.values())

    # -- the batcher's worker thread only --------------------------------------------------------------------

    def ensure(self, key: Key) -> Resident:
        """Loads a pinned adapter version if it is not resident; returns it (PEFT adapter name, calibrated gate).

        Raises:
            AdapterLoadError: The version cannot be loaded safely.
        """
        with self._lock:
            if key in self._resident:
                self._resident.move_to_end(key)
                return self._resident[key]
        resident = self._load(*key)
        with self._lock:
            self._resident[key] = resident
        return resident

    def collect(self) -> None:
        """Drops unpinned versions that are superseded, then the least recently used ones beyond max_adapters."""
        with self._lock:
            idle = [k for k in self._resident if self._refs[k] <= 0]
            stale = [k for k in idle if k[1] < self._latest.get(k[0], 0)]
            excess = len(self._resident) - len(stale) - self.max_adapters
            fresh = [k for k in idle if k not in stale]
            doomed = [self._resident.pop(k) for k in stale + fresh[: max(0, excess)]]
        for r in doomed:
            self.model.delete_adapter(r.name)
            self.evictions += 1
            log.info("unloaded adapter %s@v%d", r.user, r.version)

    def close(self) -> None:
        """Removes every adapter, giving the base model back unchanged."""
        with self._lock:
            self._resident.clear()
        self.model.unload()

    def _load(self, user: str, version: int) -> Resident:
        import safetensors.torch
        from peft import set_peft_model_state_dict

        t0 = time.perf_counter()
        directory = self.store.adapter_dir(user, version)  # validates user and version; ignores recorded paths
        if directory.is_symlink() or not directory.is_dir() or directory.resolve() != self._root / user / f"v{version}":
            raise AdapterLoadError(f"{directory}: missing, or not a plain directory inside the store")
        record = next((a for a in self.store.adapters(user) if a["version"] == version), None)
        if record is None:
            raise AdapterLoadError(f"{user}@v{version} is not recorded in the store")
        expected = record["manifest"].get("weights_sha256")
        weights = _read_inside(directory, WEIGHTS_FILE, directory.resolve())
        actual = hashlib.sha256(weights).hexdigest()
        try:
            on_disk = json.loads(_read_inside(directory, MANIFEST_FILE, directory.resolve())).get("weights_sha256")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            on_disk = None
        if not expected or actual != expected or on_disk != expected:
            raise AdapterLoadError(f"{directory / WEIGHTS_FILE}: sha256 does not match the manifest")
        config = _lora_config(_read_inside(directory, CONFIG_FILE, directory.resolve()))
        try:
            state = safetensors.torch.load(weights)
        except Exception as e:  # safetensors raises its own error types on corrupt headers
            raise AdapterLoadError(f"{directory / WEIGHTS_FILE}: unreadable ({e})") from None
        if not state or any(".lora_A." not in k and ".lora_B." not in k for k in state):
            raise AdapterLoadError(f"{directory / WEIGHTS_FILE}: holds tensors other than LoRA A/B weights")

        name = f"a{next(self._names)}"
        try:
            self.model.add_adapter(name, config)
            result = set_peft_model_state_dict(self.model, state, adapter_name=name)
            missing = [k for k in result.missing_keys if f".{name}." in k]
            if result.unexpected_keys or missing:
                raise AdapterLoadError(f"{directory}: weights do not fit the base model "
                                       f"({len(result.unexpected_keys)} unexpected, {len(missing)} missing)")
        except AdapterLoadError:
            self._drop(name)
            raise
        except Exception as e:  # e.g. shape mismatches, target modules absent from this base model
            self._drop(name)
            raise AdapterLoadError(f"{directory}: cannot be loaded on this base model ({e})") from None
        self.model.eval()  # new modules start in training mode: their dropout must be off
        # From the file's tensors rather than a walk over every parameter of every resident adapter.
        nbytes = sum(t.numel() * t.element_size() for t in state.values())
        self.loads += 1
        seconds = time.perf_counter() - t0
        log.info("loaded adapter %s@v%d as %s (%d bytes, %.3f s)", user, version, name, nbytes, seconds)
        return Resident(user=user, version=version, name=name, nbytes=nbytes, load_s=seconds,
                        gate=calibrated_gate(record["manifest"]))

    def _drop(self, name: str) -> None:
        if name in self.model.peft_config:
            self.model.delete_adapter(name)
