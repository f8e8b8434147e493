"""The `memory-lora` command line (SPEC section 4). Thin: each subcommand parses flags into config and calls one
library function. Exit code 0 on success, 2 on bad input with a one-line message.

Run: memory-lora --help
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from memory_lora.config import ANSWER_STYLES, METHODS, SYNTH_BACKENDS, RunConfig, default_home


def _run_config(args) -> RunConfig:
    """--config FILE plus the flags that override it."""
    config = RunConfig.load(getattr(args, "config", None))
    if getattr(args, "base_model", None):
        config.model.base_model = args.base_model
    if getattr(args, "seed", None) is not None:
        config.train.seed = config.synth.seed = config.answer.seed = args.seed
    if getattr(args, "replay_ratio", None) is not None:
        config.train.replay_ratio = args.replay_ratio
    if getattr(args, "epochs", None) is not None:
        config.train.epochs = args.epochs
    if getattr(args, "backend", None):
        config.synth.backend = args.backend
    if getattr(args, "teacher_model", None):
        config.synth.teacher_model = args.teacher_model
    if getattr(args, "answer_style", None):
        config.synth.answer_style = args.answer_style
    if getattr(args, "person_ensemble", None):
        config.answer.person_ensemble = True
    if getattr(args, "save_n_best", None):
        config.answer.save_n_best = True
    # flags named as the answer fields they set (--num-beams -> answer.num_beams)
    for name in ("abstain_threshold", "consistency_samples", "consistency_threshold", "num_beams", "rerank_weight",
                 "rerank_margin", "abstain_margin"):
        if getattr(args, name, None) is not None:
            setattr(config.answer, name, getattr(args, name))
    for section in (config.model, config.lora, config.train, config.synth, config.answer):
        section.__post_init__()  # re-validate after overrides
    return config


def cmd_ingest(args) -> None:
    from memory_lora import pipeline

    result = pipeline.ingest(args.home, args.user, args.files)
    print(f"{args.user}: {result['added']} memories added, {result['skipped']} duplicates skipped")


def cmd_synth(args) -> None:
    from memory_lora import pipeline

    stats = pipeline.synth(args.home, args.user, _run_config(args))
    kinds = ", ".join(f"{k} {v}" for k, v in stats["by_kind"].items())
    dropped = stats.get("dropped") or {}
    note = f"; teacher output dropped: {', '.join(f'{k} {v}' for k, v in dropped.items())}" if dropped else ""
    if stats.get("repeats"):  # synth.min_examples_per_memory topped thin memories up
        note += f"; {stats['repeats']} of them repeats of thinly covered memories"
    print(f"{args.user}: {stats['examples']} examples ({kinds}) in {stats['path']}{note}")
    if args.preview:
        print(pipeline.preview(stats["path"], args.preview))


def cmd_train(args) -> None:
    from memory_lora import pipeline

    result = pipeline.train(args.home, args.user, _run_config(args))
    t = result["train"]
    print(f"{args.user}: adapter v{result['version']} at {result['path']} "
          f"({t['examples']} examples, {t['seconds']} s, {t['tokens_per_second']} tokens/s, loss {t['final_loss']})")


def cmd_ask(args) -> None:
    from memory_lora import pipeline

    config = _run_config(args)
    ans = pipeline.answerer(args.home, args.user, config, need_adapter=args.method in ("parametric", "hybrid"))
    try:
        reply = ans.answer(args.method, [args.question])[0]
    finally:
        pipeline.release(ans)  # the base model is cached process-wide; in-process callers must get it back clean
    print(reply.text)


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated integers, got {text!r}") from None


def _gate_grid(text: str) -> tuple[float | None, ...]:
    """--gate-grid "off,0.02,0.05" -> (None, 0.02, 0.05)."""
    try:
        return tuple(None if x.strip() == "off" else float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"--gate-grid must be comma-separated numbers or 'off', got {text!r}") from None


def _methods(text: str) -> list[str]:
    return [m.strip() for m in text.split(",") if m.strip()]


def cmd_eval(args) -> None:
    if args.compare:
        from eval.compare import compare_reports

        print(compare_reports(*args.compare))
        return
    if args.scaling_from:
        from eval.scaling import scaling_from_dirs

        if not args.out:
            raise ValueError("--scaling-from needs --out")
        scaling_from_dirs(args.scaling_from, args.out)
        print(f"scaling: {Path(args.out) / 'scaling.json'}")
        return
    if args.seeds_from:
        from eval.seeds import render_seeds, seeds_from_dirs

        if not args.out:
            raise ValueError("--seeds-from needs --out")
        print(render_seeds(seeds_from_dirs(args.seeds_from, args.out)))
        print(f"seeds: {Path(args.out) / 'seeds.md'}")
        return
    missing = [f"--{k}" for k in ("memories", "questions", "out") if not getattr(args, k)]
    if missing:
        raise ValueError(f"{', '.join(missing)} required (or --compare DIR1 DIR2, --scaling-from, --seeds-from)")
    from eval.report import format_table
    from eval.run import EvalConfig, run_eval

    general = None if args.general in ("none", "") else args.general
    grid = {"gate_grid": _gate_grid(args.gate_grid)} if args.gate_grid else {}
    cfg = EvalConfig(memories=args.memories, questions=args.questions, out=args.out, methods=_methods(args.methods),
                     general=general, kl=not args.no_kl, run=_run_config(args), user=args.user, home=args.keep_store,
                     reuse_adapter=args.reuse_adapter, gate_questions=args.gate_questions,
                     gate_synth=args.gate_synth, gate_target=args.gate_target, **grid)
    if args.counts:
        from eval.scaling import ScalingConfig, run_scaling

        if args.seeds:
            raise ValueError("--counts and --seeds cannot be combined; run one --counts sweep per seed")
        run_scaling(ScalingConfig(eval=cfg, counts=_int_list(args.counts, "--counts")))
        print(f"scaling: {Path(args.out) / 'scaling.md'}")
        return
    if args.seeds:
        if args.seed is not None:
            raise ValueError("--seed and --seeds cannot be combined")
        from eval.seeds import SeedsConfig, render_seeds, run_seeds

        print(render_seeds(run_seeds(SeedsConfig(eval=cfg, seeds=_int_list(args.seeds, "--seeds")))))
        print(f"seeds: {Path(args.out) / 'seeds.md'}")
        return
    report = run_eval(cfg)
    print(format_table(report))
    print(f"report: {Path(args.out) / 'report.md'}")


def cmd_niah(args) -> None:
    from eval.niah import NiahConfig, depth_list, run_niah

    general = None if args.general in ("none", "") else args.general
    cfg = NiahConfig(out=args.out, sizes=_int_list(args.sizes, "--sizes"), depths=depth_list(args.depths),
                     methods=_methods(args.methods), variants=_methods(args.variants), distractors=args.distractors,
                     locomo_zip=args.locomo_zip, general=general, kl=not args.no_kl,
                     needles_per_depth=args.needles_per_depth, run=_run_config(args))
    result = run_niah(cfg)
    print(f"niah: {Path(args.out) / 'niah.md'} ({result['wall_s']} s)")


def cmd_import_locomo(args) -> None:
    from eval.locomo import LocomoConfig, import_locomo

    cfg = LocomoConfig(zip_path=args.zip, out=args.out, track=args.track,
                       conversations=_methods(args.conversations) if args.conversations else None)
    for s in import_locomo(cfg):
        cats = ", ".join(f"cat {k}: {v}" for k, v in s["by_category"].items())
        print(f"conv-{s['conversation']}: {s['memories']} memories, {s['questions']} questions ({cats}) -> {s['dir']}")


def cmd_demo(args) -> None:
    from eval.run import run_demo

    run_demo(args.out, _run_config(args))
    print(f"report: {Path(args.out) / 'report.md'}")


def cmd_serve(args) -> None:
    from memory_lora.server import ServeConfig, serve

    run = _run_config(args)
    if run.answer.person_ensemble:
        raise ValueError("serve: answer.person_ensemble is not supported by the server yet (use ask or eval)")
    if run.answer.consistency_samples:
        raise ValueError("serve: answer.consistency_samples is not supported by the server yet (use ask or eval)")
    if run.answer.num_beams > 1:
        raise ValueError("serve: answer.num_beams > 1 is not supported by the server yet (use ask or eval)")
    if run.answer.abstain_margin is not None:
        raise ValueError("serve: answer.abstain_margin is not supported by the server yet (use ask or eval)")
    fields = {name: getattr(args, name) for name in ("host", "port", "max_adapters", "max_batch_size",
                                                      "batch_window_ms", "max_tokens_cap", "default_max_tokens",
                                                      "max_prompt_tokens", "max_body_bytes", "max_pending", "threads")}
    config = ServeConfig(**{k: v for k, v in fields.items() if v is not None}, model=run.model,
                         mixed_batching=not args.no_mixed_batching, abstain_threshold=run.answer.abstain_threshold)
    serve(args.home, config)


def cmd_keys(args) -> None:
    from memory_lora import keys
    from memory_lora.store import Store

    with Store(args.home) as store:
        if args.keys_command == "create":
            print(keys.create_key(store, args.user))  # the key alone on one line: scripts capture stdout
        elif args.keys_command == "list":
            for k in store.api_keys(args.user):
                status = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
                print(f"{k['key_id']}  created {k['created_at']}  {status}")
        elif not keys.revoke_key(store, args.key):
            raise ValueError(f"no active key {args.key!r}")
        else:
            print(f"revoked {args.key if args.key.startswith('key-') else 'the key'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memory-lora", description="Per-user LoRA memory: ingest, synth, train, "
                                     "ask, eval against RAG and long context.")
    parser.add_argument("--home", default=None, help="store folder (default $MEMORY_LORA_HOME, else ./.memory_lora)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, train_flags=True):
        p.add_argument("--config", help="run config file (JSON or YAML; see memory_lora/config.py)")
        p.add_argument("--base-model", help="base model: smollm2-135m-instruct (bundled GGUF), a folder or a hub id")
        p.add_argument("--abstain-threshold", type=float, help="parametric/hybrid reply \"I don't know\" when its "
                       "first token gets at least this probability (0-1; default off)")
        p.add_argument("--person-ensemble", action="store_true", default=None, help="parametric/hybrid: also ask "
                       "in the first person and about 'the user', keep the most confident reply (up to 3x cost)")
        p.add_argument("--consistency-samples", type=int, help="parametric/hybrid: also sample this many replies and "
                       "reply \"I don't know\" when too few agree with the greedy one (default 0: off)")
        p.add_argument("--consistency-threshold", type=float, help="share of samples that must agree with the greedy "
                       "reply under --consistency-samples (0-1, default 0.5)")
        p.add_argument("--num-beams", type=int, help="decode replies by beam search over this many candidates "
                       "(default 1: greedy)")
        p.add_argument("--rerank-weight", type=float, help="parametric/hybrid, with --num-beams: pick among the beams "
                       "by log-probability + this * similarity to the question (default 0: off)")
        p.add_argument("--rerank-margin", type=float, help="only beams within this mean log-probability of the best "
                       "compete under --rerank-weight (default 0.3)")
        p.add_argument("--abstain-margin", type=float, help="parametric/hybrid reply \"I don't know\" when the reply "
                       "is at most this much more probable (mean log-probability) than \"I don't know\" (default off)")
        p.add_argument("--save-n-best", action="store_true", default=None, help="with --rerank-weight or "
                       "--abstain-margin: keep every beam's scores (eval writes them to answers.jsonl as n_best)")
        if train_flags:
            p.add_argument("--seed", type=int, help="seed for synthesis and training")
            p.add_argument("--replay-ratio", type=float, help="share of replay examples in training (0 disables)")
            p.add_argument("--epochs", type=int, help="training epochs")
            # On train/eval/demo too: they synthesize (or re-use) the dataset for exactly these settings.
            p.add_argument("--backend", choices=SYNTH_BACKENDS, help="synthesis backend (default rules); hf and "
                           "openai add teacher-written QA pairs, see data_synth/teachers")
            p.add_argument("--teacher-model", help="teacher: model folder or hub id (hf), model name (openai)")
            p.add_argument("--answer-style", choices=ANSWER_STYLES, help="how synthesized QA examples are answered: "
                           "the memory sentence holding the answer, short, or mixed")

    p = sub.add_parser("ingest", help="add memories to a user's store")
    p.add_argument("user")
    p.add_argument("files", nargs="+", help="JSONL memories, plain text (one per line) or chat transcripts")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("synth", help="memories -> training dataset")
    p.add_argument("user")
    p.add_argument("--preview", type=int, default=0, metavar="N", help="print N sample examples of every kind")
    common(p)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("train", help="dataset -> new adapter version")
    p.add_argument("user")
    common(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ask", help="answer a question about a user")
    p.add_argument("user")
    p.add_argument("question")
    p.add_argument("--method", choices=METHODS, default="parametric")
    common(p, train_flags=False)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="compare every method on a memories/questions pair and write a report")
    p.add_argument("--memories")
    p.add_argument("--questions")
    p.add_argument("--out")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    p.add_argument("--general", default="bundled", help="forgetting probe questions ('bundled', a file or 'none')")
    p.add_argument("--no-kl", action="store_true", help="skip KL(base || adapter) on the generic prompts")
    p.add_argument("--user", help="user id for the temporary store (default: the memories' user)")
    p.add_argument("--keep-store", metavar="DIR", help="keep the store (dataset, adapter) in DIR, not a temporary one")
    p.add_argument("--reuse-adapter", action="store_true", help="with --keep-store: answer with the adapter already "
                   "there when it was trained on this dataset and config, instead of training again")
    p.add_argument("--gate-questions", metavar="FILE", help="calibration questions with abstention items (never the "
                   "evaluation questions): answer them first and set --abstain-margin to the smallest gate that "
                   "refuses --gate-target of their abstention questions (eval/gate_calibrate.py)")
    p.add_argument("--gate-synth", type=int, default=0, metavar="N", help="calibrate the gate on N abstention "
                   "questions synthesized from the memories and held out of training (needs no questions file; "
                   "with --gate-questions, on both)")
    p.add_argument("--gate-target", type=float, default=0.8, help="share of calibration abstention questions the "
                   "chosen gate must refuse (default 0.8)")
    p.add_argument("--gate-grid", help="candidate gates for --gate-questions / --gate-synth, smallest first, "
                   "'off' = no gate (default off,0.02,0.04,0.06,0.08,0.1)")
    p.add_argument("--counts", help="scaling: comma-separated memory counts, one eval each (e.g. 10,20,40,160)")
    p.add_argument("--compare", nargs=2, metavar=("DIR1", "DIR2"), help="print the difference of two reports")
    p.add_argument("--scaling-from", nargs="+", metavar="DIR", help="scaling figures from the reports below DIRs")
    p.add_argument("--seeds", help="repeat the eval once per seed (e.g. 0,1,2) in OUT/seed<N>/ and summarize the "
                   "spread across seeds in OUT/seeds.md")
    p.add_argument("--seeds-from", nargs="+", metavar="DIR", help="the seed summary of eval runs already written, "
                   "one DIR (with report.json and answers.jsonl) per seed")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("niah", help="needle-in-a-haystack grid (haystack size x depth) for every method")
    p.add_argument("--out", required=True)
    p.add_argument("--sizes", default="16,64,256,1024", help="distractor memories per haystack")
    p.add_argument("--depths", default="5", help="a count of evenly spaced depths, or percentages (0,50,100)")
    p.add_argument("--methods", default="parametric,rag,long-context,hybrid")
    p.add_argument("--variants", default="single", help="comma-separated: single, multi-key, multi-value")
    p.add_argument("--distractors", choices=["generator", "locomo"], default="generator")
    p.add_argument("--locomo-zip", help="LoCoMo release zip (for --distractors locomo)")
    p.add_argument("--needles-per-depth", type=int, default=1, help="distinct needles per depth; cell = their mean")
    p.add_argument("--general", default="none", help="general probe per adapter ('bundled', a file or 'none')")
    p.add_argument("--no-kl", action="store_true", help="skip KL(base || adapter)")
    common(p)
    p.set_defaults(func=cmd_niah)

    p = sub.add_parser("import-locomo", help="LoCoMo zip -> one folder of memories/questions per conversation")
    p.add_argument("zip")
    p.add_argument("--out", required=True)
    p.add_argument("--track", choices=["observations", "turns"], default="observations")
    p.add_argument("--conversations", help="comma-separated conversation ids (default all), e.g. 30,26")
    p.set_defaults(func=cmd_import_locomo)

    p = sub.add_parser("demo", help="the whole pipeline on the bundled example user")
    p.add_argument("--out", default="demo-report", help="report folder (default ./demo-report)")
    common(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="OpenAI-compatible server answering each API key with its user's adapter")
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 8000)")
    p.add_argument("--max-adapters", type=int, help="adapters kept loaded, least recently used dropped (default 64)")
    p.add_argument("--max-batch-size", type=int, help="requests decoded together (default 32)")
    p.add_argument("--batch-window-ms", type=float, help="wait for more requests to batch (default 5)")
    p.add_argument("--no-mixed-batching", action="store_true", help="decode one adapter at a time (benchmarks)")
    p.add_argument("--max-tokens-cap", type=int, help="largest max_tokens a request may ask (default 512)")
    p.add_argument("--default-max-tokens", type=int, help="max_tokens when a request gives none (default 128)")
    p.add_argument("--max-prompt-tokens", type=int, help="prompt token limit (default: context length)")
    p.add_argument("--max-body-bytes", type=int, help="request body limit (default 1000000)")
    p.add_argument("--max-pending", type=int, help="requests queued at once before 429 (default 1024)")
    p.add_argument("--threads", type=int, help="torch threads for decoding (default: torch's choice)")
    common(p, train_flags=False)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("keys", help="API keys: each key acts as exactly one user")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    k = keys_sub.add_parser("create", help="print a new API key for USER, alone on one line")
    k.add_argument("user")
    k = keys_sub.add_parser("list", help="list USER's key ids (never the keys)")
    k.add_argument("user")
    k = keys_sub.add_parser("revoke", help="revoke a key, given its id (key-...) or the key itself")
    k.add_argument("key")
    p.set_defaults(func=cmd_keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.home = str(args.home or default_home())
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as e:  # bad input: one line, exit 2 (InputError is a ValueError)
        print(f"memory-lora {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
