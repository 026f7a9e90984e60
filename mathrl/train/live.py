"""Reward curves redrawn in place inside a notebook cell while training runs, and only a final figure under papermill.

Rule (`live_mode`): MATHRL_LIVE_PLOT=live|final|off wins; outside a Jupyter kernel it is off; inside one it is live only when a human frontend is detected (jupyter_server sets JPY_SESSION_NAME, google.colab is loaded, KAGGLE_KERNEL_RUN_TYPE=Interactive, VS Code sets VSCODE_PID), else final (papermill, nbclient, Kaggle batch commits).
"""

from __future__ import annotations

import os
import sys

from transformers import TrainerCallback

MODES = ("auto", "live", "final", "off")
CURVE_KEYS = ("reward", "rewards/correctness_reward/mean", "rewards/format_reward_soft/mean")


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def live_mode(requested: str = "auto") -> str:
    """'live' (redraw each log), 'final' (one figure at the end) or 'off'; see the module docstring for the rule."""
    forced = os.environ.get("MATHRL_LIVE_PLOT", "").strip().lower()
    if forced in MODES[1:]:
        return forced
    if requested != "auto":
        return requested
    if not _in_jupyter_kernel():
        return "off"
    human = (
        os.environ.get("JPY_SESSION_NAME")
        or "google.colab" in sys.modules
        or os.environ.get("KAGGLE_KERNEL_RUN_TYPE") == "Interactive"
        or os.environ.get("VSCODE_PID")
    )
    return "live" if human else "final"


def heldout_series(rows: list[dict]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Steps, held-out accuracy and its 95% interval (low, high) in percent, from the rows that carry them."""
    from mathrl.train.heldout import ACCURACY, PREFIX

    scored = [r for r in rows if r.get(ACCURACY) is not None]
    return ([r["step"] for r in scored], [100 * r[ACCURACY] for r in scored],
            [100 * r[PREFIX + "accuracy_low"] for r in scored], [100 * r[PREFIX + "accuracy_high"] for r in scored])


BEFORE_WARMUP_LABEL = "before the format warm-up"


def draw_heldout(ax, rows: list[dict]) -> bool:
    """Held-out accuracy with its interval on `ax` (the curve notebook 03 and reward_curves show), and at step 0 the
    model before the format warm-up as its own marker with its interval, when the run scored it; False when none."""
    from mathrl.train.heldout import BEFORE_WARMUP

    steps, accuracy, low, high = heldout_series(rows)
    if not steps:
        return False
    ax.fill_between(steps, low, high, color="C2", alpha=0.2, label="95% Wilson interval")
    ax.plot(steps, accuracy, color="C2", marker="o", linewidth=2, label="greedy accuracy")
    base = next((r for r in rows if r.get(BEFORE_WARMUP + "accuracy") is not None), None)
    if base is not None:
        value, low, high = (100 * base[BEFORE_WARMUP + key] for key in ("accuracy", "accuracy_low", "accuracy_high"))
        ax.errorbar([0], [value], yerr=[[value - low], [high - value]], fmt="D", color="C3", capsize=4, markersize=6,
                    label=BEFORE_WARMUP_LABEL)
    n = next(r for r in rows if r.get("heldout/n"))["heldout/n"]
    ax.set_title(f"Held-out accuracy on {n} validation problems")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return True


def plot_curves(rows: list[dict], title: str = ""):
    """A matplotlib figure: total reward and each component's mean (left), held-out accuracy with its interval when
    the run scores it (middle), completion length and KL (right)."""
    import matplotlib.pyplot as plt

    heldout = bool(heldout_series(rows)[0])
    fig, axes = plt.subplots(1, 3 if heldout else 2, figsize=(15 if heldout else 11, 3.5))
    left, right = axes[0], axes[-1]
    if heldout:
        draw_heldout(axes[1], rows)
        axes[1].set_xlabel("step")
    rows = [r for r in rows if "reward" in r]  # the held-out row of step 0 has no reward
    steps = [r.get("step") for r in rows]
    reward_keys = ["reward"] + sorted({k for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    for key in reward_keys:
        left.plot(steps, [r.get(key) for r in rows], label=key.removeprefix("rewards/").removesuffix("/mean"))
    left.set(xlabel="step", ylabel="reward", title=title or "rewards")
    left.legend(fontsize=7)
    right.plot(steps, [r.get("completions/mean_length") for r in rows], label="mean completion length")
    right.set(xlabel="step", ylabel="tokens", title="completion length")
    if any(r.get("kl") is not None for r in rows):
        twin = right.twinx()
        twin.plot(steps, [r.get("kl") for r in rows], color="tab:red", label="kl")
        twin.set_ylabel("kl")
    fig.tight_layout()
    return fig


class CurveDisplay:
    """One figure in the cell, updated in place (display_id), so printed logs and warnings above it stay visible."""

    def __init__(self, title: str = ""):
        self.title = title
        self.handle = None

    def show(self, rows: list[dict]) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        if not rows:
            return
        fig = plot_curves(rows, self.title)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


class LivePlotCallback(TrainerCallback):
    """Redraws the curves in the running cell on every log (mode 'live'), or draws them once at the end ('final')."""

    def __init__(self, mode: str = "auto", title: str = "", output_dir=None):
        self.mode = live_mode(mode)
        self.display = CurveDisplay(title)
        self.rows: list[dict] = []
        self.output_dir = output_dir

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run's earlier steps, and the held-out score of the start, are only in metrics.jsonl.
        if self.output_dir is not None and self.mode != "off" and state.is_world_process_zero:
            from mathrl.train.metrics import read_metrics

            self.rows = read_metrics(self.output_dir)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.mode == "off" or not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        self.rows.append({**logs, "step": state.global_step})
        if self.mode == "live":
            self.display.show(self.rows)

    def on_train_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.mode in ("live", "final"):
            self.display.show(self.rows)
