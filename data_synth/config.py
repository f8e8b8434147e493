"""SynthConfig: how memory text becomes training examples (the `synth` section of a recipe).

data_synth's own settings, so synthesis depends on nothing above the shared records (memory_lora.records,
memory_lora.text). The seed is not here: a run has one seed, handed to synthesis as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

SYNTH_BACKENDS = ("rules", "hf", "openai")


@dataclass
class SynthConfig:
    """Memory text -> training examples."""

    backend: str = "rules"
    """Who writes the examples. "rules": the offline deterministic synthesizer. "hf": a local causal LM writes QA
    pairs (teacher_model = folder or hub id; meant for a GPU and a 7B-class instruct model). "openai": an
    OpenAI-compatible endpoint writes them (URL and key from MEMORY_LORA_TEACHER_URL / MEMORY_LORA_TEACHER_KEY; see
    data_synth/teachers/). A teacher needs a model this machine may not have, hence rules by default."""
    kinds: list[str] | None = None
    """Example kinds to produce (see memory_lora.records.EXAMPLE_KINDS); None = all. Teachers only write "qa"."""
    max_qa_per_memory: int = 40
    """Cap on QA examples per memory (the most varied are kept first). Inferred wordings (data_synth.inferences:
    "address" for a memory's "new place") are kept past it: they are the only ones in words the memory lacks."""
    abstention_per_memory: float = 3.0
    """Refusal ("I don't know") examples per memory (topics, relations, facts about named people and details of
    mentioned things that the memories lack), e.g. 3.0 -> 120 for 40 memories. More of them buy abstention and
    cost answerable questions."""
    abstention_wordings: int = 2
    """Person forms each of those questions is taught in ("Maya's", "the user's", "my"). 2 (was 1) nearly doubles
    the refusals on the same topics; chosen on the dev sets, where both users gained 1-2 of 28 with and without
    the gate and lost no single-hop answer."""
    cot_per_pair: int = 10
    """Most chain-of-thought two-hop examples per pair of memories sharing an entity. 10 (was 6) covers more of
    each pair's slots; with it ravi's multi-hop went 4 -> 6 of 11 (one seed)."""
    min_examples_per_memory: int = 0
    """Least number of training examples per memory: a memory the rules cover thinly (few slots, no update) has its
    examples repeated up to this many (data_synth.balance), since a fact seen less often in training is recalled
    worse in a new wording. 0 = off, the default: over three seeds at 40, ravi's held-out single-hop rose 99 ->
    109 of 117 but the demo's fell 121 -> 116 of 132 and both dev sets fell; configs/min_examples40.yaml turns
    it on."""
    teacher_model: str | None = None
    """Teacher model: hf folder / hub id, or the openai model name (else $MEMORY_LORA_TEACHER_MODEL)."""
    teacher_pairs: int = 8
    """QA pairs asked of the teacher per memory; at most this many valid pairs are kept per memory."""
    teacher_max_new_tokens: int = 512
    """Reply length cap of one teacher call (one call per memory)."""
    teacher_mix: str = "add"
    """"add": teacher examples are added to the rules examples (a teacher may return few valid pairs); "only":
    teacher examples alone."""
    teacher_full: bool = True
    """Besides the short answer, add a full-sentence example per kept pair (the memory sentence as the reply)."""

    def __post_init__(self):
        if self.backend not in SYNTH_BACKENDS:
            raise ValueError(f"synth.backend must be one of {', '.join(SYNTH_BACKENDS)}, got {self.backend!r}")
        if self.max_qa_per_memory < 1:
            raise ValueError(f"synth.max_qa_per_memory must be >= 1, got {self.max_qa_per_memory}")
        if not 1 <= self.abstention_wordings <= 3:
            raise ValueError(f"synth.abstention_wordings must be 1, 2 or 3, got {self.abstention_wordings}")
        if self.abstention_per_memory < 0 or self.cot_per_pair < 0:
            raise ValueError("synth.abstention_per_memory and synth.cot_per_pair must be >= 0")
        if self.min_examples_per_memory < 0:
            raise ValueError(f"synth.min_examples_per_memory must be >= 0, got {self.min_examples_per_memory}")
        allowed = {"qa", "paraphrase", "cloze", "recitation", "temporal", "abstention", "cot"}
        if self.kinds is not None and not set(self.kinds) <= allowed:
            raise ValueError(f"synth.kinds must be among {sorted(allowed)}, got {self.kinds}")
        if self.backend == "hf" and not self.teacher_model:
            raise ValueError("synth.backend 'hf' needs synth.teacher_model (--synth.teacher_model): a model folder or "
                             "hub id")
        if not 1 <= self.teacher_pairs <= 64:
            raise ValueError(f"synth.teacher_pairs must be in [1, 64], got {self.teacher_pairs}")
        if self.teacher_max_new_tokens < 16:
            raise ValueError(f"synth.teacher_max_new_tokens must be >= 16, got {self.teacher_max_new_tokens}")
        if self.teacher_mix not in ("add", "only"):
            raise ValueError(f"synth.teacher_mix must be 'add' or 'only', got {self.teacher_mix!r}")
