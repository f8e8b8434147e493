"""What the abstention gate would score at other thresholds, recomputed from an eval run's answers.jsonl.

Eval records, for every parametric and hybrid reply, the probability the adapter gave "I don't know" as its first
token (`abstain_p`) and the greedy reply the gate replaced (`ungated_reply`), so any threshold can be replayed
without the adapter. A threshold picked from this table on the same questions is tuned on the test set; with
--calibrate-on DEV_DIR the threshold is instead picked on another run's questions (a development set, e.g. the
examples' dev_questions.jsonl answered with `eval --reuse-adapter`) and this run is scored at it. Several dev runs
(other seeds or users trained with the same config) are pooled into one set, so a default threshold can be picked on
more questions than one dev set holds.

The self-consistency gate (`eval --consistency-samples K`) is replayed the same way with --signal agreement: eval
records each reply's share of agreeing samples (`agreement`), and a reply abstains when it is below the threshold.
So is "I don't know" scored as a reply (`eval --rerank-weight W` or `--abstain-margin M`, memory_lora.rerank) with
--signal idk-margin: eval records how much more probable the reply was than a refusal (`idk_margin`, mean token
log-probability), and a reply abstains when that is at most the threshold.

Run: python -m eval.gate_sweep RUN_DIR [--thresholds 0.05,0.1,0.2] [--method parametric] [--calibrate-on DEV_DIR ...]
     python -m eval.gate_sweep RUN_DIR --signal agreement [--calibrate-on DEV_DIR ...]
     python -m eval.gate_sweep RUN_DIR --signal idk-margin [--calibrate-on DEV_DIR ...]
Writes RUN_DIR/gate_sweep.json and RUN_DIR/gate_sweep.png (gate_sweep_SIGNAL.* for the other signals), prints a
table of accuracy by question type.
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
AGREEMENT_THRESHOLDS = (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
# -1 is off in practice: a reply a whole nat per token less probable than a refusal is one beam search would not give.
MARGIN_THRESHOLDS = (-1.0, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
# Per gate: the record key it reads, the threshold that turns it off, and the x-axis label of its figure.
SIGNALS = {
    "first-token": ("abstain_p", 1.0, 'gate threshold on P("I" as first token); 1 = gate off'),
    "agreement": ("agreement", 0.0, "gate threshold on the share of samples agreeing with the greedy reply; 0 = off"),
    "idk-margin": ("idk_margin", -1.0, "gate threshold on the reply's log-probability margin over \"I don't know\""),
}
DEFAULTS = {"first-token": DEFAULT_THRESHOLDS, "agreement": AGREEMENT_THRESHOLDS, "idk-margin": MARGIN_THRESHOLDS}


def replay(record: dict, threshold: float, signal: str = "first-token") -> str:
    """The reply the gate would have given at `threshold` (first-token: 1.0 or more is off; agreement: 0 is off)."""
    greedy = record.get("ungated_reply") or record["reply"]
    if signal == "agreement":
        return ABSTAIN_REPLY if record["agreement"] < threshold else greedy
    if signal == "idk-margin":
        return ABSTAIN_REPLY if record["idk_margin"] <= threshold else greedy
    return ABSTAIN_REPLY if record["abstain_p"] >= threshold else greedy


def sweep(records: list[dict], thresholds=DEFAULT_THRESHOLDS, method: str = "parametric",
          signal: str = "first-token") -> dict:
    """Accuracy overall and per question type at each threshold, for one method's records.

    Returns:
        {"method", "signal", "n", "thresholds": [{"threshold", "accuracy", "by_type": {type: accuracy}}, ...]}.

    Raises:
        ValueError: When the records carry no value of the signal (a run from before the gate existed, or for
            agreement one run without --consistency-samples).
    """
    key = SIGNALS[signal][0]
    rows = [r for r in records if r.get("method") == method]
    if not rows or any(r.get(key) is None for r in rows):
        hint = {"agreement": "eval --consistency-samples K", "idk-margin": "eval --rerank-weight W"}.get(signal,
                                                                                                     "this version")
        raise ValueError(f"no {method} records with {key}: re-run with {hint}")
    out = []
    for t in thresholds:
        by_type: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            by_type[r["type"]].append(score_reply(replay(r, t, signal), r["answers"])["accuracy"])
        everything = [s for scores in by_type.values() for s in scores]
        out.append({"threshold": t, "accuracy": round(sum(everything) / len(everything), 4),
                    "by_type": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_type.items())}})
    return {"method": method, "signal": signal, "n": len(rows), "thresholds": out}


def calibrate(dev_records: list[dict], thresholds=DEFAULT_THRESHOLDS, method: str = "parametric",
              signal: str = "first-token") -> dict:
    """The threshold with the best balanced accuracy (mean over question types) on a development run.

    Balanced, because a development set holds far more unanswerable questions than a user asks, and plain accuracy
    would reward refusing. Ties go to the threshold nearest the gate's off value: the gate that intervenes least.

    Returns:
        {"threshold", "dev_macro", "dev_by_type"}.
    """
    points = sweep(dev_records, thresholds, method, signal)["thresholds"]
    off = SIGNALS[signal][1]
    best = max(points, key=lambda p: (round(sum(p["by_type"].values()) / len(p["by_type"]), 4),
                                      -abs(p["threshold"] - off)))
    macro = round(sum(best["by_type"].values()) / len(best["by_type"]), 4)
    return {"threshold": best["threshold"], "dev_macro": macro, "dev_by_type": best["by_type"]}


def _records(run: Path) -> list[dict]:
    return read_jsonl(run / "answers.jsonl")


def sweep_figure(result: dict, used: float | None = None):
    """Accuracy per question type against the gate threshold (log x axis for the first-token gate)."""
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
    signal = result.get("signal", "first-token")
    if signal == "first-token":
        ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(SIGNALS[signal][2])
    ax.set_ylabel("accuracy")
    ax.set_title(f"Abstention gate sweep, {signal} ({result['method']}, n={result['n']}, replayed from answers.jsonl)")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="an eval output folder (answers.jsonl, report.json)")
    parser.add_argument("--signal", default="first-token", choices=sorted(SIGNALS),
                        help="the gate to replay: first-token probability of \"I don't know\", the "
                             "self-consistency agreement (runs made with --consistency-samples), or the margin over "
                             "\"I don't know\" as a scored reply (runs made with --rerank-weight or --abstain-margin)")
    parser.add_argument("--thresholds", help="comma-separated; default depends on --signal")
    parser.add_argument("--method", default="parametric", choices=("parametric", "hybrid"))
    parser.add_argument("--calibrate-on", metavar="DEV_DIR", nargs="+",
                        help="pick the threshold on these other eval runs, pooled (their best balanced accuracy), and "
                             "score RUN_DIR at it")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    records = _records(run)
    thresholds = (sorted({float(t) for t in args.thresholds.split(",")}) if args.thresholds
                  else list(DEFAULTS[args.signal]))
    result = sweep(records, thresholds, args.method, args.signal)
    if args.calibrate_on:
        dev = [r for d in args.calibrate_on for r in _records(Path(d))]
        chosen = calibrate(dev, thresholds, args.method, args.signal)
        at = next(p for p in result["thresholds"] if p["threshold"] == chosen["threshold"])
        result["calibrated"] = {"on": args.calibrate_on, **chosen, "accuracy": at["accuracy"], "by_type": at["by_type"]}
    report = json.loads((run / "report.json").read_text(encoding="utf-8")) if (run / "report.json").exists() else {}
    answer = ((report.get("config") or {}).get("run") or {}).get("answer") or {}
    used = answer.get({"agreement": "consistency_threshold", "idk-margin": "abstain_margin"}.get(args.signal,
                                                                                                 "abstain_threshold"))
    stem = "gate_sweep" if args.signal == "first-token" else f"gate_sweep_{args.signal.replace('-', '_')}"
    atomic_write(run / f"{stem}.json", lambda fh: json.dump(result, fh, indent=2))
    write_png(run / f"{stem}.png", sweep_figure(result, used))
    types = list(result["thresholds"][0]["by_type"])
    print("threshold  overall  " + "  ".join(f"{t[:12]:>12}" for t in types))
    for p in result["thresholds"]:
        print(f"{p['threshold']:>9g}  {p['accuracy']:7.3f}  " + "  ".join(f"{p['by_type'][t]:12.3f}" for t in types))
    if "calibrated" in result:
        cal = result["calibrated"]
        print(f"threshold chosen on {', '.join(cal['on'])}: {cal['threshold']:g} "
              f"(dev balanced accuracy {cal['dev_macro']:.3f}); "
              f"this run at it: overall {cal['accuracy']:.3f}, "
              + ", ".join(f"{t} {a:.3f}" for t, a in cal["by_type"].items()))
    print(f"wrote {run / f'{stem}.json'} and {run / f'{stem}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
