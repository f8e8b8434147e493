"""Figures for eval reports: accuracy and cost per method, forgetting, NIAH heatmaps, scaling curves.

Figures are built with ``matplotlib.figure.Figure`` (Agg rendering, no pyplot global state) and returned unsaved;
callers write them with ``eval.files.write_png``.
"""

from __future__ import annotations

from eval.report import ordered_methods


def accuracy_figure(report: dict):
    """Bar chart of accuracy per method, plus a base-vs-adapter general-probe panel when present."""
    from matplotlib.figure import Figure  # Figure without pyplot: Agg rendering, no global backend state.

    methods = report.get("methods", {})
    order = ordered_methods(methods)
    general = report.get("general") if isinstance(report.get("general"), dict) else None
    if general:
        fig = Figure(figsize=(9, 4))
        ax, ax_general = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    else:
        fig = Figure(figsize=(7, 4))
        ax, ax_general = fig.subplots(), None

    values = [float(methods[m].get("accuracy") or 0.0) for m in order]
    bars = ax.bar(order, values, color="tab:blue")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=2)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.set_title("Memory recall accuracy by method")
    if not order:
        ax.text(0.5, 0.5, "no methods", ha="center", va="center", transform=ax.transAxes)

    if ax_general is not None:
        probe = [float(general.get("base_accuracy") or 0.0), float(general.get("adapter_accuracy") or 0.0)]
        bars = ax_general.bar(["base", "adapter"], probe, color=["tab:gray", "tab:orange"])
        ax_general.bar_label(bars, labels=[f"{v:.2f}" for v in probe], padding=2)
        ax_general.set_ylim(0, 1.1)
        ax_general.set_title(f"General probe (n={general.get('n')})")
    fig.tight_layout()
    return fig


def cost_figure(report: dict):
    """Scatter of mean prompt tokens vs accuracy, one labelled point per method."""
    from matplotlib.figure import Figure

    methods = report.get("methods", {})
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    plotted = 0
    for method in ordered_methods(methods):
        tokens, acc = methods[method].get("prompt_tokens_mean"), methods[method].get("accuracy")
        if tokens is None or acc is None:
            continue
        ax.scatter([tokens], [acc], s=50)
        ax.annotate(method, (tokens, acc), textcoords="offset points", xytext=(5, 5))
        plotted += 1
    if not plotted:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("prompt tokens (mean)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.05, 1.1)
    ax.set_title("Cost vs accuracy")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def forgetting_figure(report: dict):
    """General probe accuracy (base vs adapter) beside the per-prompt KL(base || adapter) histogram."""
    from matplotlib.figure import Figure

    general = report.get("general") or {}
    fig = Figure(figsize=(9, 4))
    ax_probe, ax_kl = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    probe = [general.get("base_accuracy"), general.get("adapter_accuracy")]
    if None in probe:
        ax_probe.text(0.5, 0.5, "general probe skipped", ha="center", va="center", transform=ax_probe.transAxes)
    else:
        bars = ax_probe.bar(["base", "adapter"], probe, color=["tab:gray", "tab:orange"])
        ax_probe.bar_label(bars, labels=[f"{v:.2f}" for v in probe], padding=2)
    ax_probe.set_ylim(0, 1.1)
    ax_probe.set_ylabel("accuracy")
    ax_probe.set_title(f"General probe (n={general.get('n')})")
    values = general.get("kl_per_prompt") or []
    ax_kl.hist(values, bins=30, color="tab:purple")
    if values:
        ax_kl.axvline(general["kl_mean"], color="black", linestyle="--", label=f"mean {general['kl_mean']:.4f}")
        ax_kl.legend()
    ax_kl.set_xlabel("KL(base || adapter), nats per position")
    ax_kl.set_ylabel("generic prompts")
    ax_kl.set_title(f"Next-token KL on {len(values)} generic prompts")
    fig.suptitle(caption(report), fontsize=8)
    fig.tight_layout()
    return fig


def caption(report: dict) -> str:
    """One line naming the seed and the run config a figure came from."""
    run = (report.get("config") or {}).get("run") or {}
    train, synth = run.get("train") or {}, run.get("synth") or {}
    return (f"seed {report.get('seed', train.get('seed'))}; epochs {train.get('epochs')}, "
            f"lr {train.get('learning_rate')}, replay {train.get('replay_ratio')}, "
            f"max_qa_per_memory {synth.get('max_qa_per_memory')}, lora r {(run.get('lora') or {}).get('r')}")


def niah_heatmap(scores: list[list[float | None]], depths: list[float], sizes: list[int], title: str,
                 caption: str = "", xlabels: list[str] | None = None):
    """The familiar NIAH layout: needle depth on y (0 % at the top), haystack size on x, score as colour (0-1).

    Args:
        scores: scores[i][j] for depths[i] and sizes[j]; None = not run (left blank).
        depths: Needle depths in percent.
        sizes: Haystack sizes (distractor memories).
        title: Figure title.
        caption: Small print under the title (seed, config).
        xlabels: Tick labels for the sizes (default the sizes).
    """
    import numpy as np
    from matplotlib.figure import Figure

    grid = np.array([[np.nan if v is None else v for v in row] for row in scores], dtype=float)
    import textwrap

    fig = Figure(figsize=(max(6.5, 2.5 + 1.3 * len(sizes)), 2.0 + 0.55 * len(depths)))
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(len(depths)):
        for j in range(len(sizes)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(sizes)), xlabels or [str(s) for s in sizes])
    ax.set_yticks(range(len(depths)), [f"{d:g} %" for d in depths])
    ax.set_xlabel("haystack size (distractor memories)")
    ax.set_ylabel("needle depth")
    ax.set_title(title + ("\n" + "\n".join(textwrap.wrap(caption, 80)) if caption else ""), fontsize=8)
    fig.colorbar(image, ax=ax, label="score")
    fig.tight_layout()
    return fig


