"""Fits a learned verifier over the adapter's saved beams on dev and replays it on held-out (section 36).

The protocol is docs/results/verifier_36/prereg.md: a logistic regression scores every beam from what the n-best
records hold, the reply is the best-scored competing beam, and "I don't know" when that score is under a threshold
chosen out of fold on the dev sets (leave one run out). Reads docs/results/nbest_34 and docs/results/devmore_35.

Run: python docs/results/verifier_36/verifier.py [--extra-test RUN_DIR ...]     (from the repository root)
Needs scikit-learn (`pip install scikit-learn`), which the package itself does not depend on: the verifier was
rejected, so it never became product code.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import math
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, ".")
sys.path.insert(0, "docs/results/typed_35")
from replay_typed import fits, kind  # noqa: E402

from eval.metric.memory_recall.memory_recall import score_reply  # noqa: E402
from eval.rerank_replay import parse_rule, replay_reply  # noqa: E402
from memory_lora.prompts import ABSTAIN_REPLY  # noqa: E402
from memory_lora.rerank import competing, refuses  # noqa: E402

SHIPPED = parse_rule("sim=0.5")
FEATURES = ("mean", "gap", "margin", "sim", "recite", "base", "pmi", "log_words", "rank", "type_fit", "type_miss")
THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 0.96, 0.02)]


def runs() -> list[str]:
    """The eight kept runs' names (demo/ravi x seeds), as nbest_34 names them."""
    return sorted(Path(d).name for d in glob.glob("docs/results/nbest_34/*_s?"))


def dev_records(run: str) -> list[dict]:
    """The run's dev questions: dev_questions.jsonl (nbest_34) and dev_questions_more.jsonl (devmore_35)."""
    user, seed = run.split("_")[0], run.split("_")[-1]
    return _read(f"docs/results/nbest_34/{run}/dev/answers.jsonl") + _read(
        f"docs/results/devmore_35/{user}_{seed}/answers.jsonl")


def _read(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r["method"] == "parametric" and r.get("n_best")]


def beam_features(record: dict, i: int) -> list[float]:
    """One beam's features (FEATURES order)."""
    beam, top = record["n_best"][i], record["n_best"][0]
    k = kind(record["question"])
    fit = bool(k) and fits(k, beam["text"])
    return [beam["mean"], beam["mean"] - top["mean"], beam["mean"] - beam["idk_mean"], beam["sim"] or 0.0,
            beam["recite"] or 0.0, beam["base"] or 0.0, beam["mean"] - (beam["base"] or 0.0),
            math.log(1 + len(beam["text"].split())), float(i), float(fit), float(bool(k) and not fit)]


def right(record: dict, text: str) -> bool:
    """Whether a reply is right for the record's question (abstention: a refusal)."""
    if record["type"] == "abstention":
        return refuses(text)
    return score_reply(text, record["answers"])["accuracy"] >= 1.0


def rows(records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every non-refusing beam of the records."""
    x, y = [], []
    for r in records:
        for i, beam in enumerate(r["n_best"]):
            if not refuses(beam["text"]):
                x.append(beam_features(r, i))
                y.append(0 if r["type"] == "abstention" else int(right(r, beam["text"])))
    return np.array(x), np.array(y)


def fit(records: list[dict]):
    """A scaler and logistic regression fitted on the records' beams."""
    x, y = rows(records)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(scaler.transform(x), y)
    return scaler, model


def decide(record: dict, scaler, model, threshold: float) -> str:
    """The verifier's reply for one record."""
    beams = record["n_best"]
    if refuses(beams[0]["text"]):
        return beams[0]["text"]
    pool = competing([b["text"] for b in beams], [b["mean"] for b in beams], 0.3)
    probs = model.predict_proba(scaler.transform(np.array([beam_features(record, i) for i in pool])))[:, 1]
    best = int(np.argmax(probs))
    return beams[pool[best]]["text"] if probs[best] >= threshold else ABSTAIN_REPLY


def tally(records: list[dict], reply_of) -> dict[str, list[int]]:
    """{question type: [right, asked]} under a reply function."""
    out = collections.defaultdict(lambda: [0, 0])
    for r in records:
        out[r["type"]][0] += right(r, reply_of(r))
        out[r["type"]][1] += 1
    return dict(out)


def fmt(t: dict[str, list[int]]) -> str:
    return " ".join(f"{k}:{v[0]}/{v[1]}" for k, v in sorted(t.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra-test", nargs="*", default=[], help="run folders never used for fitting (answers.jsonl)")
    args = ap.parse_args()
    names = runs()
    dev = {n: dev_records(n) for n in names}
    # threshold out of fold: leave one run out
    oof = {t: 0 for t in THRESHOLDS}
    for held in names:
        scaler, model = fit([r for n in names if n != held for r in dev[n]])
        for t in THRESHOLDS:
            oof[t] += sum(right(r, decide(r, scaler, model, t)) for r in dev[held])
    best_t = max(THRESHOLDS, key=lambda t: (oof[t], t))
    print("out-of-fold dev right answers by threshold:",
          " ".join(f"{t}:{oof[t]}" for t in THRESHOLDS if t in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, best_t)))
    print(f"chosen threshold {best_t} ({oof[best_t]} of {sum(len(v) for v in dev.values())})")
    scaler, model = fit([r for n in names for r in dev[n]])
    weights = zip(FEATURES, model.coef_[0], strict=True)
    print("coefficients (standardised):", ", ".join(f"{f} {c:+.2f}" for f, c in weights))
    all_dev = [r for n in names for r in dev[n]]
    print("dev shipped gate 0.1:", fmt(tally(all_dev, lambda r: replay_reply(r, SHIPPED, gate=0.1))))
    print("dev verifier (in-sample):", fmt(tally(all_dev, lambda r: decide(r, scaler, model, best_t))))
    tests = [(n, _read(f"docs/results/nbest_34/{n}/answers.jsonl")) for n in names]
    tests += [(Path(d).name, _read(f"{d}/answers.jsonl")) for d in args.extra_test]
    for label, chooser in (("shipped gate 0.1", lambda r: replay_reply(r, SHIPPED, gate=0.1)),
                           ("shipped gate off", lambda r: replay_reply(r, SHIPPED, gate=None)),
                           ("verifier", lambda r: decide(r, scaler, model, best_t))):
        print(f"== held-out, {label}")
        pooled = collections.defaultdict(lambda: [0, 0])
        for name, recs in tests:
            t = tally(recs, chooser)
            print(f"  {name:18s} {fmt(t)}")
            if not name.endswith("_s4"):
                for k, v in t.items():
                    pooled[k][0] += v[0]
                    pooled[k][1] += v[1]
        print(f"  {'pooled (8 kept)':18s} {fmt(pooled)}")


if __name__ == "__main__":
    main()
