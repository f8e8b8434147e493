"""Atomic file writing and JSON helpers shared by every eval output (reports, NIAH grids, LoCoMo imports)."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "json_default", "read_jsonl", "write_json", "write_jsonl", "write_png"]


def json_default(value: Any) -> Any:
    """Serialize numpy scalars/arrays and paths that callers may leave in a report or record."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def atomic_write(path: Path, write: Callable[[io.IOBase], None], binary: bool = False) -> Path:
    """Write via a temp file in the same directory and ``os.replace`` it, so readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": "\n"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, value: Any) -> Path:
    """Pretty JSON, written atomically."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=json_default) + "\n"
    return atomic_write(Path(path), lambda fh: fh.write(text))


def write_jsonl(path: str | os.PathLike, records: list[dict]) -> Path:
    """One JSON object per line, written atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False, default=json_default) + "\n" for r in records)
    return atomic_write(Path(path), lambda fh: fh.write(text))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """One JSON object per non-empty line (answers.jsonl and the like); a bad line is a one-line error naming it."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{number}: invalid JSON ({e.msg})") from None
    return rows


def write_png(path: str | os.PathLike, fig, dpi: int = 120) -> Path:
    """A matplotlib Figure as PNG, written atomically."""
    return atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=dpi), binary=True)
