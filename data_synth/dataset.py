"""Memories -> a Hugging Face `datasets.Dataset` of training examples, with stats and atomic save/load.

Usage:
    from data_synth.dataset import build_dataset, dataset_stats, save_dataset, load_dataset_dir
    ds = build_dataset(memories, "Maya", SynthConfig(), seed=0)
    save_dataset(ds, "out/synth")          # atomic: written to a temp sibling, then renamed into place
Demo: `python -m data_synth.dataset memory_lora/examples/demo/memories.jsonl Maya OUT_DIR`.

How the dataset was made travels inside it: `ds.info.description` is a JSON object
`{"memory_lora.synth": {"backend": "openai", "dropped": {"ungrounded": 3, ...}}}` (DatasetInfo has no free-form
metadata field; the description survives save_to_disk / load_from_disk and row operations). `synth_info(ds)` reads it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import datasets

from data_synth.balance import upsample_thin_memories
from data_synth.config import SynthConfig
from data_synth.teachers import synthesize_with_backend
from memory_lora.records import MEMORY_KINDS, InputError, Memory, stable_memory_id

COLUMNS = ("id", "kind", "prompt", "response", "memory_ids", "template")
FEATURES = datasets.Features({
    "id": datasets.Value("string"), "kind": datasets.Value("string"), "prompt": datasets.Value("string"),
    "response": datasets.Value("string"), "memory_ids": datasets.Sequence(datasets.Value("string")),
    "template": datasets.Value("string"),
})


INFO_KEY = "memory_lora.synth"


def build_dataset(memories: list[Memory], user_name: str, config: SynthConfig | None = None,
                  teacher=None, seed: int = 0) -> datasets.Dataset:
    """Synthesize examples with the configured backend and return them as a Dataset.

    Args:
        memories: The user's memories.
        user_name: Display name of the user ("Maya").
        config: Synthesis settings (backend rules, hf or openai); None = defaults.
        teacher: A teacher object to use instead of the one config.backend names (see data_synth.teachers).
        seed: The rules' seed; the same inputs and seed always give the same dataset.

    Returns:
        Dataset with columns id, kind, prompt, response, memory_ids (list of str), template; rows sorted by
        (first memory id, kind, id) so the order never depends on generation details; duplicate ids dropped; then
        the repeats that bring each memory up to `config.min_examples_per_memory` rows (data_synth.balance).
        The backend, the teacher's drop counts and the number of repeats are kept in the dataset info (see
        `synth_info`).
    """
    config = config or SynthConfig()
    examples, dropped = synthesize_with_backend(memories, user_name, config, teacher=teacher, seed=seed)
    rows, seen = [], set()
    for ex in sorted(examples, key=lambda e: (e.memory_ids[0] if e.memory_ids else "", e.kind, e.id)):
        if ex.id in seen:  # identical prompt+response from two rules: keep one so weights stay even
            continue
        seen.add(ex.id)
        rows.append({"id": ex.id, "kind": ex.kind, "prompt": ex.prompt, "response": ex.response,
                     "memory_ids": list(ex.memory_ids), "template": ex.template})
    written = len(rows)
    rows = upsample_thin_memories(rows, config.min_examples_per_memory)
    columns = {c: [r[c] for r in rows] for c in COLUMNS}
    backend = config.backend if teacher is None else getattr(teacher, "name", "custom")
    description = json.dumps({INFO_KEY: {"backend": backend, "dropped": dropped, "repeats": len(rows) - written}},
                             sort_keys=True)
    return datasets.Dataset.from_dict(columns, info=datasets.DatasetInfo(description=description, features=FEATURES))


def synth_info(ds: datasets.Dataset) -> dict:
    """{"backend": name, "dropped": {reason: n}, "repeats": n} from build_dataset; {} for datasets made elsewhere."""
    try:
        info = json.loads(ds.info.description or "{}")
    except json.JSONDecodeError:
        return {}
    return info.get(INFO_KEY, {}) if isinstance(info, dict) else {}


def dataset_stats(ds: datasets.Dataset) -> dict:
    """Counts: {"examples": n, "by_kind": {kind: n}, "by_memory": {memory_id: n}, "dropped": {reason: n}, "repeats": n}.

    "dropped" holds the QA pairs or teacher replies a teacher backend produced and validation rejected, by reason
    (data_synth.teachers.validate.REASONS); it is {} for the rules backend. "repeats" is how many of the examples
    are repeats of a thin memory's rows (`synth.min_examples_per_memory`), counted in the other figures. Keys sorted.
    """
    by_kind = Counter(ds["kind"]) if len(ds) else Counter()
    by_memory: Counter = Counter()
    for ids in ds["memory_ids"] if len(ds) else []:
        for mid in ids:
            by_memory[mid] += 1
    info = synth_info(ds)
    return {"examples": len(ds), "by_kind": dict(sorted(by_kind.items())), "by_memory": dict(sorted(by_memory.items())),
            "dropped": dict(sorted(info.get("dropped", {}).items())), "repeats": info.get("repeats", 0)}


def preview(ds: datasets.Dataset, n: int, seed: int = 0) -> str:
    """Up to `n` random examples of every kind, as text for a person to read (`memory-lora synth --preview N`)."""
    rows = ds.to_list()
    random.Random(seed).shuffle(rows)
    lines = []
    for kind in sorted({r["kind"] for r in rows}):
        picked = [r for r in rows if r["kind"] == kind][:n]
        lines.append(f"== {kind} ({sum(r['kind'] == kind for r in rows)} examples) ==")
        for r in picked:
            lines += [f"[{', '.join(r['memory_ids']) or '-'} | {r['template']}]", f"  Q: {r['prompt']}",
                      f"  A: {r['response']}"]
    return "\n".join(lines)


def save_dataset(ds: datasets.Dataset, directory: str | os.PathLike) -> Path:
    """Write `ds` to `directory` atomically: save into a temp sibling, then rename over the target.

    A reader never sees a half-written dataset; an existing dataset at `directory` is replaced.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        ds.save_to_disk(str(tmp))
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "ds")  # move aside first: os.replace cannot overwrite a non-empty dir
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_dataset_dir(directory: str | os.PathLike) -> datasets.Dataset:
    """Load a dataset written by save_dataset."""
    return datasets.load_from_disk(str(directory))


