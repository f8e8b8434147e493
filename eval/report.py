"""Evaluation report: per-method summary, SPEC section 5 validation, report.json / report.md / plots.

``summarize`` turns per-question records into the ``methods`` mapping of report.json, ``write_report`` writes
the report files (each atomically, so a reader never sees a half-written file), ``format_table`` renders the
plain-text table the CLI prints and ``validate_report`` checks the keys SPEC section 5 promises to readers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from eval.files import atomic_write, json_default, write_json, write_jsonl, write_png

__all__ = ["METHOD_ORDER", "fmt", "format_table", "md_table", "ordered_methods", "render_gate", "summarize",
           "validate_report", "write_report"]

METHOD_ORDER: tuple[str, ...] = ("parametric", "rag", "long-context", "hybrid", "base")

_METHOD_KEYS = ("accuracy", "exact_match", "f1", "n", "by_type", "prompt_tokens_mean", "latency_s_p50", "latency_s_p95")
_TRAIN_KEYS = ("seconds", "examples", "tokens", "tokens_per_second", "epochs", "adapter_bytes", "memories")
_SYNTH_KEYS = ("seconds", "examples", "by_kind")
_GENERAL_KEYS = ("base_accuracy", "adapter_accuracy", "n")
# Sections rendered explicitly in report.md; any other top-level key gets a generic JSON block.
_KNOWN_SECTIONS = ("methods", "train", "synth", "general", "config", "versions", "seed", "gate")


def ordered_methods(names: Iterable[str]) -> list[str]:
    """Known methods in METHOD_ORDER, then the others in order of first appearance."""
    names = list(dict.fromkeys(names))
    return [m for m in METHOD_ORDER if m in names] + [m for m in names if m not in METHOD_ORDER]


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def _numbers(records: list[dict], key: str) -> list[float]:
    """The numeric values of ``key`` across records; missing or None values are skipped, not counted as 0."""
    return [float(r[key]) for r in records if r.get(key) is not None]


def _accuracy_by_type(rows: list[dict]) -> dict[str, Any]:
    """Accuracy, count and per-type accuracy of some records (accuracy None when there are none)."""
    by_type: dict[str, list[dict]] = {}
    for row in rows:
        by_type.setdefault(row.get("type") or "single-hop", []).append(row)
    return {
        "accuracy": _mean(_numbers(rows, "accuracy")) if rows else None,
        "n": len(rows),
        "by_type": {qtype: {"accuracy": _mean(_numbers(typed, "accuracy")), "n": len(typed)}
                    for qtype, typed in sorted(by_type.items())},
    }


def summarize(records: list[dict], seen: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Aggregate per-question records into the SPEC section 5 ``methods`` mapping.

    Args:
        records: One dict per (method, question) with keys ``method``, ``question_id``, ``type``, ``reply``,
            ``answers``, ``accuracy``, ``exact_match``, ``f1``, ``prompt_tokens`` and ``latency_s``. A missing
            ``type`` counts as ``single-hop``; missing token counts or latencies are left out of their statistics.
        seen: Ids of questions found word for word in the training data (eval.run.training_overlap). When given,
            each method also gets ``unseen``: ``{"accuracy", "n", "by_type"}`` over the other questions, the
            figures that measure generalization rather than recall of a trained wording.

    Returns:
        ``{method: {"accuracy", "exact_match", "f1", "n", "by_type": {type: {"accuracy", "n"}},
        "prompt_tokens_mean", "latency_s_p50", "latency_s_p95"}}`` ordered parametric, rag, long-context,
        hybrid, base, then any other method. Statistics with no values are ``None``.
    """
    seen = None if seen is None else set(seen)
    grouped: dict[str, list[dict]] = {}
    for record in records:
        grouped.setdefault(str(record["method"]), []).append(record)

    methods: dict[str, dict[str, Any]] = {}
    for method in ordered_methods(grouped):
        rows = grouped[method]
        tokens = _numbers(rows, "prompt_tokens")
        categories = sorted({r["category"] for r in rows if r.get("category") is not None}, key=str)
        latencies = _numbers(rows, "latency_s")
        methods[method] = {
            "accuracy": _mean(_numbers(rows, "accuracy")),
            "exact_match": _mean(_numbers(rows, "exact_match")),
            "f1": _mean(_numbers(rows, "f1")),
            "n": len(rows),
            "by_type": _accuracy_by_type(rows)["by_type"],
            "prompt_tokens_mean": _mean(tokens) if tokens else None,
            "latency_s_p50": float(np.percentile(latencies, 50, method="linear")) if latencies else None,
            "latency_s_p95": float(np.percentile(latencies, 95, method="linear")) if latencies else None,
        }
        if categories:  # e.g. LoCoMo's category numbers, kept from the question records
            methods[method]["by_category"] = {
                str(c): {"accuracy": _mean(_numbers(typed, "accuracy")), "n": len(typed)}
                for c in categories
                for typed in [[r for r in rows if r.get("category") == c]]
            }
        if seen is not None:
            methods[method]["unseen"] = _accuracy_by_type([r for r in rows if r.get("question_id") not in seen])
    return methods


