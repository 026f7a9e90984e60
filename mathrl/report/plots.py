"""Figures for training and evaluation: reward curves, completion length, accuracy with intervals, errors, lengths.

Each function saves a PNG under `folder` (default figures/), shows it inline inside a notebook, and returns the Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure  # drawn on the Agg canvas: no display needed, no pyplot global state

from mathrl.errors import MathrlError
from mathrl.eval.taxonomy import ERROR_KINDS

FIGSIZE = (8, 4.5)  # inches: about notebook width at 100 dpi, so labels stay legible
DPI = 120


def moving_average(values: Sequence[float | None], window: int) -> list[float | None]:
    """Trailing mean over the last `window` logged values, skipping gaps (None).

    >>> moving_average([1, 2, 3, None, 5], 2)
    [1.0, 1.5, 2.5, 3.0, 5.0]
    """
    out = []
    for i in range(len(values)):
        recent = [v for v in values[max(0, i + 1 - window) : i + 1] if v is not None]
        out.append(sum(recent) / len(recent) if recent else None)
    return out


def read_metrics(path: str | Path) -> list[dict]:
    """The training log's steps from a run folder or its metrics.jsonl (read by mathrl.train.metrics); empty is an error."""
    # Imported here: mathrl.train.metrics pulls in transformers, whose import chatter would land in every plotting cell.
    from mathrl.train import metrics
    from mathrl.train.metrics import METRICS_FILE

    path = Path(path)
    folder = path.parent if path.name == METRICS_FILE else path
    if not (folder / METRICS_FILE).is_file():
        raise MathrlError(f"{path}: no training metrics log; train first or point at OUTPUT_DIR/{METRICS_FILE}")
    rows = [r for r in metrics.read_metrics(folder) if "step" in r]
    if not rows:
        raise MathrlError(f"{path}: the log holds no steps yet")
    return rows


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float | None]]:
    return [r["step"] for r in rows], [r.get(key) for r in rows]


def _finish(fig: Figure, folder: str | Path | None, name: str) -> Figure:
    folder = Path(folder or "figures")
    folder.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(folder / f"{name}.png", dpi=DPI)
    show(fig)
    return fig


