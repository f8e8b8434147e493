"""Layers go one way: the import-linter contracts in pyproject.toml hold, and they catch an import that breaks them.

Run: python -m pytest -q tests/test_layers.py      (or `lint-imports` from the repository root)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("memory_lora", "data_synth", "eval")


def _lint(root: Path) -> subprocess.CompletedProcess:
    # a fresh process with `root` first on the path, so the packages analysed are the ones in `root`
    code = f"import sys; sys.path.insert(0, {str(root)!r}); from importlinter.cli import lint_imports; " \
           f"sys.exit(lint_imports(config_filename={str(root / 'pyproject.toml')!r}, no_cache=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)


def test_the_layer_contracts_hold():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in PACKAGES:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "examples", "data"))
    shutil.copy(REPO / "pyproject.toml", root)
    return root


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("memory_lora/train.py", "import data_synth.rules", "never import synthesis"),
    ("data_synth/rules.py", "import memory_lora.store", "Layers go one way"),
    ("memory_lora/pipeline.py", "import eval.report", "Layers go one way"),
    ("memory_lora/records.py", "import torch", "no model libraries"),
])
def test_an_import_against_the_layers_is_caught(tmp_path, module, line, contract):
    root = _copy(tmp_path)
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # the violation under test\n", encoding="utf-8")
    result = _lint(root)
    assert result.returncode != 0 and "2 kept, 1 broken" in result.stdout, result.stdout
    broken = " ".join(result.stdout.split("Broken contracts")[1].split())  # names wrap across lines
    assert contract in broken, result.stdout
