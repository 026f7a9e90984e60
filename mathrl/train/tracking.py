"""Experiment trackers named by train.report_to: which exist, that the chosen one is installed, where it logs, and how
to open its dashboard. trackio logs to a local folder with no account or network; wandb and tensorboard pass through.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from mathrl.config import Config
from mathrl.errors import ConfigError, MathrlError

# train.report_to value -> (module that must be importable, pip requirement)
TRACKERS = {"trackio": ("trackio", "trackio"), "wandb": ("wandb", "wandb"), "tensorboard": ("tensorboard", "tensorboard")}


def check_tracker(report_to: str) -> None:
    """Refuse an unknown tracker or one that is not installed, before any model loads.

    >>> check_tracker("none")
    >>> check_tracker("mlflow")
    Traceback (most recent call last):
    mathrl.errors.ConfigError: train.report_to='mlflow': choose none, trackio, wandb or tensorboard
    """
    if report_to == "none":
        return
    if report_to not in TRACKERS:
        raise ConfigError(f"train.report_to={report_to!r}: choose none, {', '.join(list(TRACKERS)[:-1])} or "
                          f"{list(TRACKERS)[-1]}")
    module, pip = TRACKERS[report_to]
    if importlib.util.find_spec(module) is None:
        raise MathrlError(f"train.report_to={report_to} needs `pip install {pip}`"
                          f"{' (or the [track] extra)' if report_to == 'trackio' else ''}; "
                          "or log to metrics.jsonl only with --set train.report_to=none")


def run_name(cfg: Config) -> str:
    """The name trackers show for this run: train.run_name, else the output folder's name (resumes keep it)."""
    return cfg.train.run_name or Path(cfg.train.output_dir).name


def trackio_dir() -> Path:
    """Where trackio keeps its local database: $TRACKIO_DIR, else the Hugging Face cache (trackio's own rule)."""
    if os.environ.get("TRACKIO_DIR"):
        return Path(os.environ["TRACKIO_DIR"])
    from huggingface_hub.constants import HF_HOME

    return Path(HF_HOME) / "trackio"


def tracking_note(cfg: Config) -> str:
    """Where this run's curves go and how to look at them."""
    t = cfg.train
    if t.report_to == "trackio":
        return (f"trackio logs run {run_name(cfg)!r} of project {t.project!r} to {trackio_dir()} (local, no network).\n"
                f"Dashboard: `trackio show --project {t.project}` in a terminal, or "
                f"`import trackio; trackio.show(project={t.project!r})` in a cell.")
    if t.report_to == "wandb":
        return f"wandb logs run {run_name(cfg)!r} to your Weights & Biases account (`wandb login` first)."
    if t.report_to == "tensorboard":
        return f"tensorboard logs under {t.output_dir}: `tensorboard --logdir {t.output_dir}`."
    return (f"no tracker (train.report_to=none): curves come from {Path(t.output_dir) / 'metrics.jsonl'}; "
            "`--set train.report_to=trackio` adds a local dashboard.")
