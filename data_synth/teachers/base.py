"""The teacher interface and the backend-independent part of teacher synthesis: prompt, lenient parsing, validation.

A teacher is anything with a `name` and a `generate(prompt) -> str` method (optionally `generate_many(prompts)` for
batched backends and `close()` to free what it loaded). `teacher_examples` asks it once per memory for N QA pairs as
a JSON list, parses the reply leniently (code fences, prose around the JSON, JSON lines), keeps only pairs that pass
data_synth.teachers.validate and counts every drop by reason.

Try it with a canned teacher: `python -m data_synth.teachers.base`.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from data_synth.config import SynthConfig
from data_synth.normalise import third_person_sentences
from data_synth.teachers.validate import check_pair, normalize
from memory_lora.records import Example, Memory

log = logging.getLogger(__name__)

# After this many teacher calls in a row fail, the endpoint or model is taken to be down: stop instead of
# spending minutes of retries per memory and silently training on rules examples alone.
MAX_CONSECUTIVE_ERRORS = 3

PROMPT = """Here is something {user} told their assistant (a personal memory):
"{text}"

Write {n} different question-answer pairs that test whether someone remembers this memory.
Rules:
- Refer to the user as {user}. Vary the wording of the questions.
- Each answer is a short span copied from the memory (a name, place, date, number or thing), not a sentence.
- Never put the answer in the question. Use only facts stated in the memory.
Reply with only a JSON list in this format:
[{{"question": "<question about the memory>?", "answer": "<short answer>"}}]"""


class TeacherError(ValueError):
    """A teacher produced no reply (HTTP failure after retries, generation failure); one-line message.

    A ValueError so that the command line reports it as one line with exit code 2.
    """


class TeacherConfigError(TeacherError):
    """The teacher cannot work at all (missing URL, rejected key, unknown model): stop at once, never retry."""


@runtime_checkable
class Teacher(Protocol):
    """What synthesis needs from a teacher backend."""

    name: str

    def generate(self, prompt: str) -> str:
        """Reply to one user message."""
        ...


class FunctionTeacher:
    """A teacher made from a plain function (tests, custom backends): `FunctionTeacher("mine", fn)`."""

    def __init__(self, name: str, fn: Callable[[str], str]):
        self.name = name
        self._fn = fn

    def generate(self, prompt: str) -> str:
        """Call the wrapped function."""
        return self._fn(prompt)


def build_prompt(memory_text: str, user_name: str, n: int) -> str:
    """The user message asking a teacher for `n` QA pairs about one memory."""
    return PROMPT.format(user=user_name, text=" ".join(memory_text.split()), n=n)


def _strip_fences(text: str) -> str:
    return re.sub(r"```[a-zA-Z]*", "\n", text)


def parse_pairs(text: str) -> list | None:
    """Read the list of QA items out of a teacher reply.

    Accepts a bare JSON list, a list inside a code fence or surrounded by prose, an object wrapping the list
    (`{"pairs": [...]}`), a single object, one object per line, or "Question: ..." / "Answer: ..." lines.

    Args:
        text: The raw reply.

    Returns:
        The items (not yet checked), [] for an empty list, or None when no JSON list or object is found.
    """
    text = _strip_fences(text or "")
    decoder = json.JSONDecoder()
    objects: list = []
    pos = 0
    while True:
        match = re.compile(r"[\[{]").search(text, pos)
        if match is None:
            break
        try:
            value, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            pos = match.start() + 1  # not JSON here (prose like "[see below]"); keep scanning
            continue
        if isinstance(value, list):
            return value  # the first whole list is the answer; later text is the model's commentary
        if isinstance(value, dict):
            wrapped = next((v for v in value.values() if isinstance(v, list)), None)
            if wrapped is not None and not ({"question", "answer"} & {str(k).lower() for k in value}):
                return wrapped
            objects.append(value)
        pos = end
    return objects or _text_pairs(text) or None


# Plain-text fallback for models that ignore the JSON instruction: "Question: ...?" / "Answer: ..." line pairs
# ("Q1." / "A:" and list numbering accepted).
_QA_LINE = re.compile(r"^\s*(?:[-*]|\d+[.)])?\s*\**(q|question|a|answer)\s*\d*\s*\**\s*[:.)-]\s*(.*?)\s*$", re.I)


def _text_pairs(text: str) -> list[dict]:
    pairs, question = [], None
    for line in text.splitlines():
        match = _QA_LINE.match(line)
        if not match:
            continue
        value = match.group(2).strip().strip('*"\'“” ')
        if match.group(1).lower().startswith("q"):
            question = value
        elif question is not None:
            pairs.append({"question": question, "answer": value})
            question = None
    return pairs


def _field(item: dict, name: str) -> str | None:
    for key, value in item.items():
        if str(key).strip().lower() == name:
            if isinstance(value, bool):
                return None
            if isinstance(value, (int, float)):  # "answer": 2019 is a fine answer
                return str(value)
            return value if isinstance(value, str) else None
    return None


def _sentence_for(answer: str, sentences: Sequence[str], memory_text: str) -> str:
    """The memory sentence that holds the answer (third person), else the whole memory."""
    key = normalize(answer)
    for sentence in sentences:
        if key and f" {key} " in f" {normalize(sentence)} ":
            return sentence
    return " ".join(sentences) or memory_text.strip()


def _short(answer: str) -> str:
    answer = " ".join(answer.split())
    answer = answer[:1].upper() + answer[1:]
    return answer if answer[-1:] in ".!?" else answer + "."


def _replies(teacher, prompts: list[str]) -> list[str | Exception]:
    """Every prompt's reply, or the exception its call raised (batched when the teacher supports it)."""
    many = getattr(teacher, "generate_many", None)
    if callable(many):
        # Batched backends are local models: their failures (missing model, out of memory) do not heal on the
        # next memory, so they propagate instead of being counted.
        return list(many(prompts))
    out: list[str | Exception] = []
    consecutive = 0
    for prompt in prompts:
        try:
            out.append(teacher.generate(prompt))
            consecutive = 0
        except TeacherConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - one failed memory must not lose the others' pairs
            log.warning("teacher %s failed: %s", teacher.name, e)
            out.append(e)
            consecutive += 1
            if consecutive >= MAX_CONSECUTIVE_ERRORS:
                raise TeacherError(f"teacher {teacher.name!r} failed {consecutive} times in a row; last error: {e}")\
                    from e
    return out