def validate_report(report: dict) -> None:
    """Check that ``report`` has every key SPEC section 5 promises to readers.

    Args:
        report: A report dict as written to report.json.

    Raises:
        ValueError: Naming the first missing (or non-object) key, e.g. ``report is missing 'train.tokens'``.
    """
    if not isinstance(report, dict):
        raise ValueError("report must be a JSON object")

    def section(parent: dict, key: str, where: str) -> dict:
        if key not in parent:
            raise ValueError(f"report is missing '{where}'")
        if not isinstance(parent[key], dict):
            raise ValueError(f"report key '{where}' must be an object")
        return parent[key]

    def require(parent: dict, keys: Iterable[str], prefix: str) -> None:
        for key in keys:
            if key not in parent:
                raise ValueError(f"report is missing '{prefix}.{key}'")

    methods = section(report, "methods", "methods")
    for name, stats in methods.items():
        stats = section(methods, name, f"methods.{name}")
        require(stats, _METHOD_KEYS, f"methods.{name}")
        if not isinstance(stats["by_type"], dict):
            raise ValueError(f"report key 'methods.{name}.by_type' must be an object")
    require(section(report, "train", "train"), _TRAIN_KEYS, "train")
    require(section(report, "synth", "synth"), _SYNTH_KEYS, "synth")
    section(report, "config", "config")
    section(report, "versions", "versions")
    if "general" in report:
        require(section(report, "general", "general"), _GENERAL_KEYS, "general")


# --------------------------------------------------------------------------------------------- formatting


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers with fixed digits, ints as ints, None as '-', anything else as str."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _method_rows(report: dict) -> list[list[str]]:
    rows = []
    for method in ordered_methods(report.get("methods", {})):
        s = report["methods"][method]
        rows.append(
            [
                method,
                fmt(s.get("accuracy")),
                fmt(s.get("exact_match")),
                fmt(s.get("f1")),
                fmt(s.get("n")),
                fmt(s.get("prompt_tokens_mean"), 1),
                fmt(s.get("latency_s_p50")),
                fmt(s.get("latency_s_p95")),
            ]
        )
    return rows


def _general_drop(general: dict) -> float | None:
    base, adapter = general.get("base_accuracy"), general.get("adapter_accuracy")
    if base is None or adapter is None:
        return None
    return float(base) - float(adapter)


