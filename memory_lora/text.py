"""Text rules every layer shares: how a user is named in prompts, and the "I don't know" replies.

The refusals are taught by synthesis (data_synth.abstention), scored as candidate replies by the answer pipeline
(memory_lora.respond) and counted by gate calibration (memory_lora.gate), so all three read them from here. The
bottom layer with memory_lora.records: no project imports, no torch.
"""

from __future__ import annotations

# The reply a gate gives, and the first of the trained refusal wordings.
ABSTAIN_REPLY = "I don't know. You haven't told me that."
# Every trained refusal wording; each opens with "I don't know", which is what `refuses` checks.
REFUSALS = (
    ABSTAIN_REPLY,
    "I don't know; that isn't something you've mentioned to me.",
    "I don't know. I have no memory of that.",
)


def refuses(text: str) -> bool:
    """Whether a reply says "I don't know" (the opening every trained refusal shares)."""
    return text.startswith("I don't know")


def display_name(user: str) -> str:
    """How a user id is written in prompts and synthesized questions ("maya" -> "Maya", "ann_lee" -> "Ann Lee")."""
    return " ".join(part.capitalize() for part in user.replace("_", " ").replace("-", " ").split()) or user
