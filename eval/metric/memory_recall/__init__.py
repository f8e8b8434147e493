"""The memory_recall metric package; load it with ``evaluate.load`` by path (see ``eval.metric.load_metric``).

Kept as a regular package so ``from eval.metric.memory_recall.memory_recall import score_reply`` works and
setuptools ships the script. ``evaluate`` only copies ``memory_recall.py`` itself into its module cache.
"""