def format_table(report: dict) -> str:
    """Render the plain-text comparison table the CLI prints.

    Args:
        report: A report dict (SPEC section 5).

    Returns:
        Aligned columns method, accuracy, EM, F1, n, prompt tokens and p50 latency, then a ``train:`` line when
        ``report["train"]`` exists and a ``general probe:`` line when ``report["general"]`` exists.
    """
    header = ["method", "accuracy", "EM", "F1", "n", "prompt tokens", "p50 s"]
    rows = [row[:7] for row in _method_rows(report)]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        # Method names left-aligned, numbers right-aligned so decimals line up.
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    train = report.get("train")
    if isinstance(train, dict):
        lines.append(
            f"train: {fmt(train.get('seconds'), 1)} s, {fmt(train.get('examples'))} examples, "
            f"{fmt(train.get('tokens_per_second'), 1)} tokens/s"
        )
    general = report.get("general")
    if isinstance(general, dict):
        lines.append(
            f"general probe: base {fmt(general.get('base_accuracy'))} -> adapter "
            f"{fmt(general.get('adapter_accuracy'))} (drop {fmt(_general_drop(general))}, "
            f"n={fmt(general.get('n'))})"
            + (f", KL(base || adapter) {general['kl_mean']:.4f} nats" if general.get("kl_mean") is not None else "")
        )
    return "\n".join(lines)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: Any) -> str:
        # A literal pipe would split the cell.
        return str(cell).replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _kv_table(section: dict, digits: int = 3) -> str:
    rows = [
        [key, json.dumps(value, default=json_default) if isinstance(value, (dict, list)) else fmt(value, digits)]
        for key, value in section.items()
    ]
    return md_table(["key", "value"], rows)


def _json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False, default=json_default) + "\n```"


def _breakdown(methods: dict, order: list[str], key: str, title: str, label: str) -> list[str]:
    """A Markdown section with one row per group of ``methods[m][key]`` and one column per method (or nothing)."""
    groups = sorted({g for m in order for g in methods[m].get(key) or {}}, key=lambda g: (len(g), g))
    if not groups:
        return []
    rows = []
    for group in groups:
        cells = [(methods[m].get(key) or {}).get(group) for m in order]
        rows.append([group] + [f"{fmt(c.get('accuracy'))} ({c.get('n')})" if c else "-" for c in cells])
    return [f"## {title}", "", "Cells are accuracy (n).", "", md_table([label, *order], rows), ""]


def _unseen_section(report: dict, order: list[str]) -> list[str]:
    """Accuracy without the questions the synthesizer wrote word for word, when the report lists any."""
    seen = (report.get("synth") or {}).get("eval_questions_in_training") or []
    methods = report.get("methods", {})
    with_unseen = [m for m in order if isinstance(methods[m].get("unseen"), dict)]
    if not seen or not with_unseen:
        return []
    rows = [["all"] + [f"{fmt(methods[m]['unseen']['accuracy'])} ({methods[m]['unseen']['n']})" for m in with_unseen]]
    types = sorted({t for m in with_unseen for t in methods[m]["unseen"]["by_type"]}, key=lambda t: (len(t), t))
    for qtype in types:
        cells = [methods[m]["unseen"]["by_type"].get(qtype) for m in with_unseen]
        rows.append([qtype] + [f"{fmt(c['accuracy'])} ({c['n']})" if c else "-" for c in cells])
    return ["## Questions the training data never contained", "",
            f"The synthesizer wrote {len(seen)} of the questions word for word ({', '.join(seen)}); answering those "
            "is recall of a trained wording. Cells are accuracy (n) over the other questions.", "",
            md_table(["type", *with_unseen], rows), ""]


def render_gate(gate: dict) -> list[str]:
    """report.md lines for report["gate"], the calibration record training saved in the adapter's manifest."""
    chosen = "off" if gate.get("abstain_margin") is None else gate["abstain_margin"]
    lines = [f"Chosen: **{chosen}**, the smallest gate refusing at least {gate['target']:.0%} of "
             f"{gate['questions']} unanswerable questions synthesized from the memories and held out of training.",
             "", "| gate | refused |", "|---|---|"]
    for row in gate["grid"]:
        name = "off" if row["gate"] is None else row["gate"]
        lines.append(f"| {name} | {row['refused']}/{row['n']} |")
    return lines


