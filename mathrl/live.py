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


def plot_curves(rows: list[dict], title: str = ""):
    """A matplotlib figure: total reward and each component's mean (left), held-out accuracy with its interval when
    the run scores it (middle), completion length and KL (right)."""
    import matplotlib.pyplot as plt

    from mathrl.plots import draw_heldout, heldout_series

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
            from mathrl.metrics import read_metrics

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
