"""The configs of eval's commands (`memory-lora eval`, `niah`): plain dataclasses whose fields are the commands'
flags (eval.commands generates them), kept apart from the code that runs them so the CLI starts quickly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from eval.haystack import VARIANTS
from memory_lora.config import METHODS
from memory_lora.recipe import RunConfig
from memory_lora.store import validate_user

NIAH_METHODS = ["parametric", "rag", "long-context", "hybrid"]


def split_list(value: list[str] | str) -> list[str]:
    """A list flag given as a list or as comma-separated text ("parametric,rag")."""
    items = value.split(",") if isinstance(value, str) else value
    return [str(x).strip() for x in items if str(x).strip()]


def bundled_general_probe() -> Path:
    """The bundled general-knowledge probe (eval/data/general.jsonl)."""
    return Path(str(resources.files("eval").joinpath("data/general.jsonl")))


@dataclass
class EvalConfig:
    """What `memory-lora eval` runs."""

    memories: str | None = None
    """Memories file (SPEC section 1); required."""
    questions: str | None = None
    """Questions file (SPEC section 2); required."""
    out: str | None = None
    """Output folder for report.json, report.md, plots, answers.jsonl; required."""
    methods: list[str] | str = field(default_factory=lambda: list(METHODS))
    """Methods to compare (a list, or comma-separated)."""
    general: str | None = "bundled"
    """Forgetting probe questions: bundled (eval/data/general.jsonl), a file, or null to skip."""
    kl: bool = True
    """KL(base || adapter) on the bundled generic prompts (eval/forgetting.py)."""
    run: RunConfig = field(default_factory=RunConfig)
    """The recipe: model / lora / train / synth / answer / gate settings and the seed."""
    user: str | None = None
    """User id; null = the memories' own `user` field when they share one, else "user"."""
    keep_store: str | None = None
    """Store folder to use and keep (dataset, adapter); null = a fresh temporary one, removed afterwards."""
    reuse_adapter: bool = False
    """With keep_store: answer with the adapter already in the store when it was trained on this exact dataset and
    training settings (pipeline.trained_adapter) instead of training again, e.g. to add questions or try another
    answer recipe. An adapter without a calibrated gate is calibrated in the run when the recipe asks for one."""

    def __post_init__(self):
        missing = [f"--{k}" for k in ("memories", "questions", "out") if not getattr(self, k)]
        if missing:
            raise ValueError(f"eval needs {', '.join(missing)}")
        self.methods = split_list(self.methods)
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
        if self.general in ("bundled", "", "none"):
            self.general = str(bundled_general_probe()) if self.general == "bundled" else None
        if self.user is not None:
            validate_user(self.user)
        if self.reuse_adapter and not self.keep_store:
            raise ValueError("reuse_adapter needs a store to reuse (--keep_store DIR)")


def depth_list(spec: str) -> list[float]:
    """'5' -> five evenly spaced depths 0, 25, 50, 75, 100; '0,50,100' -> those depths."""
    if "," not in spec and spec.strip().isdigit():
        k = int(spec)
        if k < 1:
            raise ValueError(f"--depths must be >= 1, got {k}")
        return [0.0] if k == 1 else [round(100.0 * i / (k - 1), 2) for i in range(k)]
    try:
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--depths must be a count or comma-separated percentages, got {spec!r}") from None


@dataclass
class NiahConfig:
    """What `memory-lora niah` runs."""

    out: str
    """Output folder: niah.json, niah.md, niah_<variant>_<method>.png, one eval folder per cell."""
    sizes: list[int] | str = field(default_factory=lambda: [16, 64, 256, 1024])
    """Distractor memories per haystack (a list, or comma-separated)."""
    depths: list[float] | str = field(default_factory=lambda: [0.0, 25.0, 50.0, 75.0, 100.0])
    """Needle depths in percent (a list or comma-separated), or a count of evenly spaced depths ("5")."""
    methods: list[str] | str = field(default_factory=lambda: list(NIAH_METHODS))
    """Methods answering every needle (a list, or comma-separated)."""
    variants: list[str] | str = field(default_factory=lambda: ["single"])
    """Needle variants: single, multi-key, multi-value (eval/haystack.py)."""
    distractors: str = "generator"
    """generator (bundled, eval/haystack.py) or locomo (LoCoMo dialogue turns, needs locomo_zip)."""
    locomo_zip: str | None = None
    """LoCoMo release zip, for distractors locomo."""
    extra_keys: int = 3
    """multi-key: same-template hard distractors per needle."""
    values: int = 3
    """multi-value: values per key (the score is the share of them in the reply)."""
    needles_per_depth: int = 1
    """Distinct needles (own key, own question) per depth; a cell's score is their mean. 1 = the classic grid,
    where a cell is one 0/1 answer; more makes cells less noisy at the cost of answering (and training) more."""
    user: str = "robin"
    """The haystack's user id (display name in questions: "Robin")."""
    general: str | None = None
    """General probe file per adapter (costly); null = skip (KL is still reported)."""
    kl: bool = True
    """KL(base || adapter) for every adapter."""
    run: RunConfig = field(default_factory=RunConfig)
    """The recipe every cell trains and answers with."""

    def __post_init__(self):
        if isinstance(self.sizes, str):
            try:
                self.sizes = [int(x) for x in self.sizes.split(",") if x.strip()]
            except ValueError:
                raise ValueError(f"--sizes must be comma-separated integers, got {self.sizes!r}") from None
        if isinstance(self.depths, str):
            self.depths = depth_list(self.depths)
        self.methods = split_list(self.methods)
        self.variants = split_list(self.variants)
        if not self.sizes or any(n < 1 for n in self.sizes):
            raise ValueError(f"sizes must be positive integers, got {self.sizes}")
        if not self.depths or any(not 0 <= d <= 100 for d in self.depths):
            raise ValueError(f"depths must be percentages within 0-100, got {self.depths}")
        unknown = [m for m in self.methods if m not in METHODS] + [v for v in self.variants if v not in VARIANTS]
        if unknown or not self.methods or not self.variants:
            raise ValueError(f"unknown method(s)/variant(s) {unknown}; methods: {', '.join(METHODS)}; "
                             f"variants: {', '.join(VARIANTS)}")
        if self.needles_per_depth < 1:
            raise ValueError(f"needles_per_depth must be >= 1, got {self.needles_per_depth}")
        if self.distractors not in ("generator", "locomo"):
            raise ValueError(f"distractors must be 'generator' or 'locomo', got {self.distractors!r}")
        if self.distractors == "locomo" and not self.locomo_zip:
            raise ValueError("distractors 'locomo' needs --locomo_zip (the LoCoMo release zip)")
        validate_user(self.user)

    def to_dict(self) -> dict:
        return asdict(self)
