"""Needle in a haystack for user memories: haystack size x needle depth grid for every method, heatmap per method.

Run: memory-lora niah --out niah-report [--sizes 16,64,256,1024] [--depths 5] [--variants single,multi-key,multi-value]
     [--methods parametric,rag,long-context,hybrid] [--distractors generator|locomo --locomo_zip ZIP] [--config F]

Depth is the needle's position in the user's memory stream (0 % = first memory, 100 % = last); long-context puts the
stream in the prompt in order, so for it depth is the position in the prompt. Once the stream does not fit the
model's context, long-context drops the oldest memories with a warning (answer.py) and shallow needles are lost:
that is reported as measured. Cost control: each (variant, size) is ONE haystack holding every depth's needle, so
parametric trains one adapter per size, not one per cell; the other needles are just more distractors for a
question. Every cell is a full `memory-lora eval` run (eval/run.py) in OUT/<variant>/n<size>/ with its own
report.json (incl. the forgetting figures); a cell whose inputs and config are unchanged is reused, not re-run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from tqdm.auto import tqdm

from eval.configs import EvalConfig, NiahConfig
from eval.files import read_jsonl, write_json, write_jsonl, write_png
from eval.haystack import build_haystack
from eval.metric.memory_recall.memory_recall import score_reply
from eval.run import run_eval
from eval.scaling import write_scaling
from memory_lora.text import display_name

log = logging.getLogger(__name__)


def needle_score(record: dict) -> float:
    """A reply's score: containment accuracy, or for multi-value questions the share of values it names."""
    if record.get("all_answers"):
        hits = [score_reply(record["reply"], [v])["accuracy"] for v in record["answers"]]
        return sum(hits) / len(hits)
    return float(record["accuracy"])


def _cell(cfg: NiahConfig, variant: str, n: int, pool: list[str] | None, progress: bool) -> tuple[dict, list[dict]]:
    """Build (or reuse) one haystack's eval run; returns (report, answer records)."""
    folder = Path(cfg.out) / variant / f"n{n}"
    depths = [d for d in cfg.depths for _ in range(cfg.needles_per_depth)]
    memories, questions = build_haystack(n, depths, variant, display_name(cfg.user), cfg.run.seed, pool,
                                         cfg.extra_keys, cfg.values)
    run_config = {k: v for k, v in cfg.to_dict().items() if k not in ("out", "sizes", "variants")}
    key = hashlib.sha256(json.dumps([run_config, memories, questions], sort_keys=True).encode()).hexdigest()
    stamp = folder / "niah_key.txt"
    if stamp.exists() and stamp.read_text().strip() == key and (folder / "answers.jsonl").exists():
        log.info("niah %s n=%d: reusing %s", variant, n, folder)
    else:
        (folder / "input").mkdir(parents=True, exist_ok=True)
        write_jsonl(folder / "input" / "memories.jsonl", [{**m, "user": cfg.user} for m in memories])
        write_jsonl(folder / "input" / "questions.jsonl", questions)
        start = time.perf_counter()
        run_eval(EvalConfig(memories=str(folder / "input" / "memories.jsonl"),
                            questions=str(folder / "input" / "questions.jsonl"), out=str(folder),
                            methods=list(cfg.methods), general=cfg.general, kl=cfg.kl, run=cfg.run, user=cfg.user),
                 progress=progress)
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        report["cell_seconds"] = round(time.perf_counter() - start, 1)
        write_json(folder / "report.json", report)
        stamp.write_text(key + "\n")
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    records = read_jsonl(folder / "answers.jsonl")
    return report, records


