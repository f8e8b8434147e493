"""Benchmark the cost of each answer recipe, side by side in one run: greedy decoding against beam search, the n-best
reranker and the "I don't know" gate, all through the one answer pipeline `ask`, `eval` and `serve` use.

Run (from the repository root):

    python scripts/bench_answer.py [--adapter DIR] [--questions FILE] [--n 20]
                                   [--recipes 1,1+gate,4+rerank+gate,8+rerank+gate]
                                   [--max-new-tokens 80] [--base-model NAME] [--json bench_answer.json]

It loads the base model (default the bundled SmolLM2-135M-Instruct) and, with `--adapter DIR` (a PEFT adapter
folder, e.g. `STORE/adapters/USER/vN` kept by `eval --keep_store`), the user's adapter on top, then answers the first
`--n` questions of `--questions` (default: the demo user's held-out set) once per recipe with
`memory_lora.answer.Answerer`, one question at a time as `ask` does. A recipe is a beam count, with `+rerank`
(answer.rerank_weight 0.5) and `+gate` (the "I don't know" gate scored on every reply; its threshold does not
change the cost). Every recipe answers the same prompts in one process, interleaved question by question, so a load
change during the run hits every recipe alike and the ratios do not depend on the machine's load between runs.
Printed per recipe: p50 and mean seconds per question, mean reply tokens, the ratio of mean seconds to greedy's, and
how many replies differ from greedy's. The 1-minute load average at start is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_lora.answer import Answerer  # noqa: E402
from memory_lora.base_model import load_base  # noqa: E402
from memory_lora.config import AnswerConfig, ModelConfig  # noqa: E402


def parse_recipe(text: str) -> dict:
    """'4+rerank+gate' -> {"name", "num_beams": 4, "rerank": True, "gate": True}."""
    parts = text.strip().split("+")
    if not parts[0].isdigit() or int(parts[0]) < 1 or set(parts[1:]) - {"rerank", "gate"}:
        raise ValueError(f"a recipe is a beam count with optional +rerank and +gate, got {text!r}")
    beams, extras = int(parts[0]), set(parts[1:])
    if "rerank" in extras and beams < 2:
        raise ValueError(f"{text!r}: reranking needs at least 2 beams")
    return {"name": text.strip(), "num_beams": beams, "rerank": "rerank" in extras, "gate": "gate" in extras}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--adapter", help="PEFT adapter folder to answer with (default: the base model alone)")
    p.add_argument("--questions", default=str(ROOT / "memory_lora/examples/demo/questions.jsonl"))
    p.add_argument("--n", type=int, default=20, help="questions to answer (the first N of the file)")
    p.add_argument("--recipes", default="1,4,8,1+gate,4+rerank+gate,8+rerank+gate",
                   help="comma-separated recipes; greedy (1) is always included as the reference")
    p.add_argument("--max-new-tokens", type=int, default=80)
    p.add_argument("--base-model", default=ModelConfig().base_model)
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    try:
        recipes = [parse_recipe("1")] + [parse_recipe(r) for r in args.recipes.split(",") if r.strip() != "1"]
    except ValueError as e:
        p.error(str(e))
    if any(r["rerank"] or r["gate"] for r in recipes) and not args.adapter:
        p.error("+rerank and +gate apply to an adapter: give --adapter")

    with open(args.questions, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()][: args.n]
    model, tokenizer = load_base(ModelConfig(base_model=args.base_model))
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter)
    method = "parametric" if args.adapter else "base"
    answerers = {}
    for r in recipes:
        config = AnswerConfig(max_new_tokens=args.max_new_tokens, num_beams=r["num_beams"],
                              rerank_weight=0.5 if r["rerank"] else 0.0, use_calibrated_gate=False)
        # -inf scores every reply against the refusals and refuses none: the gate's whole cost, the greedy text
        answerers[r["name"]] = (Answerer(model, tokenizer, [], "", config), -float("inf") if r["gate"] else None)
    load = os.getloadavg()[0]
    answerers["1"][0].answer(method, questions[:1])  # warm-up
    for ans, gate in answerers.values():
        if gate is not None or ans.config.rerank_weight:
            ans.answer(method, questions[:1], gate=gate)  # loads the embedder, warms the scoring pass

    seconds = {r["name"]: [] for r in recipes}
    tokens = {r["name"]: [] for r in recipes}
    texts = {r["name"]: [] for r in recipes}
    for q in questions:
        for name, (ans, gate) in answerers.items():
            reply = ans.answer(method, [q], gate=gate)[0]
            seconds[name].append(reply.latency_s)
            tokens[name].append(len(tokenizer(reply.text, add_special_tokens=False)["input_ids"]))
            texts[name].append(reply.text)

    rows = []
    greedy_mean = statistics.mean(seconds["1"])
    for r in recipes:
        name = r["name"]
        rows.append({**r, "p50_s": statistics.median(seconds[name]), "mean_s": statistics.mean(seconds[name]),
                     "mean_reply_tokens": statistics.mean(tokens[name]),
                     "ratio_to_greedy": statistics.mean(seconds[name]) / greedy_mean,
                     "replies_differing_from_greedy": sum(t != g for t, g in zip(texts[name], texts["1"],
                                                                                   strict=True))})
    print(f"{len(questions)} questions, adapter {args.adapter or 'none'}, load average {load:.2f}, "
          f"threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    print(f"{'recipe':>15} {'p50 s':>7} {'mean s':>7} {'reply tok':>9} {'x greedy':>8} {'differ':>6}")
    for r in rows:
        print(f"{r['name']:>15} {r['p50_s']:>7.3f} {r['mean_s']:>7.3f} {r['mean_reply_tokens']:>9.1f} "
              f"{r['ratio_to_greedy']:>8.2f} {r['replies_differing_from_greedy']:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps({"questions": len(questions), "adapter": args.adapter,
                                               "load_average": load, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