def teacher_examples(memories: Sequence[Memory], user_name: str, teacher, config: SynthConfig | None = None
                     ) -> tuple[list[Example], Counter]:
    """Ask a teacher for QA pairs about each memory and turn the valid ones into training examples.

    Args:
        memories: The user's memories; one prompt is sent per memory.
        user_name: Display name of the user ("Maya").
        teacher: A Teacher (see the module docstring).
        config: teacher_pairs (pairs asked and kept at most per memory) and teacher_full (also add a
            full-sentence example per pair); None = defaults.

    Returns:
        (examples, dropped): kind "qa" examples with template "teacher/<name>/short" or "teacher/<name>/full" and
        memory_ids [memory id]; dropped counts reasons from validate.REASONS.
    """
    config = config or SynthConfig()
    user = (user_name or "the user").strip() or "the user"
    memories = [m for m in memories if normalize(m.text)]
    replies = _replies(teacher, [build_prompt(m.text, user, config.teacher_pairs) for m in memories])
    examples: list[Example] = []
    dropped: Counter = Counter()
    seen: set[str] = set()
    for mem, reply in zip(memories, replies, strict=True):
        if isinstance(reply, Exception):
            dropped["error"] += 1
            continue
        if not (reply or "").strip():
            dropped["empty"] += 1
            continue
        items = parse_pairs(reply)
        if items is None:
            dropped["malformed"] += 1
            continue
        if not items:
            dropped["empty"] += 1
            continue
        sentences = third_person_sentences(mem.text, user)
        kept = 0
        for item in items:
            question = _field(item, "question") if isinstance(item, dict) else None
            answer = _field(item, "answer") if isinstance(item, dict) else None
            if question is None or answer is None:
                dropped["malformed"] += 1
                continue
            reason = check_pair(question, answer, mem.text, user, seen)
            if reason is None and kept >= config.teacher_pairs:
                reason = "over_limit"
            if reason is not None:
                dropped[reason] += 1
                continue
            kept += 1
            question = " ".join(question.split())
            base = f"teacher/{teacher.name}"
            examples.append(Example(prompt=question, response=_short(answer), kind="qa", memory_ids=[mem.id],
                                    template=f"{base}/short"))
            if config.teacher_full:
                examples.append(Example(prompt=question, response=_sentence_for(answer, sentences, mem.text),
                                        kind="qa", memory_ids=[mem.id], template=f"{base}/full"))
    return examples, dropped


if __name__ == "__main__":
    canned = '```json\n[{"question": "Where did Dana move?", "answer": "Tromso"},' \
             ' {"question": "When did Dana move?", "answer": "2021"}]\n```'
    exs, drops = teacher_examples([Memory(id="m1", text="I moved to Tromsø in 2023.")], "Dana",
                                  FunctionTeacher("canned", lambda _p: canned))
    for ex in exs:
        print(f"{ex.template:24s} Q: {ex.prompt}  A: {ex.response}")
    print("dropped:", dict(drops))