def render_markdown(report: dict, plots: dict[str, str] | None = None) -> str:
    """Render report.md: methods and by-type tables, train/synth/general tables, config, versions, plots.

    Args:
        report: A report dict (SPEC section 5).
        plots: Caption -> relative image path, embedded at the end.

    Returns:
        The Markdown text.
    """
    parts = ["# memory_lora evaluation report", ""]
    if report.get("seed") is not None:
        parts += [f"Seed {report['seed']}; the full run config is under Config below.", ""]
    methods = report.get("methods", {})
    order = ordered_methods(methods)
    parts += [
        "## Methods",
        "",
        md_table(["method", "accuracy", "EM", "F1", "n", "prompt tokens", "p50 s", "p95 s"], _method_rows(report)),
        "",
    ]
    for key, title, label in (("by_type", "Accuracy by question type", "type"),
                              ("by_category", "Accuracy by category (LoCoMo category number)", "category")):
        parts += _breakdown(methods, order, key, title, label)

    parts += _unseen_section(report, order)

    if isinstance(report.get("train"), dict):
        parts += ["## Training", "", _kv_table(report["train"], 2), ""]
    if isinstance(report.get("synth"), dict):
        synth = dict(report["synth"])
        by_kind = synth.pop("by_kind", None)
        parts += ["## Synthetic data", "", _kv_table(synth, 2), ""]
        if isinstance(by_kind, dict) and by_kind:
            parts += [md_table(["kind", "examples"], [[k, fmt(v)] for k, v in by_kind.items()]), ""]
    if isinstance(report.get("general"), dict):
        general = dict(report["general"])
        general.setdefault("drop", _general_drop(general))
        general.pop("kl_per_prompt", None)  # plotted in forgetting.png, kept in report.json
        parts += ["## General-knowledge probe and KL(base || adapter) (forgetting)", "", _kv_table(general), ""]

    if isinstance(report.get("gate"), dict):
        parts += ["## \"I don't know\" gate, calibrated", "", *render_gate(report["gate"]), ""]
    for key, title in (("config", "Config"), ("versions", "Versions")):
        if key in report:
            parts += [f"## {title}", "", _json_block(report[key]), ""]
    for key in report:
        if key not in _KNOWN_SECTIONS:
            parts += [f"## {key}", "", _json_block(report[key]), ""]

    if plots:
        parts += ["## Plots", ""]
        for caption, path in plots.items():
            parts += [f"![{caption}]({path})", ""]
    return "\n".join(parts).rstrip() + "\n"


# --------------------------------------------------------------------------------------------- writing


def write_report(report: dict, out_dir: str | os.PathLike, records: list[dict] | None = None) -> dict[str, Path]:
    """Write report.json, report.md, answers.jsonl (when ``records`` given) and the plots to ``out_dir``.

    Args:
        report: A report dict (SPEC section 5); not validated here, so partial reports can still be written.
        out_dir: Output directory, created if missing.
        records: Per-question records (as given to ``summarize``), written one per line to answers.jsonl.

    Returns:
        File name -> path for every file written: ``report.json``, ``report.md``, ``accuracy_by_method.png``,
        ``cost_vs_accuracy.png``, ``forgetting.png`` (when the general probe has KL figures) and, with records,
        ``answers.jsonl``.
    """
    from eval import plots  # matplotlib only when writing

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"Accuracy by method": ("accuracy_by_method.png", plots.accuracy_figure(report)),
               "Cost vs accuracy": ("cost_vs_accuracy.png", plots.cost_figure(report))}
    general = report.get("general")
    if isinstance(general, dict) and general.get("kl_per_prompt"):
        figures["Forgetting: general probe and KL(base || adapter)"] = ("forgetting.png",
                                                                        plots.forgetting_figure(report))
    paths = {name: write_png(out / name, fig) for name, fig in figures.values()}
    paths["report.json"] = write_json(out / "report.json", report)
    markdown = render_markdown(report, {caption: name for caption, (name, _) in figures.items()})
    paths["report.md"] = atomic_write(out / "report.md", lambda fh: fh.write(markdown))
    if records is not None:
        paths["answers.jsonl"] = write_jsonl(out / "answers.jsonl", records)
    return paths
