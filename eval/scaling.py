"""Scaling: the eval run repeated over memory counts; accuracy, prompt tokens per question and answer latency
against memory count, every method on one figure each.

Run: memory-lora eval --memories M.jsonl --questions Q.jsonl --out DIR --counts 10,20,40,160

For a count below the file's size, a seeded subset of the questions is kept together with their evidence memories,
then other memories fill up to the count (questions whose evidence is missing are dropped). For a count above it,
every memory is kept and bundled generator distractors (eval/haystack.py) are interleaved at seeded positions,
so the same questions are asked among more and more memories. Each count is a full eval run in DIR/n<count>/.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from tqdm.auto import tqdm

from eval.files import write_json, write_jsonl, write_png
from eval.haystack import generate_distractors
from memory_lora.ingest import read_memories, read_questions


@dataclass
class ScalingConfig:
    """What `memory-lora eval --counts ...` runs: one eval per memory count."""

    eval: object  # an eval.run.EvalConfig: memories, questions, methods, general, run, user; out is the root
    counts: list[int] = field(default_factory=lambda: [10, 20, 40])  # memory counts, one eval run each

    def __post_init__(self):
        if not self.counts or any(c < 1 for c in self.counts):
            raise ValueError(f"--counts must be positive integers, got {self.counts}")


def subset(memories: list[dict], questions: list[dict], count: int, seed: int) -> tuple[list[dict], list[dict]]:
    """`count` memories and the questions they can answer (see the module docstring); stream order is kept."""
    rng = random.Random(f"scaling-{seed}-{count}")
    ids = {m["id"] for m in memories}
    if count >= len(memories):
        extra = generate_distractors(count - len(memories), seed)
        stream = list(memories)
        last = max((m.get("time") or "" for m in memories), default="") or "2023-01-01T00:00:00"
        for i, text in enumerate(extra):
            when = (datetime.fromisoformat(last.replace("Z", "")) + timedelta(hours=i + 1)).isoformat()
            stream.insert(rng.randrange(len(stream) + 1), {"id": f"scaling-d{i:05d}", "text": text, "time": when,
                                                           "source": "scaling-distractor"})
        return stream, list(questions)
    order = list(questions)
    rng.shuffle(order)
    keep_ids: set[str] = set()
    kept_q = []
    for q in order:
        need = set(q.get("evidence") or []) & ids
        if need and len(keep_ids | need) <= count:
            keep_ids |= need
            kept_q.append(q)
    others = [m["id"] for m in memories if m["id"] not in keep_ids]
    keep_ids |= set(rng.sample(others, count - len(keep_ids)))
    kept_q.sort(key=lambda q: questions.index(q))
    return [m for m in memories if m["id"] in keep_ids], kept_q


def write_scaling(reports: list[tuple[int, dict]], out: str | Path, title: str = "") -> dict:
    """scaling.json and scaling_{accuracy,prompt_tokens,latency}.png from (memory count, report) pairs."""
    from eval import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reports = sorted(reports, key=lambda x: x[0])
    methods = list(dict.fromkeys(m for _, r in reports for m in r["methods"]))
    table = {m: {str(n): {k: r["methods"].get(m, {}).get(k) for k, _, _ in plots.SCALING_METRICS}
                 | {"n": r["methods"].get(m, {}).get("n")} for n, r in reports} for m in methods}
    caption = (plots.caption(reports[0][1]) if reports else "") + (f"; {title}" if title else "")
    for (key, label, log_y), name in zip(plots.SCALING_METRICS, ("accuracy", "prompt_tokens", "latency"), strict=True):
        points = {m: [(int(n), row[key]) for n, row in table[m].items()] for m in methods}
        write_png(out / f"scaling_{name}.png", plots.scaling_figure(points, label, log_y, caption))
    result = {"seed": reports[0][1].get("seed") if reports else None, "counts": [n for n, _ in reports],
              "methods": table, "general": {str(n): {k: v for k, v in (r.get("general") or {}).items()
                                                     if k != "kl_per_prompt"} for n, r in reports},
              "train_seconds": {str(n): r["train"].get("seconds") for n, r in reports},
              "config": reports[0][1].get("config") if reports else None}
    write_json(out / "scaling.json", result)
    return result


def scaling_from_dirs(dirs: list[str], out: str | Path) -> dict:
    """Scaling figures from eval reports already written (NIAH cells, earlier --counts runs): every
    DIR/**/report.json is one point at its memory count; reports at the same count merge their methods (first wins).
    """
    by_count: dict[int, dict] = {}
    for folder in dirs:
        paths = sorted(Path(folder).glob("**/report.json"))
        if not paths:
            raise ValueError(f"{folder}: no report.json below it")
        for path in paths:
            report = json.loads(path.read_text(encoding="utf-8"))
            count = report.get("train", {}).get("memories")
            if not count or "methods" not in report:
                continue
            merged = by_count.setdefault(count, {**report, "methods": {}})
            for method, stats in report["methods"].items():
                merged["methods"].setdefault(method, stats)
    return write_scaling(sorted(by_count.items()), out, "merged from " + ", ".join(str(d) for d in dirs))


def run_scaling(cfg: ScalingConfig, progress: bool = True) -> dict:
    """One eval per count in OUT/n<count>/, then scaling.json, scaling.md and the three scaling figures in OUT."""
    from dataclasses import replace

    from eval.run import run_eval

    base = cfg.eval
    memories = [m.to_dict() for m in read_memories(base.memories)]
    questions = [q.to_dict() for q in read_questions(base.questions)]
    seed = base.run.seed
    reports = []
    for count in tqdm(cfg.counts, desc="scaling counts", unit="count", disable=not progress):
        folder = Path(base.out) / f"n{count}"
        mems, qs = subset(memories, questions, count, seed)
        if not qs:
            raise ValueError(f"{base.questions}: no question has all its evidence among {count} memories")
        (folder / "input").mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "input" / "memories.jsonl", mems)
        write_jsonl(folder / "input" / "questions.jsonl", qs)
        start = time.perf_counter()
        report = run_eval(replace(base, memories=str(folder / "input" / "memories.jsonl"),
                                  questions=str(folder / "input" / "questions.jsonl"), out=str(folder)), progress)
        report["cell_seconds"] = round(time.perf_counter() - start, 1)
        write_json(folder / "report.json", report)
        reports.append((len(mems), report))
    result = write_scaling(reports, base.out, f"{Path(base.memories).name} + generated distractors")
    lines = ["# Scaling over memory count", "", f"Seed {seed}.", "",
             "| method | " + " | ".join(f"{n} memories" for n, _ in reports) + " |",
             "|---|" + "---|" * len(reports)]
    for m, row in result["methods"].items():
        cells = [f"{(row[str(n)]['accuracy'] or 0):.3f} / {(row[str(n)]['prompt_tokens_mean'] or 0):.0f} tok / "
                 f"{(row[str(n)]['latency_s_p50'] or 0):.2f} s" for n, _ in reports]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Cells: accuracy / prompt tokens per question / p50 latency.", "",
              "![accuracy](scaling_accuracy.png)", "", "![prompt tokens](scaling_prompt_tokens.png)", "",
              "![latency](scaling_latency.png)", "", "```json", json.dumps(result["config"], indent=2), "```", ""]
    (Path(base.out) / "scaling.md").write_text("\n".join(lines), encoding="utf-8")
    return result
