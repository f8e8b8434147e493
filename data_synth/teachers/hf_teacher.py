"""Teacher backend `hf`: any local causal LM (a Hugging Face folder, a .gguf file or a folder holding one, or a hub id
in the HF cache) answering through its chat template with greedy decoding.

Meant for a GPU and a 7B-class instruct model (bfloat16 on CUDA, spread over the visible GPUs by accelerate); it also
runs on CPU, slowly. The model is loaded once, on the first prompt, and freed by `close()`.

Run on a memories file: `python -m data_synth.teachers.hf_teacher MODEL memory_lora/examples/demo/memories.jsonl Maya`.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from pathlib import Path

from data_synth.teachers.base import TeacherConfigError

log = logging.getLogger(__name__)


def resolve_model(model: str) -> tuple[str, str | None]:
    """(folder or hub id, .gguf file name or None) for a teacher model given as a folder, a .gguf file or a hub id.

    A folder with config.json loads as a Hugging Face folder; one without it must hold exactly one .gguf file.
    Anything that is not a local path is taken for a hub id.
    """
    path = Path(model)
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if not path.is_dir() or (path / "config.json").exists():
        return model, None
    ggufs = sorted(p.name for p in path.glob("*.gguf"))
    if len(ggufs) == 1:
        return model, ggufs[0]
    if ggufs:
        raise TeacherConfigError(f"teacher model folder {model}: several .gguf files ({', '.join(ggufs)}); name one")
    raise TeacherConfigError(f"teacher model folder {model}: neither a Hugging Face model folder (config.json) nor "
                             "a .gguf file")


def render_prompt(tokenizer, user_text: str, system_prompt: str | None = None) -> str:
    """One user turn plus the assistant header, ready for generation.

    Args:
        tokenizer: A Hugging Face tokenizer; its chat template is used when it has one.
        user_text: The user message.
        system_prompt: None keeps the template's default system turn, as the teacher's authors tuned it; "" or a
            text puts an explicit system turn first (dropped when the template rejects a system role).
    """
    messages = [{"role": "user", "content": user_text}]
    with_system = messages if system_prompt is None else [{"role": "system", "content": system_prompt}, *messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(with_system, tokenize=False, add_generation_prompt=True)
        except Exception:  # some templates reject a system role; fall back to the user turn alone
            if system_prompt is None:
                raise
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    system = f"{system_prompt}\n" if system_prompt else ""
    return "\n".join(line for line in (system, f"User: {user_text}") if line) + "\nAssistant:"


class HFTeacher:
    """A local transformers model as a teacher.

    Args:
        model: Folder, .gguf file, folder holding one .gguf file, or hub id (hub ids need network or a warm cache;
            HF_HUB_OFFLINE is honoured). A .gguf is de-quantized in memory on every load.
        max_new_tokens: Reply length cap per memory.
        device: "auto" (cuda when available, else cpu), "cpu", "cuda" or "cuda:N".
        batch_size: Prompts per generate call; replies are left-padded so batching does not change them much
            in fp32 (bf16 kernels may differ slightly between batch sizes).
        system_prompt: The system turn of every prompt; None = the template's default (see `render_prompt`).
    """

    name = "hf"

    def __init__(self, model: str, max_new_tokens: int = 512, device: str = "auto", batch_size: int = 4,
                 system_prompt: str | None = None):
        if not model:
            raise ValueError("the hf teacher needs synth.teacher_model (a model folder or hub id)")
        self.model_id = model
        self.max_new_tokens = max_new_tokens
        self.device = device
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self._model = None
        self._tokenizer = None

    def _load(self):
        if self._model is not None:
            return self._model, self._tokenizer
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path, gguf_file = resolve_model(self.model_id)
        cuda = torch.cuda.is_available() and self.device != "cpu"
        kwargs = {"dtype": torch.bfloat16 if cuda else torch.float32}
        if cuda and self.device == "auto":
            kwargs["device_map"] = "auto"  # accelerate places a model larger than one GPU across all of them
        source = {"gguf_file": gguf_file} if gguf_file else {}
        log.info("loading teacher model %s%s", path, f" ({gguf_file})" if gguf_file else "")
        try:
            model = AutoModelForCausalLM.from_pretrained(path, **source, **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(path, **source)
        except (OSError, ImportError) as e:  # missing folder / not in the offline cache / no gguf package: one line
            raise TeacherConfigError(f"cannot load teacher model {self.model_id!r}: {str(e).splitlines()[0]}") from None
        if "device_map" not in kwargs:
            model.to(self.device if self.device != "auto" else ("cuda" if cuda else "cpu"))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.requires_grad_(False)
        model.eval()
        self._model, self._tokenizer = model, tokenizer
        return model, tokenizer

    def _stop_ids(self, model, tokenizer) -> list[int]:
        # Chat models often end a turn on a token other than tokenizer.eos_token (Llama 3: <|eot_id|>); their
        # generation_config lists every such token. Stopping on all of them saves running to max_new_tokens.
        ids = model.generation_config.eos_token_id
        ids = list(ids) if isinstance(ids, (list, tuple)) else ([ids] if ids is not None else [])
        return sorted({*ids, tokenizer.eos_token_id} - {None})

    def generate_many(self, prompts: list[str]) -> list[str]:
        """Greedy replies to several user messages, in order."""
        import torch

        model, tokenizer = self._load()
        stop = self._stop_ids(model, tokenizer)
        device = next(model.parameters()).device
        rendered = [render_prompt(tokenizer, p, self.system_prompt) for p in prompts]
        out: list[str] = []
        old_side, tokenizer.padding_side = tokenizer.padding_side, "left"  # continue from the right edge
        try:
            for start in range(0, len(rendered), self.batch_size):
                enc = tokenizer(rendered[start : start + self.batch_size], return_tensors="pt", padding=True,
                                add_special_tokens=False).to(device)
                with torch.inference_mode():
                    ids = model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, top_p=None,
                                         top_k=None, temperature=None, eos_token_id=stop,
                                         pad_token_id=tokenizer.pad_token_id)
                out += tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        finally:
            tokenizer.padding_side = old_side
        return [text.strip() for text in out]

    def generate(self, prompt: str) -> str:
        """Greedy reply to one user message."""
        return self.generate_many([prompt])[0]

    def close(self) -> None:
        """Free the model (a 7B teacher must not share the GPU with the LoRA training that follows)."""
        self._model = self._tokenizer = None
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


if __name__ == "__main__":
    from data_synth.teachers.base import teacher_examples
    from memory_lora.records import Memory

    if len(sys.argv) != 4:
        sys.exit("usage: python -m data_synth.teachers.hf_teacher MODEL MEMORIES.jsonl USER_NAME")
    with open(sys.argv[2], encoding="utf-8") as f:
        rows = [json.loads(x) for x in f if x.strip()]
    mems = [Memory(id=d.get("id", str(i)), text=d["text"]) for i, d in enumerate(rows)]
    teacher = HFTeacher(sys.argv[1])
    exs, drops = teacher_examples(mems, sys.argv[3], teacher)
    for ex in exs:
        print(f"[{ex.memory_ids[0]}] {ex.template:20s} Q: {ex.prompt}  A: {ex.response}")
    print(f"{len(exs)} examples; dropped {dict(drops)}", file=sys.stderr)
