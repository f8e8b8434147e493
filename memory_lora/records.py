"""Plain records shared by every stage: memories (SPEC section 1), questions (SPEC section 2), training examples,
input errors. The bottom layer: imported by everything, imports nothing of the project (and no torch)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field

MEMORY_KINDS = ("episodic", "semantic", "procedural")
QUESTION_TYPES = (
    "single-hop",
    "multi-hop",
    "temporal",
    "knowledge-update",
    "abstention",
    "preference",
    "general",
)


class InputError(ValueError):
    """Bad user input. The message is one line naming the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


def normalize_text(text: str) -> str:
    """Normalization used for dedup and stable ids: NFKC, casefold, collapsed whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", text).strip()


def text_hash(text: str) -> str:
    """sha256 hex of the raw text (what manifests record)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_memory_id(text: str) -> str:
    """Id derived from the normalized text, stable across runs and machines."""
    return "m-" + hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Memory:
    """One raw memory, kept exactly as given.

    Attributes:
        id: Unique id within a user; derived from the text when the input has none.
        text: The memory text, never rewritten.
        user: Owner, if the input names one (the store's user wins).
        time: ISO 8601 timestamp, optional.
        kind: episodic | semantic | procedural.
        source: Free-form origin ("chat", "note", a file name, ...).
        extra: Any other keys of the input record, kept so nothing given is lost.
    """

    id: str
    text: str
    user: str | None = None
    time: str | None = None
    kind: str = "semantic"
    source: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        return {**{k: v for k, v in d.items() if v is not None}, **extra}


@dataclass(frozen=True)
class Question:
    """One evaluation question (SPEC section 2).

    Attributes:
        extra: Any other keys of the input record (e.g. LoCoMo's ``category``), kept so nothing given is lost.
    """

    id: str
    question: str
    answers: list[str]
    type: str = "single-hop"
    evidence: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        return {**d, **d.pop("extra")}


# qa: a question about one slot of a memory, answered short or in a full sentence.
# cloze: the memory with one slot blanked, answered with the slot.
# recitation: "what do you remember about X" style prompts answered with the memory text itself.
# temporal: a question about when something happened, the date taught in several spellings.
# abstention: a question about the user that no memory answers, answered "I don't know".
# cot: a two-hop question across memories sharing an entity, answered with a short reasoning chain.
# replay: generic instructions answered by the frozen base model (added by memory_lora.replay, not by synthesis).
EXAMPLE_KINDS = ("qa", "cloze", "recitation", "temporal", "abstention", "cot", "replay")


@dataclass(frozen=True)
class Example:
    """One chat-format training example: a user turn and the assistant reply that the loss is taken on.

    Attributes:
        prompt: The user message.
        response: The assistant reply (the only tokens that carry loss).
        kind: One of EXAMPLE_KINDS.
        memory_ids: Ids of the memories this example was written from (empty for replay).
        template: Name of the rule or teacher that produced it, for counts and ablations.
        id: Stable id derived from the content.
    """

    prompt: str
    response: str
    kind: str
    memory_ids: list[str] = field(default_factory=list)
    template: str = ""
    id: str = ""

    def __post_init__(self):
        if self.kind not in EXAMPLE_KINDS:
            raise ValueError(f"unknown example kind {self.kind!r} (expected one of {EXAMPLE_KINDS})")
        if not self.prompt.strip() or not self.response.strip():
            raise ValueError("example prompt and response must be non-empty")
        if not self.id:
            digest = hashlib.sha256(f"{self.kind}\x1f{self.prompt}\x1f{self.response}".encode()).hexdigest()[:16]
            object.__setattr__(self, "id", f"{self.kind}-{digest}")

    def to_dict(self) -> dict:
        return asdict(self)
