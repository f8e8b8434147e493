"""Benchmark LoRA training throughput against the machine's dense matmul peak, in one run.

Run (from the repository root; on the shared 2-core AVX2 CPU the default run took 4.6 minutes, 246 s of it the
20 training steps at ~45 tokens/s; `--max-steps 10` roughly halves that):

    python scripts/bench_train.py [--max-steps 20] [--batch-size 16] [--precision auto|no|bf16]
                                  [--device auto|cpu|cuda] [--json bench_train.json]

What it measures, side by side:

1. Dense matmul peak, fp32 and bf16, on the training device: `torch.matmul` of the shapes the model's linear layers
   run at (`--peak-tokens` rows, default 512, times 576x1536, 1536x576, 576x576, 576x192), each warmed up and then
   repeated for a short time budget; the best repeat of the best shape is the peak.
2. LoRA training throughput with the real training code (`memory_lora.train.train_lora`) on the bundled demo user
   (memory_lora/examples/demo/memories.jsonl, examples from `build_dataset(memories, "Maya")`, base model from
   `load_base(ModelConfig())`), for `--max-steps` optimizer steps, no replay. Tokens, seconds and tokens/s are the
   metrics train_lora returns (tokens = non-padding tokens; its timer includes the first, slower steps).
3. Model FLOPs per training token and the achieved share of the peak. With frozen base weights only gradients with
   respect to activations flow back through the base, so, per token:

       base linears   4 N               N = weights of every nn.Linear inside the decoder layers (embedding and
                                        LM head excluded); forward 2N + backward-through-activations 2N
                                        (no weight gradients: the base is frozen)
       LoRA           6 r sum(in+out)   over the adapted linears: forward 2r(in+out), activation grads 2r(in+out),
                                        weight grads of A and B 2r(in+out)
       attention      12 L c d_attn     L layers, c = mean example length (context), d_attn = heads * head_dim;
                                        QK^T and AV forward 4 c d_attn, backward twice that (both operands are
                                        activations); the full c x c score matrix is counted, as SDPA computes it
       LM head        4 d V f           only at answer positions (train.answer_loss), f = answer tokens / tokens;
                                        forward 2dV + backward-through-activations 2dV (tied head, frozen)

   achieved GFLOP/s = tokens/s * FLOPs per token / 1e9, reported as a ratio of the fp32 and the bf16 peak.
4. Seconds of training per memory at the default TrainConfig: examples per memory on the demo * default epochs *
   mean tokens per example / measured tokens/s (plus the same with the default replay share added, assuming replay
   examples as long as memory examples).

The table goes to stdout; `--json PATH` writes the same numbers as JSON. On a shared machine the numbers move with
the load: the 1-minute load average at start is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
DEMO_MEMORIES = REPO / "memory_lora" / "examples" / "demo" / "memories.jsonl"
PEAK_SHAPES = ((576, 1536), (1536, 576), (576, 576), (576, 192))  # (k, n) of the model's linear layers


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(m: int, k: int, n: int, dtype: torch.dtype, device: torch.device, budget_s: float,
                  min_repeats: int = 3, max_repeats: int = 50) -> float:
    """Best GFLOP/s of (m x k) @ (k x n): warm up, then time repeats (each >= ~20 ms) until the budget is spent."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(m, k, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(k, n, generator=gen).to(device=device, dtype=dtype)
    for _ in range(2):  # warm-up: thread pool, kernel selection, caches
        torch.matmul(a, b)
    _sync(device)
    start = time.perf_counter()
    torch.matmul(a, b)
    _sync(device)
    one = max(time.perf_counter() - start, 1e-6)
    inner = max(1, int(0.02 / one))  # calls per repeat, so tiny GPU kernels are not timer-bound
    flops = 2.0 * m * k * n * inner
    best, begin, repeats = 0.0, time.perf_counter(), 0
    while repeats < min_repeats or (repeats < max_repeats and time.perf_counter() - begin < budget_s):
        start = time.perf_counter()
        for _ in range(inner):
            torch.matmul(a, b)
        _sync(device)
        best = max(best, flops / (time.perf_counter() - start) / 1e9)
        repeats += 1
    return best