def read_jsonl(path: str | os.PathLike) -> list[Memory]:
    """Memories from a JSON Lines file: one object a line with "text" and optionally "id", "user", "time", "kind".

    A memory without an id gets `stable_memory_id(text)`. Raises InputError (one line naming the file and line) on
    unreadable files, invalid JSON, a missing or empty text, an unknown kind, or a file with no memories.
    """
    name = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(name, None, f"cannot read: {e}") from None
    memories = []
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(name, line_no, f"invalid JSON: {e.msg}") from None
        text = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise InputError(name, line_no, "expected an object with a non-empty string 'text'")
        kind = obj.get("kind") or "semantic"
        if kind not in MEMORY_KINDS:
            raise InputError(name, line_no, f"unknown kind {kind!r} (expected one of: {', '.join(MEMORY_KINDS)})")
        memories.append(Memory(id=str(obj.get("id") or stable_memory_id(text)), text=text, user=obj.get("user"),
                               time=obj.get("time"), kind=kind))
    if not memories:
        raise InputError(name, 1, "no memories: the file holds none")
    return memories


def _main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m data_synth.dataset",
                                     description="Synthesize a user's training data with the rules; print its counts.")
    parser.add_argument("memories", help="memories file (.jsonl: one {\"text\", \"id\", \"time\", \"kind\"} a line)")
    parser.add_argument("user", help="the user's display name, e.g. Maya")
    parser.add_argument("out", nargs="?", help="also save the dataset to this folder")
    parser.add_argument("--seed", type=int, default=0, help="synthesis seed (default 0)")
    args = parser.parse_args(argv)
    try:
        memories = read_jsonl(args.memories)
    except InputError as e:  # one line naming the file and line, never a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    ds = build_dataset(memories, args.user, seed=args.seed)
    if args.out:
        save_dataset(ds, args.out)
    print(json.dumps(dataset_stats(ds), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
