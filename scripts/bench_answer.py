"""Benchmark the cost of each way of decoding an answer, side by side in one run: greedy against beam search, and
beam search with the n-best reranker and the "I don't know" margin gate (memory_lora.rerank).

Run (from the repository root):

    python scripts/bench_answer.py [--adapter DIR] [--questions FILE] [--n 20] [--beams 1,4,8] [--rerank 8]
                                   [--max-new-tokens 80] [--base-model NAME] [--json bench_answer.json]

It loads the base model (`load_base(ModelConfig(base_model=...))`, default the bundled SmolLM2-135M-Instruct) and,
with `--adapter DIR` (a PEFT adapter folder, e.g. `STORE/adapters/USER/vN` kept by `eval --keep-store`), the
user's adapter on top, then answers the first `--n` questions of `--questions` (default: the demo user's held-out
set) once per beam count with `memory_lora.generation.generate`, one question at a time as `ask` does. Every beam
count answers the same prompts in one process, so the ratios do not depend on the machine's load between runs;
per-question order is interleaved (each question is answered at every beam count before the next) so a load change
during the run hits every setting alike. `--rerank B` (needs --adapter) adds a row per beam count B answered as
`ask --num-beams B --rerank-weight 0.5 --abstain-margin 0.1` does: the n-best, scoring them and the refusals, and
the embedder. Printed per row: p50 and mean seconds per question, mean reply tokens, the ratio of mean seconds to
greedy's, and how many replies differ from greedy's. The 1-minute load average at start is printed alongside.
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
from memory_lora.generation import generate  # noqa: E402
from memory_lora.prompts import chat_prompt  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--adapter", help="PEFT adapter folder to answer with (default: the base model alone)")
    p.add_argument("--questions", default=str(ROOT / "memory_lora/examples/demo/questions.jsonl"))
    p.add_argument("--n", type=int, default=20, help="questions to answer (the first N of the file)")
    p.add_argument("--beams", default="1,4,8", help="comma-separated beam counts; 1 = greedy, always included")
    p.add_argument("--rerank", default="", help="comma-separated beam counts to also time with the n-best reranker "
                   "and the margin gate (needs --adapter)")
    p.add_argument("--max-new-tokens", type=int, default=80)
    p.add_argument("--base-model", default=ModelConfig().base_model)
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    beams = sorted({1, *(int(b) for b in args.beams.split(","))})
    if beams[0] < 1:
        p.error("--beams must be positive integers")
    reranked = sorted({int(b) for b in args.rerank.split(",") if b})
    if reranked and (not args.adapter or reranked[0] < 2):
        p.error("--rerank needs --adapter and beam counts of at least 2")

    with open(args.questions, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()][: args.n]
    model, tokenizer = load_base(ModelConfig(base_model=args.base_model))
    if args.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, args.adapter)
    model.eval()
    load = os.getloadavg()[0]
    generate(model, tokenizer, [chat_prompt(tokenizer, questions[0])], max_new_tokens=4)  # warm-up

    answerers = {b: Answerer(model, tokenizer, [], "", AnswerConfig(max_new_tokens=args.max_new_tokens, num_beams=b,
                                                                     rerank_weight=0.5, abstain_margin=0.1))
                 for b in reranked}
    settings = [(b, False) for b in beams] + [(b, True) for b in reranked]
    seconds: dict[tuple, list[float]] = {s: [] for s in settings}
    tokens: dict[tuple, list[int]] = {s: [] for s in settings}
    texts: dict[tuple, list[str]] = {s: [] for s in settings}
    for q in questions:
        prompt = chat_prompt(tokenizer, q)
        for b, rerank in settings:
            if rerank:
                reply = answerers[b].answer("parametric", [q])[0]
            else:
                reply = generate(model, tokenizer, [prompt], max_new_tokens=args.max_new_tokens, num_beams=b)[0]
            seconds[b, rerank].append(reply.latency_s)
            tokens[b, rerank].append(len(tokenizer(reply.text, add_special_tokens=False)["input_ids"]))
            texts[b, rerank].append(reply.text)

    rows = []
    greedy_mean = statistics.mean(seconds[1, False])
    for b, rerank in settings:
        s = (b, rerank)
        rows.append({"num_beams": b, "rerank": rerank, "p50_s": statistics.median(seconds[s]),
                     "mean_s": statistics.mean(seconds[s]), "mean_reply_tokens": statistics.mean(tokens[s]),
                     "ratio_to_greedy": statistics.mean(seconds[s]) / greedy_mean,
                     "replies_differing_from_greedy": sum(t != g for t, g in zip(texts[s], texts[1, False],
                                                                                   strict=True))})
    print(f"{len(questions)} questions, adapter {args.adapter or 'none'}, load average {load:.2f}, "
          f"threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    print(f"{'beams':>9} {'p50 s':>7} {'mean s':>7} {'reply tok':>9} {'x greedy':>8} {'differ':>6}")
    for r in rows:
        label = f"{r['num_beams']}{'+rerank' if r['rerank'] else ''}"
        print(f"{label:>9} {r['p50_s']:>7.3f} {r['mean_s']:>7.3f} {r['mean_reply_tokens']:>9.1f} "
              f"{r['ratio_to_greedy']:>8.2f} {r['replies_differing_from_greedy']:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps({"questions": len(questions), "adapter": args.adapter,
                                               "load_average": load, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
