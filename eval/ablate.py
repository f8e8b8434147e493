"""Ablation of the synthesized data kinds: parametric recall with all kinds, then without each one in turn.

Every variant runs the full eval (fresh home, synth, train, answer) with the same seed and config, so the only
difference is the data kind left out. Forgetting figures are skipped (no general probe, no KL): they do not bear on
which kind buys recall. Prints a table of accuracy by question type and writes ablation.json after every variant.

Run (demo user, all question files):
    python -m eval.ablate --memories memory_lora/examples/demo/memories.jsonl \
        --questions memory_lora/examples/demo/questions.jsonl memory_lora/examples/demo/questions_more.jsonl \
        --out runs/ablate_demo [--config configs/ablate_cpu.yaml] [--variants all,-paraphrase,-cot]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from data_synth.rules import DEFAULT_KINDS
from eval.configs import EvalConfig
from eval.run import run_eval
from memory_lora.recipe import RunConfig

ABLATABLE = ("paraphrase", "recitation", "temporal", "abstention", "cot")


def variant_kinds(name: str) -> list[str]:
    """"all" -> every default kind; "-cot" -> every default kind but cot."""
    if name == "all":
        return list(DEFAULT_KINDS)
    if not name.startswith("-") or name[1:] not in ABLATABLE:
        raise SystemExit(f"unknown variant {name!r}: use 'all' or -KIND with KIND in {', '.join(ABLATABLE)}")
    return [k for k in DEFAULT_KINDS if k != name[1:]]


def merged_questions(paths: list[str], directory: Path) -> str:
    """One questions file made of several (eval reads one)."""
    target = directory / "questions.jsonl"
    with target.open("w", encoding="utf-8") as out:
        for p in paths:
            text = Path(p).read_text(encoding="utf-8")
            out.write(text if text.endswith("\n") else text + "\n")
    return str(target)


def format_ablation(rows: list[dict]) -> str:
    """Markdown table: one row per variant, accuracy overall and per question type."""
    types = sorted({t for r in rows for t in r["by_type"]})
    lines = ["| variant | examples | train s | overall | " + " | ".join(types) + " |",
             "|---" * (4 + len(types)) + "|"]
    for r in rows:
        cells = [f"{r['by_type'][t]['accuracy']:.3f}" if t in r["by_type"] else "-" for t in types]
        lines.append(f"| {r['variant']} | {r['examples']} | {r['train_seconds']:.0f} | {r['accuracy']:.3f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_rows(out: Path, config: str | None, rows: list[dict]) -> Path:
    """Write ablation.json with the rows so far (temp file, then rename: an interrupted ablation keeps its rows)."""
    tmp_file = out / "ablation.json.tmp"
    tmp_file.write_text(json.dumps({"config": config, "rows": rows}, indent=2), encoding="utf-8")
    return tmp_file.replace(out / "ablation.json")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memories", required=True)
    ap.add_argument("--questions", required=True, nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default=None, help="RunConfig JSON/YAML (same for every variant)")
    ap.add_argument("--variants", default="all," + ",".join(f"-{k}" for k in ABLATABLE))
    ap.add_argument("--methods", default="parametric")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        questions = merged_questions(args.questions, Path(tmp))
        for name in args.variants.split(","):
            run = RunConfig.load(args.config)
            run.synth.kinds = variant_kinds(name)
            run.validate()
            start = time.perf_counter()
            report = run_eval(EvalConfig(memories=args.memories, questions=questions, out=str(out / name.strip("-")),
                                         methods=args.methods.split(","), general=None, kl=False, run=run))
            par = report["methods"]["parametric"]
            rows.append({"variant": name, "kinds": run.synth.kinds, "accuracy": par["accuracy"],
                         "by_type": par["by_type"], "examples": report["synth"]["examples"],
                         "train_seconds": report["train"]["seconds"], "wall_seconds": time.perf_counter() - start})
            save_rows(out, args.config, rows)
            print(format_ablation(rows), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
