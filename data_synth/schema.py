"""Training example records produced by every synthesis backend and consumed by memory_lora.train."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

# qa: a question about one slot of a memory, answered short or in a full sentence.
# cloze: the memory with one slot blanked, answered with the slot.
# recitation: "what do you remember about X" style prompts answered with the memory text itself.
# temporal: a question about when something happened, the date taught in several spellings.
# abstention: a question about the user that no memory answers, answered "I don't know".
# cot: a two-hop question across memories sharing an entity, answered with a short reasoning chain.
# replay: generic instructions answered by the frozen base model (added by memory_lora.replay, not by synthesis).
KINDS = ("qa", "cloze", "recitation", "temporal", "abstention", "cot", "replay")


@dataclass(frozen=True)
class Example:
    """One chat-format training example: a user turn and the assistant reply that the loss is taken on.

    Attributes:
        prompt: The user message.
        response: The assistant reply (the only tokens that carry loss).
        kind: One of KINDS.
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
        if self.kind not in KINDS:
            raise ValueError(f"unknown example kind {self.kind!r} (expected one of {KINDS})")
        if not self.prompt.strip() or not self.response.strip():
            raise ValueError("example prompt and response must be non-empty")
        if not self.id:
            digest = hashlib.sha256(f"{self.kind}\x1f{self.prompt}\x1f{self.response}".encode()).hexdigest()[:16]
            object.__setattr__(self, "id", f"{self.kind}-{digest}")

    def to_dict(self) -> dict:
        return asdict(self)
