"""What the abstention gate would score at other thresholds, recomputed from an eval run's answers.jsonl.

Eval records, for every parametric and hybrid reply, the probability the adapter gave "I don't know" as its first
token (`abstain_p`) and the greedy reply the gate replaced (`ungated_reply`), so any threshold can be replayed
without the adapter. A threshold picked from this table on the same questions is tuned on the test set; with
--calibrate-on DEV_DIR the threshold is instead picked on another run's questions (a development set, e.g. the
examples' dev_questions.jsonl answered with `eval --reuse-adapter`) and this run is scored at it.

Run: python -m eval.gate_sweep RUN_DIR [--thresholds 0.05,0.1,0.2] [--method parametric] [--calibrate-on DEV_DIR]
Writes RUN_DIR/gate_sweep.json and RUN_DIR/gate_sweep.png, prints a table of accuracy by question type.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from eval.files import atomic_write, read_jsonl, write_png
from eval.metric.memory_recall.memory_recall import score_reply
from memory_lora.prompts import ABSTAIN_REPLY

DEFAULT_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def replay(record: dict, threshold: float) -> str:
    """The reply the gate would have given at `threshold` (1.0 or more = gate off)."""
    greedy = record.get("ungated_reply") or record["reply"]
    return ABSTAIN_REPLY if record["abstain_p"] >= threshold else greedy


def sweep(records: list[dict], thresholds=DEFAULT_THRESHOLDS, method: str = "parametric") -> dict:
    """Accuracy overall and per question type at each threshold, for one method's records.

    Returns:
        {"method", "n", "thresholds": [{"threshold", "accuracy", "by_type": {type: accuracy}}, ...]}.

    Raises:
        ValueError: When the records carry no abstain_p (an eval run from before the gate existed).
    """
    rows = [r for r in records if r.get("method") == method]
    if not rows or any("abstain_p" not in r for r in rows):
        raise ValueError(f"no {method} records with abstain_p: re-run eval with this version")
    out = []
    for t in thresholds:
        by_type: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            by_type[r["type"]].append(score_reply(replay(r, t), r["answers"])["accuracy"])
        everything = [s for scores in by_type.values() for s in scores]
        out.append({"threshold": t, "accuracy": round(sum(everything) / len(everything), 4),
                    "by_type": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_type.items())}})
    return {"method": method, "n": len(rows), "thresholds": out}


def calibrate(dev_records: list[dict], thresholds=DEFAULT_THRESHOLDS, method: str = "parametric") -> dict:
    """The threshold with the best balanced accuracy (mean over question types) on a development run.

    Balanced, because a development set holds far more unanswerable questions than a user asks, and plain accuracy
    would reward refusing. Ties go to the higher threshold: the gate that intervenes least.

    Returns:
        {"threshold", "dev_macro", "dev_by_type"}.
    """
    points = sweep(dev_records, thresholds, method)["thresholds"]
    best = max(points, key=lambda p: (round(sum(p["by_type"].values()) / len(p["by_type"]), 4), p["threshold"]))
    macro = round(sum(best["by_type"].values()) / len(best["by_type"]), 4)
    return {"threshold": best["threshold"], "dev_macro": macro, "dev_by_type": best["by_type"]}


def _records(run: Path) -> list[dict]:
    return read_jsonl(run / "answers.jsonl")


def sweep_figure(result: dict, used: float | None = None):
    """Accuracy per question type against the gate threshold (log x axis)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    points = result["thresholds"]
    xs = [p["threshold"] for p in points]
    for qtype in points[0]["by_type"]:
        ax.plot(xs, [p["by_type"][qtype] for p in points], marker="o", label=qtype)
    ax.plot(xs, [p["accuracy"] for p in points], color="black", linewidth=2.5, label="overall")
    if used is not None:
        ax.axvline(used, color="gray", linestyle="--", label=f"run's threshold {used:g}")
    ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel('gate threshold on P("I" as first token); 1 = gate off')
    ax.set_ylabel("accuracy")
    ax.set_title(f"Abstention gate sweep ({result['method']}, n={result['n']}, replayed from answers.jsonl)")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="an eval output folder (answers.jsonl, report.json)")
    parser.add_argument("--thresholds", default=",".join(str(t) for t in DEFAULT_THRESHOLDS))
    parser.add_argument("--method", default="parametric", choices=("parametric", "hybrid"))
    parser.add_argument("--calibrate-on", metavar="DEV_DIR",
                        help="pick the threshold on this other eval run (its best balanced accuracy) and score RUN_DIR "
                             "at it")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    records = _records(run)
    thresholds = sorted({float(t) for t in args.thresholds.split(",")})
    result = sweep(records, thresholds, args.method)
    if args.calibrate_on:
        chosen = calibrate(_records(Path(args.calibrate_on)), thresholds, args.method)
        at = next(p for p in result["thresholds"] if p["threshold"] == chosen["threshold"])
        result["calibrated"] = {"on": args.calibrate_on, **chosen, "accuracy": at["accuracy"], "by_type": at["by_type"]}
    report = json.loads((run / "report.json").read_text(encoding="utf-8")) if (run / "report.json").exists() else {}
    used = (((report.get("config") or {}).get("run") or {}).get("answer") or {}).get("abstain_threshold")
    atomic_write(run / "gate_sweep.json", lambda fh: json.dump(result, fh, indent=2))
    write_png(run / "gate_sweep.png", sweep_figure(result, used))
    types = list(result["thresholds"][0]["by_type"])
    print("threshold  overall  " + "  ".join(f"{t[:12]:>12}" for t in types))
    for p in result["thresholds"]:
        print(f"{p['threshold']:>9g}  {p['accuracy']:7.3f}  " + "  ".join(f"{p['by_type'][t]:12.3f}" for t in types))
    if "calibrated" in result:
        cal = result["calibrated"]
        print(f"threshold chosen on {cal['on']}: {cal['threshold']:g} (dev balanced accuracy {cal['dev_macro']:.3f}); "
              f"this run at it: overall {cal['accuracy']:.3f}, "
              + ", ".join(f"{t} {a:.3f}" for t, a in cal["by_type"].items()))
    print(f"wrote {run / 'gate_sweep.json'} and {run / 'gate_sweep.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
