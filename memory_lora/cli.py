"""The `memory-lora` command line (SPEC section 4), generated from the config dataclasses.

Every setting is a `--section.field` flag made from its dataclass field (memory_lora.config, data_synth.config,
ServeConfig, eval's configs), with the field's docstring as help; `--config FILE` reads a recipe. Each subcommand
hands its parsed config to one library call. The evaluation subcommands (eval, demo, niah, import-locomo) are
eval's own, registered from eval.commands. Exit code 0 on success, 2 on bad input with a one-line message.

Run: memory-lora --help        (memory-lora train --help lists every training flag)
"""

from __future__ import annotations

import logging
import os
import sys

from memory_lora.config import METHODS, default_home
from memory_lora.recipe import RECIPE_KEYS, add_recipe_arguments, recipe_from

TRAIN_SECTIONS = ("model", "lora", "train", "synth", "answer", "gate", "seed")  # answer: calibration answers too
ANSWER_SECTIONS = ("model", "answer")


def cmd_ingest(args) -> None:
    from memory_lora import pipeline

    result = pipeline.ingest(args.home, args.user, args.files)
    print(f"{args.user}: {result['added']} memories added, {result['skipped']} duplicates skipped")


def cmd_synth(args) -> None:
    from memory_lora import pipeline

    stats = pipeline.synth(args.home, args.user, recipe_from(args, ("synth", "seed")))
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

    result = pipeline.train(args.home, args.user, recipe_from(args, TRAIN_SECTIONS))
    t = result["train"]
    gate = result["gate"]
    note = "" if gate is None else f", gate {'off' if gate['abstain_margin'] is None else gate['abstain_margin']}"
    print(f"{args.user}: adapter v{result['version']} at {result['path']} "
          f"({t['examples']} examples, {t['seconds']} s, {t['tokens_per_second']} tokens/s, loss {t['final_loss']}"
          f"{note})")


def cmd_ask(args) -> None:
    from memory_lora import pipeline

    config = recipe_from(args, ANSWER_SECTIONS)
    ans = pipeline.answerer(args.home, args.user, config, need_adapter=args.method in ("parametric", "hybrid"))
    try:
        reply = ans.answer(args.method, [args.question])[0]
    finally:
        pipeline.release(ans)  # the base model is cached process-wide; in-process callers must get it back clean
    print(reply.text)


def cmd_serve(args) -> None:
    from memory_lora.server import ServeConfig, serve

    run = recipe_from(args, ANSWER_SECTIONS)
    settings = {k: v for k, v in args.as_dict().items() if k not in RECIPE_KEYS | {"home", "verbose"}}
    serve(args.home, ServeConfig(**settings, model=run.model, answer=run.answer))


def cmd_keys(args) -> None:
    from memory_lora import keys
    from memory_lora.store import Store

    with Store(args.home) as store:
        if args.keys_command == "create":
            print(keys.create_key(store, args.create.user))  # the key alone on one line: scripts capture stdout
        elif args.keys_command == "list":
            for k in store.api_keys(args.list.user):
                status = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
                print(f"{k['key_id']}  created {k['created_at']}  {status}")
        elif not keys.revoke_key(store, args.revoke.key):
            raise ValueError(f"no active key {args.revoke.key!r}")
        else:
            print(f"revoked {args.revoke.key if args.revoke.key.startswith('key-') else 'the key'}")


def _sub(description: str):
    from jsonargparse import ArgumentParser

    return ArgumentParser(description=description, exit_on_error=False)


def build_parser():
    """The whole command line: product subcommands here, evaluation subcommands from eval.commands."""
    from jsonargparse import ArgumentParser, set_parsing_settings

    from eval import commands as eval_commands
    from memory_lora.server.config import ServeConfig

    set_parsing_settings(docstring_parse_attribute_docstrings=True)
    parser = ArgumentParser(prog="memory-lora", exit_on_error=False, description="Per-user LoRA memory: ingest, "
                            "synth, train, ask, serve, and eval against RAG and long context.")
    parser.add_argument("--home", default=None, help="store folder (default $MEMORY_LORA_HOME, else ./.memory_lora)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subcommands(dest="command")
    handlers = {}

    p = _sub("Add memories to a user's store (JSONL, plain text one per line, or chat transcripts).")
    p.add_argument("user")
    p.add_argument("files", nargs="+", help="memory files")
    sub.add_subcommand("ingest", p, help="add memories to a user's store")
    handlers["ingest"] = cmd_ingest

    p = _sub("Memories -> training dataset (QA, paraphrase, temporal, abstention, chain-of-thought).")
    p.add_argument("user")
    p.add_argument("--preview", type=int, default=0, metavar="N", help="print N sample examples of every kind")
    add_recipe_arguments(p, ("synth", "seed"))
    sub.add_subcommand("synth", p, help="memories -> training dataset")
    handlers["synth"] = cmd_synth

    p = _sub("Dataset -> new adapter version (LoRA + replay), with its 'I don't know' gate calibrated.")
    p.add_argument("user")
    add_recipe_arguments(p, TRAIN_SECTIONS)
    sub.add_subcommand("train", p, help="dataset -> new adapter version")
    handlers["train"] = cmd_train

    p = _sub("Answer a question about a user with one method.")
    p.add_argument("user")
    p.add_argument("question")
    p.add_argument("--method", choices=list(METHODS), default="parametric", help="how to answer (default parametric)")
    add_recipe_arguments(p, ANSWER_SECTIONS)
    sub.add_subcommand("ask", p, help="answer a question about a user")
    handlers["ask"] = cmd_ask

    p = _sub("OpenAI-compatible server answering each API key with its user's latest adapter.")
    p.add_class_arguments(ServeConfig, None, skip={"model", "answer"}, instantiate=False)
    add_recipe_arguments(p, ANSWER_SECTIONS)
    sub.add_subcommand("serve", p, help="OpenAI-compatible server, one adapter per API key")
    handlers["serve"] = cmd_serve

    p = _sub("API keys: each key acts as exactly one user; only their sha256 is stored.")
    sub.add_subcommand("keys", p, help="API keys")
    keys_sub = p.add_subcommands(dest="keys_command")
    k = _sub("Print a new API key for USER, alone on one line.")
    k.add_argument("user")
    keys_sub.add_subcommand("create", k, help="print a new API key for USER")
    k = _sub("List USER's key ids (never the keys).")
    k.add_argument("user")
    keys_sub.add_subcommand("list", k, help="list USER's key ids")
    k = _sub("Revoke a key, given its id (key-...) or the key itself.")
    k.add_argument("key")
    keys_sub.add_subcommand("revoke", k, help="revoke a key")
    handlers["keys"] = cmd_keys

    handlers.update(eval_commands.register(sub))
    return parser, handlers


def main(argv: list[str] | None = None) -> int:
    from jsonargparse import ArgumentError

    parser, handlers = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    # named in error messages even when parsing fails before the subcommand is known
    command = next((a for a in argv if a in handlers), "")
    try:
        args = parser.parse_args(argv)
        command = args.command
        home = str(args.home or default_home())
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(message)s")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        sub_args = args[command]
        sub_args["home"] = home
        sub_args["verbose"] = args.verbose
        handlers[command](sub_args)
    except ArgumentError as e:  # a flag or value the parser refuses
        message = " ".join(str(e).split())
        print(f"memory-lora {command}: error: {message} (see memory-lora {command} --help)".replace("  ", " "),
              file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:  # bad input: one line, exit 2 (InputError is a ValueError)
        print(f"memory-lora {command}: error: {e}".replace("  ", " "), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
