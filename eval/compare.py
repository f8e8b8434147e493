"""The difference between two eval reports, as a plain-text table.

Run: memory-lora eval --compare DIR1 DIR2   (each DIR holds a report.json written by `memory-lora eval`)
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.report import fmt, ordered_methods

_METHOD_FIELDS = (("accuracy", 3), ("exact_match", 3), ("f1", 3), ("prompt_tokens_mean", 1), ("latency_s_p50", 3))
_OTHER_FIELDS = (("general", "base_accuracy", 3), ("general", "adapter_accuracy", 3), ("general", "kl_mean", 4),
                 ("train", "seconds", 1), ("train", "examples", 0), ("train", "final_loss", 4))


def load_report(folder: str | Path) -> dict:
    """DIR/report.json (or the file itself); a one-line error naming the path when missing or not JSON."""
    path = Path(folder)
    path = path / "report.json" if path.is_dir() else path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ValueError(f"{path}: cannot read report ({e.strerror})") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if not isinstance(report, dict) or not isinstance(report.get("methods"), dict):
        raise ValueError(f"{path}: not an eval report (no 'methods' object)")
    return report


def _delta(a, b, digits: int) -> str:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return "-"
    return f"{b - a:+.{digits}f}"


def _row(label: str, a, b, digits: int) -> list[str]:
    fa = fmt(float(a), digits) if isinstance(a, (int, float)) else fmt(a)
    fb = fmt(float(b), digits) if isinstance(b, (int, float)) else fmt(b)
    return [label, fa, fb, _delta(a, b, digits)]


def compare_reports(dir_a: str | Path, dir_b: str | Path) -> str:
    """Table of A, B and B - A for every method metric, the forgetting figures and training cost.

    Args:
        dir_a: Folder (or report.json) of the first report, the reference.
        dir_b: Folder (or report.json) of the second report.

    Returns:
        The text to print: one row per (method, metric) and per general/train figure, with a header naming both.
    """
    a, b = load_report(dir_a), load_report(dir_b)
    rows = []
    for method in ordered_methods(list(a["methods"]) + list(b["methods"])):
        ma, mb = a["methods"].get(method, {}), b["methods"].get(method, {})
        for key, digits in _METHOD_FIELDS:
            rows.append(_row(f"{method}.{key}", ma.get(key), mb.get(key), digits))
        cats = sorted(set(ma.get("by_category") or {}) | set(mb.get("by_category") or {}), key=lambda c: (len(c), c))
        for cat in cats:
            ca, cb = (ma.get("by_category") or {}).get(cat, {}), (mb.get("by_category") or {}).get(cat, {})
            rows.append(_row(f"{method}.category_{cat}", ca.get("accuracy"), cb.get("accuracy"), 3))
    for section, key, digits in _OTHER_FIELDS:
        va, vb = (a.get(section) or {}).get(key), (b.get(section) or {}).get(key)
        if va is not None or vb is not None:
            rows.append(_row(f"{section}.{key}", va, vb, digits))
    header = ["metric", "A", "B", "B - A"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [f"A: {dir_a} (seed {a.get('seed', '-')})", f"B: {dir_b} (seed {b.get('seed', '-')})", ""]
    for r in [header, ["-" * w for w in widths], *rows]:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                   strict=True))))
    return "\n".join(line.rstrip() for line in lines)