def show(fig: Figure) -> None:
    """Display fig inline when running inside a notebook kernel; do nothing in a terminal."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and "IPKernelApp" in shell.config:  # a notebook kernel, not a terminal
        display(fig)


def reward_curves(metrics, folder=None, window: int = 10) -> Figure:
    """Each reward component per step (raw, and a `window`-step moving average), held-out accuracy with its interval
    when the run scored it, and the zero-spread fraction."""
    from mathrl.train.live import draw_heldout, heldout_series  # training's live display draws the same held-out curve

    rows = metrics if isinstance(metrics, list) else read_metrics(metrics)
    heldout = bool(heldout_series(rows)[0])
    trained = [r for r in rows if any(k == "reward" or k.startswith("rewards/") for k in r)]  # not the step-0 row
    names = sorted({k.split("/")[1] for r in trained for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    ratios = [2.2, 1.4, 1] if heldout else [2.2, 1]
    fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * (1.9 if heldout else 1.4)))
    axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    top, bottom = axes[0], axes[-1]
    for index, key in enumerate(["reward"] + [f"rewards/{n}/mean" for n in names]):
        steps, values = _series(trained, key)
        if all(v is None for v in values):
            continue
        color = f"C{index}"
        label = "total (weighted)" if key == "reward" else key.split("/")[1]
        top.plot(steps, [v if v is not None else float("nan") for v in values], color=color, alpha=0.3, linewidth=1)
        top.plot(steps, moving_average(values, window), color=color, linewidth=2, label=label)
    top.set_title(f"Reward per component (faint: raw; bold: {window}-step moving average)")
    top.set_ylabel("mean reward (points)")
    top.legend(fontsize=8, loc="best")
    top.grid(alpha=0.3)
    if heldout:
        draw_heldout(axes[1], rows)
    steps, zero = _series(trained, "frac_reward_zero_std")
    bottom.plot(steps, [v if v is not None else float("nan") for v in zero], color="0.3")
    bottom.set_ylim(0, 1)
    bottom.set_title("Groups with zero reward spread (no learning signal)")
    bottom.set_xlabel("training step")
    bottom.set_ylabel("fraction of groups")
    bottom.grid(alpha=0.3)
    return _finish(fig, folder, "reward_curves")


def length_curve(metrics, folder=None, window: int = 10) -> Figure:
    """Mean completion length per step, with the share of completions cut off at max_completion_length."""
    rows = metrics if isinstance(metrics, list) else read_metrics(metrics)
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    steps, lengths = _series(rows, "completions/mean_length")
    ax.plot(steps, [v if v is not None else float("nan") for v in lengths], color="C0", alpha=0.3)
    ax.plot(steps, moving_average(lengths, window), color="C0", linewidth=2, label="mean length")
    ax.set_title("Completion length over training")
    ax.set_xlabel("training step")
    ax.set_ylabel("mean completion length (tokens)")
    ax.grid(alpha=0.3)
    _, clipped = _series(rows, "completions/clipped_ratio")
    if any(v is not None for v in clipped):
        right = ax.twinx()
        right.plot(steps, [100 * v if v is not None else float("nan") for v in clipped], color="C3", linestyle="--",
                   label="truncated")
        right.set_ylabel("truncated completions (%)")
        right.set_ylim(0, 100)
        right.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    return _finish(fig, folder, "length_curve")


def accuracy_bars(summaries: Mapping[str, dict], folder=None) -> Figure:
    """Strict and flexible accuracy per model (e.g. {"base": summary, "trained": summary}) with 95% Wilson intervals."""
    if not summaries:
        raise MathrlError("accuracy_bars needs at least one evaluation summary")
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    width, labels = 0.38, list(summaries)
    for offset, rule in ((-width / 2, "strict"), (width / 2, "flexible")):
        results = [summaries[m]["accuracy"][rule] for m in labels]
        heights = [100 * r["accuracy"] for r in results]
        errors = [[h - 100 * r["ci95"][0] for h, r in zip(heights, results)],
                  [100 * r["ci95"][1] - h for h, r in zip(heights, results)]]
        positions = [i + offset for i in range(len(labels))]
        bars = ax.bar(positions, heights, width, yerr=errors, capsize=4, label=f"{rule} rule")
        ax.bar_label(bars, labels=[f"{h:.1f}" for h in heights], padding=2, fontsize=8)
    headline = next(iter(summaries.values()))["headline_rule"]
    ax.set_title(f"Accuracy with 95% Wilson intervals (headline rule: {headline})")
    # the sample size sits under each model's name: in the title it ran off the figure with three models
    ax.set_xticks(range(len(labels)), [f"{m}\nn={summaries[m]['n']}" for m in labels])
    ax.set_xlabel("model")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, folder, "accuracy")


def error_taxonomy(errors: Mapping[str, int | dict], folder=None, title: str = "") -> Figure:
    """Wrong answers by kind, largest on top: a summary's "errors" table, or plain counts by kind."""
    errors = {k: v["count"] if isinstance(v, dict) else v for k, v in errors.items()}
    kinds = sorted(ERROR_KINDS, key=lambda k: errors.get(k, 0))
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    bars = ax.barh([k.replace("_", " ") for k in kinds], [errors.get(k, 0) for k in kinds], color="C1")
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_title(title or f"Error taxonomy ({sum(errors.values())} wrong answers)")
    ax.set_xlabel("wrong answers (count)")
    ax.set_ylabel("error kind")
    ax.grid(axis="x", alpha=0.3)
    return _finish(fig, folder, "error_taxonomy")


def length_histogram(records: Sequence[dict], folder=None, max_new_tokens: int | None = None, bins: int = 30) -> Figure:
    """Distribution of completion lengths from evaluation records, with the generation limit marked."""
    if not records:
        raise MathrlError("length_histogram needs evaluation records")
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    ax.hist([r["tokens"] for r in records], bins=bins, color="C0", edgecolor="white")
    if max_new_tokens:
        ax.axvline(max_new_tokens, color="C3", linestyle="--", label=f"max_new_tokens = {max_new_tokens}")
        ax.legend(fontsize=8)
    truncated = sum(r["truncated"] for r in records)
    ax.set_title(f"Completion lengths ({len(records)} completions, {truncated} truncated)")
    ax.set_xlabel("completion length (tokens)")
    ax.set_ylabel("completions (count)")
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, folder, "length_histogram")
