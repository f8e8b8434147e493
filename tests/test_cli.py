"""Behaviour tests for the `memory-lora` command line, run in-process through memory_lora.cli.main on the tiny
model: output lines, exit codes, and one-line error messages for bad input.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_USER

from memory_lora.base_model import load_base
from memory_lora.cli import main
from memory_lora.config import ModelConfig
from memory_lora.recipe import RunConfig


@pytest.fixture
def config_file(tmp_path) -> Path:
    """A tiny --config JSON: the same small training and answering settings as the tiny_run_config fixture."""
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({
        "model": {"device": "cpu"},
        "train": {"epochs": 2, "batch_size": 8, "max_length": 96, "replay_ratio": 0.25, "mixed_precision": "no",
                  "learning_rate": 5e-3},
        "answer": {"max_new_tokens": 8},
    }), encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The error message: exactly one line, the last thing on stderr (library progress bars may precede it)."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("memory-lora ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert ": error: " in errors[0]
    return errors[0]


def test_ingest_prints_counts(capsys, home, tiny_files):
    memories_file, _ = tiny_files
    code, out, err = run(capsys, "--home", home, "ingest", TINY_USER, memories_file)
    assert code == 0, err
    assert out.strip() == f"{TINY_USER}: 4 memories added, 0 duplicates skipped"
    code, out, _ = run(capsys, "--home", home, "ingest", TINY_USER, memories_file)
    assert code == 0 and out.strip() == f"{TINY_USER}: 0 memories added, 4 duplicates skipped"


def test_ingest_bad_file_exits_2_naming_file_and_line(capsys, home, tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"text": "Otto has a tortoise."}\n{"text": "unterminated\n', encoding="utf-8")
    code, out, err = run(capsys, "--home", home, "ingest", TINY_USER, bad)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert f"{bad}:2:" in line
    assert line.startswith("memory-lora ingest: error:")
    assert not (home / "store.sqlite").exists()  # validated before anything is stored


def test_ingest_missing_file_exits_2(capsys, home, tmp_path):
    missing = tmp_path / "nope.jsonl"
    code, _, err = run(capsys, "--home", home, "ingest", TINY_USER, missing)
    assert code == 2
    assert "nope.jsonl" in one_line_error(err)


def test_invalid_user_id_exits_2(capsys, home, tiny_files):
    memories_file, _ = tiny_files
    code, _, err = run(capsys, "--home", home, "ingest", "../x", memories_file)
    assert code == 2
    assert "invalid user id" in one_line_error(err)
    assert not (home.parent / "x").exists() and not (home / "adapters").exists()


def test_bad_config_file_exits_2_naming_it(capsys, home, tiny_files, tmp_path):
    memories_file, _ = tiny_files
    run(capsys, "--home", home, "ingest", TINY_USER, memories_file)
    config = tmp_path / "bad.json"
    config.write_text('{"train": {"epoch": 3}}', encoding="utf-8")
    code, _, err = run(capsys, "--home", home, "synth", TINY_USER, "--config", config)
    assert code == 2
    line = one_line_error(err)
    assert "bad.json" in line and "epoch" in line


def test_ask_parametric_before_train_says_to_train(capsys, home, tiny_files, tiny_model_dir, config_file):
    memories_file, _ = tiny_files
    run(capsys, "--home", home, "ingest", TINY_USER, memories_file)
    code, out, err = run(capsys, "--home", home, "ask", TINY_USER, "Where did Otto grow up?", "--method",
                         "parametric", "--base-model", tiny_model_dir, "--config", config_file)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert f"memory-lora train {TINY_USER}" in line


# A second `train` in the same process must find the cached base clean (no "modify a model with PEFT twice").
@pytest.mark.filterwarnings("error:You are trying to modify a model with PEFT for a second time")
def test_synth_train_ask(capsys, home, tiny_files, tiny_model_dir, config_file):
    memories_file, _ = tiny_files
    common = ["--base-model", tiny_model_dir, "--config", config_file]
    assert run(capsys, "--home", home, "ingest", TINY_USER, memories_file)[0] == 0

    code, out, err = run(capsys, "--home", home, "synth", TINY_USER, "--config", config_file)
    assert code == 0, err
    assert out.startswith(f"{TINY_USER}: ") and " examples (" in out
    examples = int(out.split(": ", 1)[1].split(" ", 1)[0])
    assert examples > 0

    code, out, err = run(capsys, "--home", home, "train", TINY_USER, *common)
    assert code == 0, err
    assert f"adapter v1 at {home / 'adapters' / TINY_USER / 'v1'}" in out
    assert (home / "adapters" / TINY_USER / "v1" / "manifest.json").is_file()
    manifest = json.loads((home / "adapters" / TINY_USER / "v1" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["train"]["epochs"] == 2  # the --config file was applied
    assert manifest["base_model"] == str(tiny_model_dir)  # and so was --base-model

    for method in ("base", "parametric"):
        code, out, err = run(capsys, "--home", home, "ask", TINY_USER, "Where did Otto grow up?", "--method",
                             method, *common)
        assert code == 0, err
        assert out.endswith("\n") and out.count("\n") == 1  # exactly the reply, one line

    code, out, err = run(capsys, "--home", home, "train", TINY_USER, *common, "--train.epochs", "1")
    assert code == 0, err
    assert "adapter v2" in out
    manifest = json.loads((home / "adapters" / TINY_USER / "v2" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["train"]["epochs"] == 1  # a dotted flag after --config overrides the file


def test_ask_leaves_the_cached_base_model_clean(capsys, home, tiny_files, tiny_model_dir, config_file):
    """main() is also called in-process (tests, notebooks, wrappers): `ask` must not leave its adapter attached
    to the process-wide cached base model, or the next `train` would wrap a model that already has LoRA layers."""
    memories_file, _ = tiny_files
    common = ["--base-model", tiny_model_dir, "--config", config_file]
    run(capsys, "--home", home, "ingest", TINY_USER, memories_file)
    assert run(capsys, "--home", home, "train", TINY_USER, *common)[0] == 0
    code, _, err = run(capsys, "--home", home, "ask", TINY_USER, "Where did Otto grow up?", "--method", "parametric",
                       *common)
    assert code == 0, err
    model, _ = load_base(ModelConfig(base_model=str(tiny_model_dir), device="cpu"))
    assert not [name for name, _ in model.named_modules() if "lora_" in name]


def test_console_script_help():
    script = Path(sys.executable).parent / "memory-lora"
    command = str(script) if script.exists() else shutil.which("memory-lora")
    assert command, "the memory-lora console script is not installed (pip install -e .)"
    proc = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: memory-lora")
    for sub in ("ingest", "synth", "train", "ask", "eval", "demo"):
        assert sub in proc.stdout


@pytest.mark.parametrize(("argv", "needle"), [
    (["niah", "--out", "x", "--sizes", "16,abc"], "--sizes"),
    (["niah", "--out", "x", "--distractors", "locomo"], "--locomo_zip"),
    (["train", "otto", "--train.epochs", "zero"], "train.epochs"),
    (["train", "otto", "--train.epochs", "0"], "train.epochs must be >= 1"),
    (["ask", "otto", "hi", "--answer.rerank_weight", "0.5"], "num_beams"),
    (["bogus"], "invalid choice"),
    (["niah", "--out", "x", "--variants", "single,triple"], "triple"),
    (["eval", "--memories", "m.jsonl"], "--questions"),
])
def test_niah_and_eval_bad_flags_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in one_line_error(err)


def test_every_recipe_in_configs_loads_and_every_command_takes_it(capsys):
    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        RunConfig.load(path)  # every section and field is known and valid
        assert path.read_text(encoding="utf-8").startswith("#"), f"{path} says what it is and how it runs"
    from memory_lora.cli import build_parser

    parser, _ = build_parser()
    for path in configs:  # sections a command does not use are checked and ignored
        for argv in (["train", "u", "--config", str(path)], ["ask", "u", "q", "--config", str(path)],
                     ["serve", "--config", str(path)], ["eval", "--config", str(path)]):
            parser.parse_args(argv)


def test_the_cli_fills_the_recipe_from_flags_file_and_defaults(tmp_path):
    from memory_lora.cli import TRAIN_SECTIONS, build_parser
    from memory_lora.recipe import recipe_from

    parser, _ = build_parser()
    recipe = tmp_path / "r.yaml"
    recipe.write_text("seed: 3\ntrain:\n  epochs: 7\nlora:\n  r: 8\n", encoding="utf-8")
    args = parser.parse_args(["train", "u", "--config", str(recipe), "--train.epochs", "2", "--base-model", "m",
                              "--gate.grid", "[null, 0.1]"])
    run = recipe_from(args["train"], TRAIN_SECTIONS)
    assert (run.seed, run.train.epochs, run.lora.r, run.model.base_model) == (3, 2, 8, "m")
    assert run.gate.grid == [None, 0.1] and run.train.learning_rate == RunConfig().train.learning_rate
    assert recipe_from(parser.parse_args(["train", "u"])["train"], TRAIN_SECTIONS) == RunConfig()
