"""LoCoMo (Maharana et al., ACL 2024) -> memory_lora files: one folder per conversation with memories.jsonl and
questions.jsonl in the SPEC sections 1-2 formats.

Run: memory-lora import-locomo /work/shared/benchmarks/locomo/locomo10.zip --out locomo --track observations

Two memory tracks:

- ``observations``: the dataset's per-session extracted facts (``session_N_observation``), one memory each;
- ``turns``: the raw dialogue turns, one memory each, image captions appended.

Every memory text starts with its session date ("On 8 May 2023, ..."), because the answering methods never see the
``time`` field and LoCoMo's temporal questions (category 2) ask for dates; ``time`` holds the same date as ISO 8601.
Questions keep their ``category`` number; category 5 (adversarial) becomes an ``abstention`` question with answers
``["unknown"]`` (the right reply is that it is not known), and the dataset's ``adversarial_answer`` is kept.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from eval.files import write_jsonl
from memory_lora.records import InputError

TRACKS = ("observations", "turns")
# LoCoMo category -> SPEC question type. Harnesses disagree on the names of 1 and 4 (Mem0: 1 multi-hop, 4
# single-hop); reports group by the category number, which every record keeps.
CATEGORY_TYPES = {1: "multi-hop", 2: "temporal", 3: "multi-hop", 4: "single-hop", 5: "abstention"}
_DATE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*([ap]m)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})\s*$", re.I)


@dataclass
class LocomoConfig:
    """What `memory-lora import-locomo` does."""

    zip_path: str
    """The LoCoMo release zip (data/multimodal_dialog/locomo10_v2/<id>.json inside)."""
    out: str
    """Output folder; gets one sub-folder conv-<id>/ per conversation."""
    track: str = "observations"
    """observations (the facts LoCoMo extracted) or turns (the raw dialogue turns)."""
    conversations: list[str] | str | None = None
    """Conversation ids to import (a list, or comma-separated: 30,26); null = all."""

    def __post_init__(self):
        if isinstance(self.conversations, str):
            self.conversations = [c.strip() for c in self.conversations.split(",") if c.strip()]
        if self.track not in TRACKS:
            raise ValueError(f"track must be one of {', '.join(TRACKS)}, got {self.track!r}")


def parse_session_date(text: str, where: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023" -> datetime; an InputError naming `where` otherwise."""
    m = _DATE.match(text or "")
    if not m:
        raise InputError(where, None, f"unreadable session date {text!r}")
    hour, minute, ampm, day, month, year = m.groups()
    hour = int(hour) % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        return datetime.strptime(f"{day} {month[:3]} {year} {hour}:{minute}", "%d %b %Y %H:%M")
    except ValueError:
        raise InputError(where, None, f"unreadable session date {text!r}") from None


def _day(date: datetime) -> str:
    return f"{date.day} {date.strftime('%B %Y')}"