def measure_peak(device: torch.device, tokens: int, budget_s: float) -> dict:
    """{"fp32": {"best": GFLOP/s, "shapes": {"MxKxN": GFLOP/s}}, "bf16": {...}}."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        shapes = {f"{tokens}x{k}x{n}": round(matmul_gflops(tokens, k, n, dtype, device, budget_s), 2)
                  for k, n in PEAK_SHAPES}
        out[name] = {"best": max(shapes.values()), "shapes": shapes}
    return out


def flops_per_token(model, lora_r: int, targets: list[str], mean_len: float, answer_fraction: float) -> dict:
    """Training FLOPs per token of frozen-base LoRA, by component (see the module docstring)."""
    cfg = model.config
    base_linear, lora_dims = 0, 0
    for name, module in model.get_decoder().named_modules():
        if isinstance(module, torch.nn.Linear):
            base_linear += module.in_features * module.out_features
            if name.rsplit(".", 1)[-1] in targets:
                lora_dims += module.in_features + module.out_features
    d_attn = cfg.num_attention_heads * getattr(cfg, "head_dim", cfg.hidden_size // cfg.num_attention_heads)
    parts = {
        "base_linear_4N": 4.0 * base_linear,
        "lora": 6.0 * lora_r * lora_dims,
        "attention": 12.0 * cfg.num_hidden_layers * mean_len * d_attn,
        "lm_head_answers": 4.0 * cfg.hidden_size * cfg.vocab_size * answer_fraction,
    }
    return {"N_base_linear": base_linear, "total_params": sum(p.numel() for p in model.parameters()),
            "tied_embeddings": bool(getattr(cfg, "tie_word_embeddings", False)),
            "parts": {k: round(v) for k, v in parts.items()}, "total": round(sum(parts.values()))}


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    from memory_lora.config import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-steps", type=int, default=20, help="optimizer steps to time (default 20)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help=f"examples per step (default {defaults.batch_size})")
    parser.add_argument("--precision", choices=("auto", "no", "bf16"), default="auto",
                        help="train.mixed_precision (default auto)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    parser.add_argument("--peak-tokens", type=int, default=512, help="rows of the peak matmuls (default 512)")
    parser.add_argument("--peak-budget", type=float, default=1.5,
                        help="seconds of timed repeats per peak matmul shape and dtype (default 1.5)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--progress", action="store_true", help="show the training progress bar")
    args = parser.parse_args(argv)
    if args.max_steps < 1 or args.batch_size < 1:
        parser.error("--max-steps and --batch-size must be >= 1")

    logging.basicConfig(level=logging.WARNING)
    import datasets

    from data_synth.dataset import build_dataset
    from memory_lora.base_model import describe, load_base, resolve_device
    from memory_lora.config import ModelConfig
    from memory_lora.ingest import read_memories
    from memory_lora.recipe import RunConfig
    from memory_lora.records import Example
    from memory_lora.train import tokenize_examples, train_lora

    datasets.disable_progress_bars()
    device = resolve_device(args.device)
    load_1m = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    machine = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
               "load_avg_1m_at_start": round(load_1m, 2) if load_1m is not None else None}
    if device.type == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(device)

    # 1. matmul peak
    t0 = time.perf_counter()
    peak = measure_peak(device, args.peak_tokens, args.peak_budget)
    peak_seconds = time.perf_counter() - t0

    # 2. real training on the demo user
    config = RunConfig(model=ModelConfig(device=args.device))
    config.train.max_steps = args.max_steps
    config.train.batch_size = args.batch_size
    config.train.mixed_precision = args.precision
    config.train.replay_ratio = 0.0
    memories = read_memories(DEMO_MEMORIES)
    ds = build_dataset(memories, "Maya", config.synth, seed=config.seed)
    examples = [Example(prompt=r["prompt"], response=r["response"], kind=r["kind"], memory_ids=list(r["memory_ids"]),
                        template=r["template"], id=r["id"]) for r in ds.to_list()]
    model, tokenizer = load_base(config.model)
    encoded = tokenize_examples(examples, tokenizer, config.model.system_prompt, config.train.max_length)
    lengths = encoded["length"]
    mean_len = statistics.fmean(lengths)
    answer_tokens = sum(sum(1 for t in labels[1:] if t != -100) for labels in encoded["labels"])
    answer_fraction = answer_tokens / sum(lengths)
    fpt = flops_per_token(model, config.lora.r, config.lora.target_modules, mean_len, answer_fraction)

    peft_model, metrics = train_lora(model, tokenizer, examples, config.lora, config.train, config.model,
                                     seed=config.seed, progress=args.progress)
    peft_model.unload()

    # 3. achieved FLOP/s and share of peak
    tps = metrics["tokens_per_second"]
    achieved = tps * fpt["total"] / 1e9
    used = "bf16" if metrics["mixed_precision"] == "bf16" else "fp32"
    ratios = {k: achieved / peak[k]["best"] if peak[k]["best"] else None for k in ("fp32", "bf16")}

    # 4. seconds per memory at the default epochs
    per_memory = len(examples) / len(memories)
    tokens_per_memory = per_memory * defaults.epochs * mean_len
    sec_per_memory = tokens_per_memory / tps if tps else None
    replay_scale = 1.0 / (1.0 - defaults.replay_ratio)

    result = {
        "machine": machine,
        "peak_gflops": {**peak, "seconds": round(peak_seconds, 1)},
        "train": {
            "base_model": describe(config.model), "precision": metrics["mixed_precision"], "device": metrics["device"],
            "steps": metrics["steps"], "batch_size": args.batch_size, "tokens": metrics["tokens"],
            "seconds": metrics["seconds"], "tokens_per_second": tps, "final_loss": metrics["final_loss"],
        },
        "flops_per_token": fpt,
        "achieved": {
            "gflops": round(achieved, 2), "peak_used": used,
            "ratio_fp32_peak": round(ratios["fp32"], 4) if ratios["fp32"] is not None else None,
            "ratio_bf16_peak": round(ratios["bf16"], 4) if ratios["bf16"] is not None else None,
            "gflops_4N_only": round(tps * fpt["parts"]["base_linear_4N"] / 1e9, 2),
        },
        "per_memory": {
            "memories": len(memories), "examples": len(examples), "examples_per_memory": round(per_memory, 2),
            "mean_tokens_per_example": round(mean_len, 1), "answer_token_fraction": round(answer_fraction, 3),
            "default_epochs": defaults.epochs, "tokens_per_memory": round(tokens_per_memory),
            "seconds_per_memory": round(sec_per_memory, 2) if sec_per_memory is not None else None,
            "default_replay_ratio": defaults.replay_ratio,
            "seconds_per_memory_with_replay": round(sec_per_memory * replay_scale, 2)
            if sec_per_memory is not None else None,
        },
    }
    print(render(result))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")
    return 0


def render(r: dict) -> str:
    """The compact text table printed to stdout."""
    m, p, t, f, a, pm = r["machine"], r["peak_gflops"], r["train"], r["flops_per_token"], r["achieved"], r["per_memory"]
    load = m["load_avg_1m_at_start"]
    lines = [
        f"device {m['device']}{' (' + m['gpu'] + ')' if 'gpu' in m else ''}  torch {m['torch']}  "
        f"threads {m['threads']}/{m['cpu_count']} cpus  load(1m) {load if load is not None else 'n/a'}",
        "",
        f"{'matmul peak, GFLOP/s':<34}{'fp32':>12}{'bf16':>12}",
    ]
    for shape in p["fp32"]["shapes"]:
        lines.append(f"  {shape:<32}{fmt(p['fp32']['shapes'][shape]):>12}{fmt(p['bf16']['shapes'][shape]):>12}")
    lines.append(f"  {'best':<32}{fmt(p['fp32']['best']):>12}{fmt(p['bf16']['best']):>12}")
    lines += [
        "",
        f"LoRA training ({t['base_model']})",
        f"  precision {t['precision']} on {t['device']}, {t['steps']} steps x batch {t['batch_size']}: "
        f"{t['tokens']:,} tokens in {t['seconds']} s = {fmt(t['tokens_per_second'])} tokens/s "
        f"(final loss {t['final_loss']})",
        "",
        "FLOPs per token (frozen-base LoRA)",
        f"  N (decoder linear weights)        {f['N_base_linear']:>14,}   (all params {f['total_params']:,}, "
        f"tied embeddings {f['tied_embeddings']})",
    ]
    for name, value in f["parts"].items():
        lines.append(f"  {name:<34}{value:>14,}")
    lines += [
        f"  {'total':<34}{f['total']:>14,}",
        "",
        f"achieved {fmt(a['gflops'], 2)} GFLOP/s  (4N term alone {fmt(a['gflops_4N_only'], 2)})",
        f"  / fp32 peak = {a['ratio_fp32_peak']:.1%}{'   <- precision used' if a['peak_used'] == 'fp32' else ''}",
        f"  / bf16 peak = {a['ratio_bf16_peak']:.1%}{'   <- precision used' if a['peak_used'] == 'bf16' else ''}",
        "",
        f"per memory (demo: {pm['examples']} examples / {pm['memories']} memories)",
        f"  examples per memory {pm['examples_per_memory']}, mean {pm['mean_tokens_per_example']} tokens/example "
        f"(answer share {pm['answer_token_fraction']:.1%}), default epochs {pm['default_epochs']}",
        f"  = {pm['tokens_per_memory']:,} training tokens per memory -> {pm['seconds_per_memory']} s per memory "
        f"({pm['seconds_per_memory_with_replay']} s with the default replay ratio {pm['default_replay_ratio']})",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