def run_niah(cfg: NiahConfig, progress: bool = True) -> dict:
    """Run the grid, write niah.json, niah.md, one heatmap per (variant, method) and the scaling figures.

    Returns:
        The niah.json dict: {"seed", "config", "depths", "sizes", "methods", "variants": {variant: {"scores":
        {method: [[score per size] per depth]}, "prompt_tokens_mean", "latency_s_p50": {method: {size: v}},
        "train_seconds", "kl_mean", "cell_seconds": {size: v}}}, "wall_s"}.
    """
    from eval import plots
    from eval.locomo import locomo_turns

    start = time.perf_counter()
    pool = locomo_turns(cfg.locomo_zip) if cfg.distractors == "locomo" else None
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"seed": cfg.run.seed, "config": {**cfg.to_dict(), "run": cfg.run.to_dict()},
              "depths": cfg.depths, "sizes": cfg.sizes, "methods": cfg.methods, "variants": {}}
    cells = tqdm(total=len(cfg.variants) * len(cfg.sizes), desc="niah cells", unit="cell", disable=not progress)
    for variant in cfg.variants:
        entry = {"scores": {m: [[None] * len(cfg.sizes) for _ in cfg.depths] for m in cfg.methods},
                 "prompt_tokens_mean": {m: {} for m in cfg.methods}, "latency_s_p50": {m: {} for m in cfg.methods},
                 "train_seconds": {}, "kl_mean": {}, "general": {}, "cell_seconds": {}, "memories": {}}
        reports = []
        for j, n in enumerate(cfg.sizes):
            cells.set_postfix(variant=variant, n=n)
            report, records = _cell(cfg, variant, n, pool, progress)
            cells.update(1)
            reports.append((report["train"].get("memories") or n, report))
            cell_scores: dict[tuple[str, int], list[float]] = {}
            for r in records:
                cell_scores.setdefault((r["method"], cfg.depths.index(r["depth"])), []).append(needle_score(r))
            for (m, i), values in cell_scores.items():
                entry["scores"][m][i][j] = round(sum(values) / len(values), 4)
            for m in cfg.methods:
                stats = report["methods"].get(m, {})
                entry["prompt_tokens_mean"][m][str(n)] = stats.get("prompt_tokens_mean")
                entry["latency_s_p50"][m][str(n)] = stats.get("latency_s_p50")
            entry["train_seconds"][str(n)] = report["train"].get("seconds")
            entry["kl_mean"][str(n)] = (report.get("general") or {}).get("kl_mean")
            entry["general"][str(n)] = {k: v for k, v in (report.get("general") or {}).items() if k != "kl_per_prompt"}
            entry["cell_seconds"][str(n)] = report.get("cell_seconds")
            entry["memories"][str(n)] = report["train"].get("memories")
        result["variants"][variant] = entry
        caption = plots.caption(reports[0][1]) if reports else ""
        for m in cfg.methods:
            labels = [f"{n}\n~{entry['prompt_tokens_mean'][m][str(n)] or 0:.0f} tok" for n in cfg.sizes]
            fig = plots.niah_heatmap(entry["scores"][m], cfg.depths, cfg.sizes, f"NIAH ({variant}): {m}", caption,
                                     labels)
            write_png(out / f"niah_{variant}_{m}.png", fig)
        write_scaling(reports, out / variant, f"NIAH haystacks ({variant})")
    cells.close()
    result["wall_s"] = round(time.perf_counter() - start, 1)
    write_json(out / "niah.json", result)
    (out / "niah.md").write_text(niah_markdown(result), encoding="utf-8")
    return result


def niah_markdown(result: dict) -> str:
    """niah.md: one score table and heatmap per (variant, method), the scaling plots, seed and config."""
    parts = ["# Needle in a haystack", "", f"Seed {result['seed']}; wall time {result.get('wall_s')} s.", ""]
    for variant, entry in result["variants"].items():
        parts += [f"## Variant: {variant}", ""]
        for m, grid in entry["scores"].items():
            header = "| depth | " + " | ".join(f"N={n}" for n in result["sizes"]) + " |"
            rows = [f"| {d:g} % | " + " | ".join("-" if v is None else f"{v:.2f}" for v in row) + " |"
                    for d, row in zip(result["depths"], grid, strict=True)]
            tokens = " | ".join(f"{entry['prompt_tokens_mean'][m].get(str(n)) or 0:.0f}" for n in result["sizes"])
            parts += [f"### {m}", "", header, "|" + "---|" * (len(result["sizes"]) + 1), *rows,
                      f"| prompt tokens | {tokens} |", "", f"![{variant} {m}](niah_{variant}_{m}.png)", ""]
        parts += ["Per haystack: train seconds " + json.dumps(entry["train_seconds"]) + ", KL(base || adapter) "
                  + json.dumps(entry["kl_mean"]) + ", cell wall seconds " + json.dumps(entry["cell_seconds"]), ""]
        for name in ("accuracy", "prompt_tokens", "latency"):
            parts += [f"![{variant} scaling {name}]({variant}/scaling_{name}.png)", ""]
    parts += ["## Config", "", "```json", json.dumps(result["config"], indent=2), "```", ""]
    return "\n".join(parts)