def read_conversations(zip_path: str | Path) -> Iterator[tuple[str, dict]]:
    """(conversation id, parsed JSON) for every conversation file in the zip, sorted by id."""
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as e:
        raise InputError(str(zip_path), None, f"not a readable zip file ({e})") from None
    with archive:
        names = sorted((n for n in archive.namelist() if n.endswith(".json") and not n.startswith("__MACOSX")),
                       key=lambda n: (len(Path(n).stem), Path(n).stem))
        if not names:
            raise InputError(str(zip_path), None, "no conversation .json files inside")
        for name in names:
            where = f"{zip_path}!{name}"
            try:
                data = json.loads(archive.read(name).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise InputError(where, getattr(e, "lineno", None), f"invalid JSON ({e})") from None
            if not isinstance(data, dict) or "qa" not in data or "speaker_a" not in data:
                raise InputError(where, None, "not a LoCoMo conversation (needs 'speaker_a' and 'qa')")
            yield Path(name).stem, data


def _sessions(conv: dict, where: str) -> list[tuple[int, datetime]]:
    """(session number, date) in session order, for sessions that have a date."""
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+_date_time", k))
    return [(n, parse_session_date(conv[f"session_{n}_date_time"], f"{where}: session_{n}_date_time"))
            for n in numbers]


def conversation_memories(conv_id: str, conv: dict, track: str, where: str = "locomo") -> list[dict]:
    """Memory records (SPEC section 1) of one conversation, in session order."""
    user = conv_user(conv)
    records = []
    for n, date in _sessions(conv, where):
        prefix, iso = f"On {_day(date)}, ", date.strftime("%Y-%m-%dT%H:%M:%S")
        if track == "observations":
            observed = conv.get(f"session_{n}_observation") or {}
            for speaker, facts in observed.items():
                for k, (fact, dia_id) in enumerate(facts):
                    records.append({"id": f"conv-{conv_id}-s{n}-{speaker.lower()}-o{k + 1}", "user": user,
                                    "text": prefix + fact, "time": iso, "kind": "episodic",
                                    "source": "locomo-observation", "dia_id": _dia(dia_id)})
        else:
            for turn in conv.get(f"session_{n}") or []:
                text = turn["text"].strip()
                if turn.get("blip_caption"):
                    text += f" [shares a photo: {turn['blip_caption']}]"
                records.append({"id": f"conv-{conv_id}-{turn['dia_id'].replace(':', '-')}", "user": user,
                                "text": f"{prefix}{turn['speaker']} said: {text}", "time": iso, "kind": "episodic",
                                "source": "locomo-turn", "dia_id": turn["dia_id"]})
    return records


def _dia(value) -> str | list:
    return value if isinstance(value, str) else [str(v) for v in value]


def conversation_questions(conv_id: str, conv: dict, memories: list[dict] = ()) -> list[dict]:
    """Question records (SPEC section 2) with the LoCoMo ``category``; category 5 -> abstention.

    ``evidence`` lists the ids of ``memories`` whose ``dia_id`` is one of the question's evidence turns.
    """
    by_dia: dict[str, list[str]] = {}
    for m in memories:
        for dia in [m["dia_id"]] if isinstance(m["dia_id"], str) else m["dia_id"]:
            by_dia.setdefault(dia, []).append(m["id"])
    questions = []
    for i, qa in enumerate(conv["qa"]):
        category = int(qa["category"])
        record = {"id": f"conv-{conv_id}-q{i + 1:03d}", "question": qa["question"], "type": CATEGORY_TYPES[category],
                  "category": category, "evidence_dia": list(qa.get("evidence") or [])}
        record["evidence"] = [mid for dia in record["evidence_dia"] for mid in by_dia.get(dia, [])]
        if category == 5:
            record["answers"] = ["unknown"]
            record["adversarial_answer"] = str(qa.get("adversarial_answer", ""))
        else:
            record["answers"] = [str(qa["answer"])]
        questions.append(record)
    return questions


def conv_user(conv: dict) -> str:
    """Store user id for a conversation: speaker_a's first name, lowercased (the memories are about both)."""
    return re.sub(r"[^a-z0-9_-]", "", conv["speaker_a"].split()[0].lower()) or "user"


def import_locomo(cfg: LocomoConfig) -> list[dict]:
    """Write OUT/conv-<id>/{memories,questions}.jsonl for each conversation.

    Returns:
        One summary per conversation: {"conversation", "dir", "memories", "questions", "by_category"}.
    """
    out = Path(cfg.out)
    wanted = set(cfg.conversations) if cfg.conversations else None
    summaries = []
    for conv_id, conv in read_conversations(cfg.zip_path):
        if wanted is not None and conv_id not in wanted:
            continue
        where = f"{cfg.zip_path}!{conv_id}.json"
        memories = conversation_memories(conv_id, conv, cfg.track, where)
        questions = conversation_questions(conv_id, conv, memories)
        folder = out / f"conv-{conv_id}"
        folder.mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "memories.jsonl", memories)
        write_jsonl(folder / "questions.jsonl", questions)
        by_category: dict[int, int] = {}
        for q in questions:
            by_category[q["category"]] = by_category.get(q["category"], 0) + 1
        summaries.append({"conversation": conv_id, "dir": str(folder), "memories": len(memories),
                          "questions": len(questions), "by_category": dict(sorted(by_category.items()))})
    if wanted is not None and len(summaries) < len(wanted):
        missing = sorted(wanted - {s["conversation"] for s in summaries})
        raise InputError(str(cfg.zip_path), None, f"no conversation(s) {', '.join(missing)} in the zip")
    return summaries


def locomo_turns(zip_path: str | Path, limit: int | None = None) -> list[str]:
    """Raw dialogue turn texts ("Speaker said: ...") across all conversations, for NIAH distractors."""
    texts = []
    for conv_id, conv in read_conversations(zip_path):
        for record in conversation_memories(conv_id, conv, "turns", f"{zip_path}!{conv_id}.json"):
            texts.append(record["text"].split(", ", 1)[1])  # drop the date: distractors get the haystack's dates
            if limit is not None and len(texts) >= limit:
                return texts
    return texts
