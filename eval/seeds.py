"""Seed repeats: the eval run once per seed, then the spread of every accuracy across seeds and the questions whose
answer flips between seeds, so that a change can be judged against run-to-run noise instead of one lucky seed.

Run: memory-lora eval --memories M.jsonl --questions Q.jsonl --out DIR --seeds 0,1,2
     memory-lora eval --seeds_from RUN1 RUN2 ... --out DIR   (eval runs already written, one per seed)

Each seed is a full eval run (synthesis and training both take the seed) in DIR/seed<N>/. DIR/seeds.json,
DIR/seeds.md and DIR/seeds_accuracy.png hold the summary: per method and question type the mean, sample standard
deviation, min and max accuracy over seeds; per adapter method against each other method the per-seed difference
and the number of seeds it wins; per method the questions right in every seed, wrong in every seed, or flipping.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from eval.compare import load_report
from eval.files import atomic_write, read_jsonl, write_json, write_png
from eval.report import md_table, ordered_methods
from memory_lora.answer import ADAPTER_METHODS

ALL = "all"  # the by-type key of a method's overall accuracy


@dataclass
class SeedsConfig:
    """What `memory-lora eval --seeds ...` runs: one eval per seed."""

    eval: object  # an eval.run.EvalConfig; its out is the root, its home (when set) the root of one store per seed
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # seeds, one eval run each

    def __post_init__(self):
        if len(self.seeds) < 2 or len(set(self.seeds)) != len(self.seeds) or any(s < 0 for s in self.seeds):
            raise ValueError(f"--seeds needs two or more distinct non-negative integers, got {self.seeds}")


def _stats(values: list[float]) -> dict:
    return {"mean": round(statistics.fmean(values), 4), "std": round(statistics.stdev(values), 4) if len(values) > 1
            else 0.0, "min": min(values), "max": max(values), "per_seed": values}


def _accuracies(report: dict, method: str) -> dict[str, float]:
    """{"all": overall accuracy, type: accuracy} of one method in one report."""
    stats = report["methods"][method]
    return {ALL: stats["accuracy"]} | {t: v["accuracy"] for t, v in (stats.get("by_type") or {}).items()}


def _read_answers(folder: Path) -> list[dict] | None:
    path = folder / "answers.jsonl"
    return read_jsonl(path) if path.exists() else None


def _stability(runs: list[tuple[str, list[dict]]], methods: list[str]) -> dict:
    """Per method: ids right in every run, wrong in every run, and flipping (with the runs that got them right)."""
    first_label, first = runs[0]
    ids = {r["question_id"] for r in first}
    for label, rows in runs[1:]:
        if {r["question_id"] for r in rows} != ids:
            raise ValueError(f"{label}: its questions differ from those of {first_label}; seeds must share questions")
    result = {}
    for method in methods:
        right: dict[str, list[str]] = {}
        types: dict[str, str] = {}
        for label, rows in runs:
            for r in rows:
                if r["method"] == method:
                    types[r["question_id"]] = r.get("type") or "single-hop"
                    right.setdefault(r["question_id"], [])
                    if r["accuracy"] >= 1:
                        right[r["question_id"]].append(label)
        always = sorted(q for q, seen in right.items() if len(seen) == len(runs))
        never = sorted(q for q, seen in right.items() if not seen)
        flips = {q: seen for q, seen in sorted(right.items()) if 0 < len(seen) < len(runs)}
        by_type = {t: sum(types[q] == t for q in flips) for t in sorted(set(types.values()))}
        result[method] = {"always_right": always, "always_wrong": never, "flipping": flips,
                          "flipping_by_type": by_type, "n": len(right)}
    return result


def summarize_seeds(reports: list[tuple[str, dict, list[dict] | None]]) -> dict:
    """The seeds.json summary of several eval reports of the same questions.

    Args:
        reports: (label, report.json dict, answers.jsonl rows or None) per run, e.g. ("seed1", ...).

    Returns:
        {"runs", "seeds", "methods": {method: {type or "all": stats}}, "differences": {"a-b": {type: stats + wins}},
        "stability": {method: ...} (only when every run has its answers), "train": stats of seconds and tok/s}.
        stats = {"mean", "std", "min", "max", "per_seed"}.
    """
    if len(reports) < 2:
        raise ValueError(f"a seed summary needs two or more runs, got {len(reports)}")
    methods = ordered_methods(m for _, r, _ in reports for m in r["methods"])
    methods = [m for m in methods if all(m in r["methods"] for _, r, _ in reports)]
    table: dict[str, dict] = {}
    for m in methods:
        per_run = [_accuracies(r, m) for _, r, _ in reports]
        types = [t for t in per_run[0] if all(t in acc for acc in per_run)]
        table[m] = {t: _stats([acc[t] for acc in per_run]) for t in types}
    differences = {}
    for a in (m for m in methods if m in ADAPTER_METHODS):
        for b in (m for m in methods if m != a):
            types = [t for t in table[a] if t in table[b]]
            differences[f"{a}-{b}"] = {}
            for t in types:
                diffs = [round(x - y, 4) for x, y in zip(table[a][t]["per_seed"], table[b][t]["per_seed"], strict=True)]
                differences[f"{a}-{b}"][t] = _stats(diffs) | {"wins": sum(d > 0 for d in diffs),
                                                              "ties": sum(d == 0 for d in diffs)}
    train = {k: _stats([float(r["train"][k]) for _, r, _ in reports]) for k in ("seconds", "tokens_per_second")
             if all(isinstance(r.get("train", {}).get(k), (int, float)) for _, r, _ in reports)}
    result = {"runs": [label for label, _, _ in reports], "seeds": [r.get("seed") for _, r, _ in reports],
              "methods": table, "differences": differences, "train": train,
              "config": reports[0][1].get("config")}
    if all(rows is not None for _, _, rows in reports):
        result["stability"] = _stability([(label, rows) for label, _, rows in reports], methods)
    return result


def _band(s: dict) -> str:
    return f"{s['mean']:.3f} ± {s['std']:.3f} ({s['min']:.3f}-{s['max']:.3f})"


def render_seeds(summary: dict) -> str:
    """seeds.md: the spread table, the paired differences and the flipping questions."""
    runs = summary["runs"]
    types = list(dict.fromkeys(t for row in summary["methods"].values() for t in row))
    lines = ["# Accuracy over seeds", "", f"{len(runs)} runs: " + ", ".join(
        f"{label} (seed {seed})" for label, seed in zip(runs, summary["seeds"], strict=True)) + ".", "",
        "Cells: mean ± sample standard deviation (min-max) over the runs.", ""]
    rows = [[m] + [_band(row[t]) if t in row else "-" for t in types] for m, row in summary["methods"].items()]
    lines += [md_table(["method"] + types, rows), "", "![accuracy over seeds](seeds_accuracy.png)", ""]
    if summary["differences"]:
        lines += ["## Paired differences", "", "Per seed, the first method's accuracy minus the second's; "
                  "wins = seeds where the first is ahead.", ""]
        rows = [[pair] + [f"{_band(row[t])}, wins {row[t]['wins']}/{len(runs)}" if t in row else "-" for t in types]
                for pair, row in summary["differences"].items()]
        lines += [md_table(["pair"] + types, rows), ""]
    if "stability" in summary:
        lines += ["## Questions that flip between seeds", ""]
        rows = []
        for m, st in summary["stability"].items():
            flips = ", ".join(f"{q} ({'+'.join(seen)})" for q, seen in st["flipping"].items()) or "none"
            rows.append([m, f"{len(st['always_right'])}/{st['n']}", f"{len(st['always_wrong'])}/{st['n']}",
                         f"{len(st['flipping'])}/{st['n']}", flips])
        lines += [md_table(["method", "right in all", "wrong in all", "flipping", "flipping ids (runs right)"],
                            rows), ""]
    if summary["train"]:
        lines += ["## Training", "", md_table(["figure", "mean ± std (min-max)"],
                                               [[k, _band(v)] for k, v in summary["train"].items()]), ""]
    return "\n".join(lines)


def write_seeds(reports: list[tuple[str, dict, list[dict] | None]], out: str | Path) -> dict:
    """seeds.json, seeds.md and seeds_accuracy.png in OUT from several runs' reports (see summarize_seeds)."""
    from eval import plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_seeds(reports)
    # the caption names every seed, not the first run's alone (plots.caption starts "seed N; ")
    caption = f"seeds {', '.join(str(s) for s in summary['seeds'])}; " + plots.caption(reports[0][1]).split("; ", 1)[-1]
    write_png(out / "seeds_accuracy.png", plots.seeds_figure(summary["methods"], caption))
    write_json(out / "seeds.json", summary)
    text = render_seeds(summary)
    atomic_write(out / "seeds.md", lambda fh: fh.write(text))
    return summary


def seeds_from_dirs(dirs: list[str], out: str | Path) -> dict:
    """The seed summary of eval runs already written: each DIR holds one run's report.json (and answers.jsonl)."""
    reports = []
    for folder in dirs:
        report = load_report(folder)
        path = Path(folder)
        run_dir = path if path.is_dir() else path.parent  # a run folder, or its report.json
        reports.append((run_dir.name, report, _read_answers(run_dir)))
    return write_seeds(reports, out)


def run_seeds(cfg: SeedsConfig, progress: bool = True) -> dict:
    """One eval per seed in OUT/seed<N>/ (stores in HOME/seed<N>/ when a home is kept), then the seed summary."""
    from eval.run import run_eval

    base = cfg.eval
    reports = []
    for seed in tqdm(cfg.seeds, desc="seeds", unit="seed", disable=not progress):
        run = replace(base.run, seed=seed)
        folder = Path(base.out) / f"seed{seed}"
        home = str(Path(base.keep_store) / f"seed{seed}") if base.keep_store else None
        report = run_eval(replace(base, out=str(folder), run=run, keep_store=home), progress)
        reports.append((folder.name, report, _read_answers(folder)))
    return write_seeds(reports, base.out)