SCALING_METRICS = (("accuracy", "accuracy", False), ("prompt_tokens_mean", "prompt tokens per question", True),
                   ("latency_s_p50", "answer latency p50 (s)", True))


def scaling_figure(points: dict[str, list[tuple[int, float | None]]], ylabel: str, log_y: bool, caption: str = ""):
    """One line per method of a metric against memory count (log x).

    Args:
        points: method -> [(memory count, value)].
        ylabel: The metric's axis label.
        log_y: Log scale on y (tokens, latency).
        caption: Small print (seed, config).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for i, method in enumerate(ordered_methods(points)):
        xy = sorted((x, y) for x, y in points[method] if y is not None)
        if xy:  # marker and dash differ per method so that overlapping lines (rag and hybrid tokens) stay visible
            ax.plot([x for x, _ in xy], [y for _, y in xy], marker="osD^v"[i % 5],
                    linestyle=("-", "--", ":", "-.")[i % 4], markersize=7 - i, label=method)
    ax.set_xscale("log")
    counts = sorted({x for xy in points.values() for x, y in xy if y is not None})
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.minorticks_off()
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("memories")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} vs memory count" + (f"\n{caption}" if caption else ""), fontsize=7)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def seeds_figure(methods: dict[str, dict[str, dict]], caption: str = ""):
    """Accuracy per question type, one bar per method at its mean over seeds, whiskers from min to max and each
    seed's value as a dot, so the run-to-run spread is visible beside the gaps between methods.

    Args:
        methods: method -> {type or "all": {"mean", "min", "max", "per_seed"}} (eval.seeds.summarize_seeds).
        caption: Small print (seed, config).
    """
    import numpy as np
    from matplotlib.figure import Figure

    order = ordered_methods(methods)
    types = list(dict.fromkeys(t for m in order for t in methods[m]))
    fig = Figure(figsize=(max(7.0, 1.3 * len(types) * max(1, len(order)) / 2 + 2), 4.2))
    ax = fig.subplots()
    width = 0.8 / max(1, len(order))
    x = np.arange(len(types))
    for i, method in enumerate(order):
        pos = x + (i - (len(order) - 1) / 2) * width
        stats = [methods[method].get(t) for t in types]
        means = [s["mean"] if s else np.nan for s in stats]
        # max(0, ...): the stored mean is rounded, so it can sit a hair outside [min, max]
        low = [max(0.0, s["mean"] - s["min"]) if s else 0 for s in stats]
        high = [max(0.0, s["max"] - s["mean"]) if s else 0 for s in stats]
        ax.bar(pos, means, width, yerr=[low, high], capsize=3, label=method, alpha=0.8)
        for p, s in zip(pos, stats, strict=True):
            if s:
                ax.scatter([p] * len(s["per_seed"]), s["per_seed"], color="black", s=8, zorder=3)
    ax.set_xticks(x, types, rotation=20)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy over seeds: mean, min-max, each seed a dot" + (f"\n{caption}" if caption else ""),
                 fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
