"""Plain records shared by every stage: memories (SPEC section 1), questions (SPEC section 2), input errors."""

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
