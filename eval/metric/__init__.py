"""Local Hugging Face ``evaluate`` metrics for memory_lora, loaded by path because hub metrics are unreachable.

``METRIC_DIR`` is the ``memory_recall`` module directory; ``load_metric()`` returns the loaded metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["METRIC_DIR", "load_metric"]

METRIC_DIR: Path = Path(__file__).resolve().parent / "memory_recall"


def load_metric(**kwargs: Any) -> Any:
    """Load the ``memory_recall`` metric through ``evaluate.load`` from its local directory.

    Works offline (``HF_HUB_OFFLINE=1``, ``HF_EVALUATE_OFFLINE=1``): a local path never touches the hub.

    Args:
        **kwargs: Passed to ``evaluate.load`` (e.g. ``keep_in_memory=True``, ``experiment_id``).

    Returns:
        An ``evaluate.EvaluationModule`` whose ``compute`` returns accuracy, exact_match, f1 and n.
    """
    # Imported lazily: evaluate pulls in datasets/pyarrow, which callers that only need score_reply avoid.
    import evaluate

    return evaluate.load(str(METRIC_DIR), **kwargs)
