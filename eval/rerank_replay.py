"""What other n-best reranking rules would score, replayed from eval runs' saved beams (no model needed).

With `eval ... --num-beams N --rerank-weight W --save-n-best`, every parametric record in answers.jsonl keeps its
beams and their scores (`n_best`, memory_lora.rerank.n_best_record): the mean token log-probability under the
question's prompt (`mean`), cosine(question, beam) (`sim`), the mean log-probability under a prompt that asks for no
fact in particular (`recite`) and under the question's prompt with the adapter off (`base`). A rule scores each beam
within `margin` of the top beam's mean as

    mean + sim * cosine + recite * recite_mean + pmi * (mean - base_mean)
         + mbr_cos * agreement_cos + mbr_f1 * agreement_f1

(the agreement terms are minimum-Bayes-risk support: a beam's probability-weighted mean similarity to the other
pooled beams, by embedding cosine or token F1) and gives the best; a top beam that refuses is kept, as
memory_lora.rerank.pick does. The "I don't know" gate then applies to the top beam's margin as eval applied it
(`--gate`; below -1 is off). "top" is no reranking, "sim=0.5" the shipped rule, "oracle" the ceiling of any
rule: a pooled beam the metric scores right whenever there is one (it reads the answers: a bound, not a rule).
Rules picked from this table on the questions they are scored on are tuned on those questions: pick on dev runs
(the examples' dev_questions.jsonl answered with `eval --reuse-adapter --save-n-best`), then score held-out runs
once. The embedder is loaded only for mbr_cos. Measured in docs/results/README.md section 34: no rule beat the
shipped one.

Run: python -m eval.rerank_replay RUN_DIR [RUN_DIR ...] [--rule sim=0.5 --rule sim=0.5,recite=0.5 ...]
     [--margin 0.3] [--gate 0.1] [--out FILE.json]
Prints accuracy by question type for each rule, pooled over the runs; --out also writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from eval.files import atomic_write, read_jsonl
from eval.metric.memory_recall.memory_recall import _f1, normalize, score_reply
from memory_lora.prompts import ABSTAIN_REPLY
from memory_lora.rerank import competing, pick, refuses

DEFAULT_RULES = ("oracle", "top", "sim=0.5", "sim=0.5,recite=0.25", "sim=0.5,recite=0.5", "sim=0.5,recite=1",
                 "sim=0.5,pmi=0.25", "sim=0.5,pmi=0.5", "recite=0.5", "pmi=0.5")
WEIGHTS = ("sim", "recite", "pmi", "mbr_cos", "mbr_f1")


def parse_rule(text: str) -> dict[str, float]:
    """"sim=0.5,recite=0.25" -> {"sim": 0.5, "recite": 0.25, "pmi": 0.0, ...}; "top" is every weight 0 (no
    reranking); "oracle" marks the ceiling row (a right pooled beam whenever there is one)."""
    rule = dict.fromkeys(WEIGHTS, 0.0)
    if text.strip() == "top":
        return rule
    if text.strip() == "oracle":
        return {**rule, "oracle": 1.0}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in WEIGHTS:
            raise ValueError(f"bad rule part {part!r} in {text!r}: expected NAME=NUMBER with NAME in {WEIGHTS}")
        rule[key.strip()] = float(value)
    return rule


def token_f1(a: str, b: str) -> float:
    """SQuAD token F1 between two replies (the metric's normalization), symmetric."""
    ta, tb = normalize(a).split(), normalize(b).split()
    return _f1(ta, tb) if ta and tb else 0.0


def agreement(pool: Sequence[int], n_best: Sequence[dict], similarity) -> dict[int, float]:
    """Minimum-Bayes-risk support of each pooled beam: its mean similarity to the other pooled beams, each weighted
    by its probability (softmax of the mean log-probabilities over the pool). 0 for a pool of one."""
    top = max(n_best[j]["mean"] for j in pool)
    weight = {j: math.exp(n_best[j]["mean"] - top) for j in pool}
    out = {}
    for i in pool:
        others = [j for j in pool if j != i]
        total = sum(weight[j] for j in others)
        out[i] = sum(weight[j] * similarity(i, j) for j in others) / total if total else 0.0
    return out


def choose(n_best: Sequence[dict], rule: dict[str, float], margin: float = 0.3, cosines=None,
           answers: Sequence[str] = ()) -> int:
    """Index of the beam a rule gives (0, the top beam, when it refuses or no other beam competes).

    Args:
        n_best: The record's saved beams.
        rule: Weights from parse_rule.
        margin: Beams within this mean log-probability of the top one compete.
        cosines: Beam-by-beam cosine matrix (needed by mbr_cos only).
        answers: The gold answers (read by the oracle row only).
    """
    if not n_best or refuses(n_best[0]["text"]):
        return 0
    texts, means = [b["text"] for b in n_best], [b["mean"] for b in n_best]
    pool = competing(texts, means, margin)
    if rule.get("oracle"):
        return next((i for i in pool if score_reply(texts[i], answers)["accuracy"] >= 1.0), 0)
    if not any(rule[name] for name in WEIGHTS):
        return 0  # "top": the decoder's own choice, as pick gives with weight 0
    bonus = [0.0] * len(n_best)
    for i in pool:
        beam = n_best[i]
        bonus[i] = rule["sim"] * (beam["sim"] or 0.0) + rule["recite"] * (beam["recite"] or 0.0)
        if rule["pmi"]:
            bonus[i] += rule["pmi"] * (beam["mean"] - beam["base"])
    if rule["mbr_cos"]:
        for i, v in agreement(pool, n_best, lambda i, j: cosines[i][j]).items():
            bonus[i] += rule["mbr_cos"] * v
    if rule["mbr_f1"]:
        for i, v in agreement(pool, n_best, lambda i, j: token_f1(texts[i], texts[j])).items():
            bonus[i] += rule["mbr_f1"] * v
    return pick(texts, means, bonus, 1.0, margin)  # the shipped reranker's choice, with the rule's terms as its score


def replay_reply(record: dict, rule: dict[str, float], margin: float = 0.3, gate: float | None = 0.1,
                 cosines=None) -> str:
    """The reply a record would have had under `rule` and the margin gate at `gate` (None: no gate)."""
    text = record["n_best"][choose(record["n_best"], rule, margin, cosines, record["answers"])]["text"]
    if gate is not None and record["idk_margin"] <= gate and not refuses(text):
        return ABSTAIN_REPLY
    return text


def beam_cosines(records: Sequence[dict], embedder: str = "all-minilm-l6-v2") -> list[list[list[float]]]:
    """Per record, the cosine matrix of its beams under the sentence embedder eval's reranker uses."""
    from memory_lora.retrieval import load_embedder

    model = load_embedder(embedder)
    out = []
    for r in records:
        emb = model.encode([b["text"] for b in r["n_best"]], convert_to_tensor=True, normalize_embeddings=True,
                           show_progress_bar=False)
        out.append((emb @ emb.T).tolist())
    return out


def replay_runs(run_dirs: Sequence[str | Path], rules: Sequence[str], margin: float = 0.3,
                gate: float | None = 0.1, method: str = "parametric",
                embedder: str = "all-minilm-l6-v2") -> dict[str, dict[str, list[int]]]:
    """{rule: {question type: [right, asked]}} pooled over the runs' records that kept their beams.

    Raises:
        ValueError: A run has no record with saved beams (it was not run with --save-n-best).
    """
    records = []
    for run in run_dirs:
        rows = [r for r in read_jsonl(Path(run) / "answers.jsonl") if r["method"] == method and r.get("n_best")]
        if not rows:
            raise ValueError(f"{run}/answers.jsonl: no {method} record has n_best; answer with --save-n-best")
        records += rows
    parsed = {text: parse_rule(text) for text in rules}
    cosines = [None] * len(records)
    if any(rule["mbr_cos"] for rule in parsed.values()):
        cosines = beam_cosines(records, embedder)
    table: dict[str, dict[str, list[int]]] = {}
    for text, rule in parsed.items():
        by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r, cos in zip(records, cosines, strict=True):
            right = score_reply(replay_reply(r, rule, margin, gate, cos), r["answers"])["accuracy"] >= 1.0
            for key in (r["type"], "all"):
                by_type[key][0] += int(right)
                by_type[key][1] += 1
        table[text] = dict(by_type)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.rerank_replay", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="eval output folders answered with --save-n-best")
    p.add_argument("--rule", action="append", help=f"NAME=W[,NAME=W] with NAME in {WEIGHTS}, top or oracle "
                   f"(repeatable; default: {' '.join(DEFAULT_RULES)})")
    p.add_argument("--margin", type=float, default=0.3, help="beams this close to the top one compete")
    p.add_argument("--gate", type=float, default=0.1, help="the idk-margin gate (below -1: off)")
    p.add_argument("--method", default="parametric")
    p.add_argument("--out", help="also write the table here as JSON")
    args = p.parse_args(argv)
    gate = None if args.gate < -1 else args.gate
    try:
        table = replay_runs(args.runs, args.rule or DEFAULT_RULES, args.margin, gate, args.method)
    except (ValueError, OSError) as e:
        print(f"error: {e}")
        return 2
    types = sorted({t for row in table.values() for t in row if t != "all"})
    print("| rule | " + " | ".join(types) + " | all |")
    print("|---|" + "---|" * (len(types) + 1))
    for rule, row in table.items():
        cells = [f"{row[t][0]}/{row[t][1]}" if t in row else "-" for t in [*types, "all"]]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    if args.out:
        doc = {"runs": [str(r) for r in args.runs], "margin": args.margin, "gate": gate, "table": table}
        atomic_write(Path(args.out), lambda f: f.write(json.dumps(doc, indent=2) + "\n"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
