"""How many of a memory's slots the rules ask in only one person form, at a given commit (section 40).

The rules' question loop does not record a question's slot, so this script loads `data_synth/rules.py` as it was at
REV (default: the working tree), adds one line that prints each picked question's slot and person form, and runs the
synthesis of both bundled users under `configs/min_examples40.yaml` for seeds 0-3.

Run: python docs/results/forms_40/coverage.py [--rev 5cc57c4]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from memory_lora.config import RunConfig  # noqa: E402
from memory_lora.ingest import read_memories  # noqa: E402
from memory_lora.prompts import display_name  # noqa: E402

HOOK = '            first = prompt != qa.question and person == "first"\n'
PRINT = '            __import__("sys").stderr.write(f"FORM\\t{mem.id}\\t{qa.group}\\t{person}\\n")\n'


def _rules(rev: str | None) -> types.ModuleType:
    path = "data_synth/rules.py"
    src = (subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
           if rev else (ROOT / path).read_text())
    assert src.count(HOOK) == 1, "the person-form line moved; update HOOK"
    mod = types.ModuleType("rules_at_rev")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up there
    exec(compile(src.replace(HOOK, HOOK + PRINT), f"{rev or 'worktree'}:{path}", "exec"), mod.__dict__)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default=None, help="git revision of data_synth/rules.py (default: working tree)")
    rules = _rules(ap.parse_args().rev)
    base = RunConfig.load(ROOT / "configs" / "min_examples40.yaml").synth
    print("seed user slots(>=2 questions) one-form-only never-third-person never-first-person")
    for seed in range(4):
        for user in ("demo", "ravi"):
            mems = read_memories(ROOT / "memory_lora" / "examples" / user / "memories.jsonl")
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                rules.synthesize(mems, display_name(mems[0].user), dataclasses.replace(base, seed=seed))
            forms: dict[tuple[str, str], list[str]] = {}
            for line in err.getvalue().splitlines():
                tag, mid, group, person = line.split("\t")
                if tag == "FORM":
                    forms.setdefault((mid, group), []).append(person)
            multi = [set(v) for v in forms.values() if len(v) >= 2]
            print(seed, user, len(multi), sum(len(v) == 1 for v in multi), sum(not v & {"name", "user"} for v in multi),
                  sum("first" not in v for v in multi))


if __name__ == "__main__":
    main()
