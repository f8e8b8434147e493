"""Synthesis backends behind one interface: `rules` (offline, default), `hf` (a local causal LM) and `openai` (any
OpenAI-compatible endpoint). Teachers add validated QA pairs to the rules examples (synth.teacher_mix "add") or
replace them ("only").

    from data_synth.teachers import synthesize_with_backend
    examples, dropped = synthesize_with_backend(memories, "Maya", SynthConfig(backend="openai"))

Files: base.py (interface, prompt, parsing, examples), validate.py (grounding and pair checks), hf_teacher.py,
openai_teacher.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from data_synth.config import SynthConfig

if TYPE_CHECKING:
    from memory_lora.records import Example, Memory

__all__ = ["FunctionTeacher", "Teacher", "TeacherConfigError", "TeacherError", "get_teacher",
           "synthesize_with_backend", "teacher_examples"]
# Re-exported from base.py on first use: importing the package must not import its submodules, or
# `python -m data_synth.teachers.base` would run a second copy of a module already in sys.modules.
_FROM_BASE = {"FunctionTeacher", "Teacher", "TeacherConfigError", "TeacherError", "teacher_examples"}


def __getattr__(name: str):
    if name in _FROM_BASE:
        from data_synth.teachers import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_teacher(config: SynthConfig):
    """The teacher for `config.backend`: None for "rules", else an HFTeacher or OpenAITeacher (nothing loaded yet).

    Raises:
        data_synth.teachers.base.TeacherConfigError: openai without MEMORY_LORA_TEACHER_URL or without a model name.
    """
    if config.backend == "rules":
        return None
    if config.backend == "hf":
        from data_synth.teachers.hf_teacher import HFTeacher

        return HFTeacher(config.teacher_model, max_new_tokens=config.teacher_max_new_tokens)
    if config.backend == "openai":
        from data_synth.teachers.openai_teacher import OpenAITeacher

        return OpenAITeacher.from_env(config.teacher_model, max_tokens=config.teacher_max_new_tokens)
    raise ValueError(f"unknown synth.backend {config.backend!r}")


def synthesize_with_backend(memories: Sequence[Memory], user_name: str, config: SynthConfig | None = None,
                            teacher=None, seed: int = 0) -> tuple[list[Example], dict[str, int]]:
    """Examples from the configured backend.

    Args:
        memories: The user's memories.
        user_name: Display name of the user ("Maya").
        config: backend, teacher_* fields, teacher_mix; None = defaults (rules only).
        teacher: Use this teacher instead of the one `config.backend` names (tests, custom backends).
        seed: The rules' seed (teachers decode greedily and take none).

    Returns:
        (examples, dropped): rules examples (unless teacher_mix is "only") followed by the teacher's, and the
        teacher's drop counts by reason (empty for rules).
    """
    from data_synth.rules import synthesize
    from data_synth.teachers.base import teacher_examples

    config = config or SynthConfig()
    memories = list(memories)
    own = teacher is None
    teacher = teacher if teacher is not None else get_teacher(config)
    if teacher is None:
        return synthesize(memories, user_name, config, seed), {}
    wants_qa = config.kinds is None or "qa" in config.kinds
    try:
        taught, dropped = teacher_examples(memories, user_name, teacher, config) if wants_qa else ([], {})
    finally:
        if own and hasattr(teacher, "close"):
            teacher.close()  # free a local teacher model before training needs the memory
    rules = synthesize(memories, user_name, config, seed) if config.teacher_mix == "add" else []
    return rules + taught, dict(sorted(dict(dropped).items()))
