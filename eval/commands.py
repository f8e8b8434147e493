"""The evaluation subcommands of `memory-lora`: eval, demo, niah, import-locomo (registered by memory_lora.cli).

Their flags are generated from eval's config dataclasses (EvalConfig, NiahConfig, LocomoConfig) and the recipe's
sections (memory_lora.recipe), like the product's own subcommands.

Run: memory-lora eval --help
"""

from __future__ import annotations

from pathlib import Path

from memory_lora.recipe import RECIPE_KEYS, add_recipe_arguments, recipe_from


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated integers, got {text!r}") from None


def _fields(args, skip: tuple[str, ...]) -> dict:
    """A parsed subcommand's own fields, without the recipe sections and the CLI's bookkeeping."""
    drop = {*RECIPE_KEYS, "home", "verbose", *skip}
    return {k: v for k, v in args.as_dict().items() if k not in drop}


def cmd_eval(args) -> None:
    if args.compare:
        from eval.compare import compare_reports

        print(compare_reports(*args.compare))
        return
    if args.scaling_from or args.seeds_from:
        if not args.out:
            raise ValueError("--scaling_from / --seeds_from need --out")
        if args.scaling_from:
            from eval.scaling import scaling_from_dirs

            scaling_from_dirs(args.scaling_from, args.out)
            print(f"scaling: {Path(args.out) / 'scaling.json'}")
        else:
            from eval.seeds import render_seeds, seeds_from_dirs

            print(render_seeds(seeds_from_dirs(args.seeds_from, args.out)))
            print(f"seeds: {Path(args.out) / 'seeds.md'}")
        return
    from eval.configs import EvalConfig
    from eval.report import format_table
    from eval.run import run_eval

    cfg = EvalConfig(**_fields(args, ("counts", "seeds", "compare", "scaling_from", "seeds_from")),
                     run=recipe_from(args))
    if args.counts:
        from eval.scaling import ScalingConfig, run_scaling

        if args.seeds:
            raise ValueError("--counts and --seeds cannot be combined; run one --counts sweep per seed")
        run_scaling(ScalingConfig(eval=cfg, counts=_int_list(args.counts, "--counts")))
        print(f"scaling: {Path(args.out) / 'scaling.md'}")
        return
    if args.seeds:
        from eval.seeds import SeedsConfig, render_seeds, run_seeds

        if args.seed is not None:
            raise ValueError("--seed and --seeds cannot be combined")
        print(render_seeds(run_seeds(SeedsConfig(eval=cfg, seeds=_int_list(args.seeds, "--seeds")))))
        print(f"seeds: {Path(args.out) / 'seeds.md'}")
        return
    report = run_eval(cfg)
    print(format_table(report))
    print(f"report: {Path(args.out) / 'report.md'}")


def cmd_demo(args) -> None:
    from eval.run import run_demo

    run_demo(args.out, recipe_from(args))
    print(f"report: {Path(args.out) / 'report.md'}")


def cmd_niah(args) -> None:
    from eval.configs import NiahConfig
    from eval.niah import run_niah

    cfg = NiahConfig(**_fields(args, ()), run=recipe_from(args))
    result = run_niah(cfg)
    print(f"niah: {Path(cfg.out) / 'niah.md'} ({result['wall_s']} s)")


def cmd_import_locomo(args) -> None:
    from eval.locomo import LocomoConfig, import_locomo

    for s in import_locomo(LocomoConfig(zip_path=args.zip, **_fields(args, ("zip",)))):
        cats = ", ".join(f"cat {k}: {v}" for k, v in s["by_category"].items())
        print(f"conv-{s['conversation']}: {s['memories']} memories, {s['questions']} questions ({cats}) -> {s['dir']}")


def register(sub) -> dict:
    """Add eval's subcommands to the `memory-lora` subcommand set; returns {name: handler}."""
    from jsonargparse import ArgumentParser

    from eval.configs import EvalConfig, NiahConfig
    from eval.locomo import LocomoConfig

    p = ArgumentParser(exit_on_error=False, description="Ingest memories into a fresh user, synthesize, train, "
                       "answer every question with every method, and write report.json, report.md and plots.")
    p.add_class_arguments(EvalConfig, None, skip={"run"}, instantiate=False)
    p.add_argument("--counts", help="scaling: comma-separated memory counts, one eval each (e.g. 10,20,40,160)")
    p.add_argument("--seeds", help="one eval per seed (e.g. 0,1,2) in OUT/seed<N>/, spread summarized in seeds.md")
    p.add_argument("--compare", nargs=2, metavar="DIR", help="print the difference of two reports (B - A)")
    p.add_argument("--scaling_from", nargs="+", metavar="DIR", help="scaling figures from the reports below DIRs")
    p.add_argument("--seeds_from", nargs="+", metavar="DIR", help="the seed summary of eval runs already written")
    add_recipe_arguments(p)
    sub.add_subcommand("eval", p, help="compare every method on a memories/questions pair and write a report")

    p = ArgumentParser(exit_on_error=False, description="The whole pipeline on the bundled example user, with the "
                       "default recipe; prints the comparison table and writes the report.")
    p.add_argument("--out", default="demo-report", help="report folder (default ./demo-report)")
    add_recipe_arguments(p)
    sub.add_subcommand("demo", p, help="the whole pipeline on the bundled example user")

    p = ArgumentParser(exit_on_error=False, description="Needle-in-a-haystack grid (haystack size x depth) for every "
                       "method, a heatmap per method.")
    p.add_class_arguments(NiahConfig, None, skip={"run"}, instantiate=False)
    add_recipe_arguments(p)
    sub.add_subcommand("niah", p, help="needle-in-a-haystack grid for every method")

    p = ArgumentParser(exit_on_error=False, description="LoCoMo zip -> one folder of memories/questions per "
                       "conversation.")
    p.add_argument("zip", help="the LoCoMo release zip")
    p.add_class_arguments(LocomoConfig, None, skip={"zip_path"}, instantiate=False)
    sub.add_subcommand("import-locomo", p, help="LoCoMo zip -> memories/questions per conversation")
    return {"eval": cmd_eval, "demo": cmd_demo, "niah": cmd_niah, "import-locomo": cmd_import_locomo}
