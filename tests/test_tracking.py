"""Trackers: an unknown or missing one is refused before the model loads; trackio logs a run locally, offline."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mathrl.config import MathrlError, load_config
from mathrl.train.metrics import read_metrics
from mathrl.train.tracking import check_tracker, tracking_note

ROOT = Path(__file__).resolve().parent.parent


def test_a_tracker_that_is_not_installed_is_named_with_its_install_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(MathrlError, match=r"train.report_to=wandb needs `pip install wandb`"):
        check_tracker("wandb")


def test_the_note_says_where_trackio_logs_and_how_to_open_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path))
    cfg = load_config("cpu-smoke", overrides={"train.report_to": "trackio", "train.output_dir": "runs/smoke"})
    note = tracking_note(cfg)
    assert f"run 'smoke' of project 'mathrl' to {tmp_path}" in note  # the output dir names the run
    assert "trackio show --project mathrl" in note


def _trackio_rows(database, run):
    """Every metrics row trackio stored for run, read straight from its SQLite file (trackio's own reader thins rows
    that share a step, and TRL logs its timings at the same step as the training row)."""
    import sqlite3

    with sqlite3.connect(database) as connection:
        found = connection.execute("SELECT metrics FROM metrics WHERE run_name = ? ORDER BY id", (run,)).fetchall()
    return [json.loads(metrics) for (metrics,) in found]


@pytest.mark.slow
def test_two_steps_log_their_rewards_to_a_local_trackio_project_with_no_network(tiny_model_dir, tmp_path):
    out, store = tmp_path / "run", tmp_path / "trackio"
    # every HTTP client honours these: any request would fail, so the run must stay local
    env = {**os.environ, "TRACKIO_DIR": str(store), "HF_HUB_OFFLINE": "1", "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "", "PYTHONPATH": str(ROOT)}
    settings = {"model.name": tiny_model_dir, "data.limit": 8, "train.per_device_train_batch_size": 4,
                "train.num_generations": 4, "train.max_completion_length": 8,  # reduce time
                "train.live_plot": "off", "train.report_to": "trackio", "train.project": "mathrl-test",
                "eval.during_training_every": 0}  # held-out scoring has its own tests (test_heldout.py)
    command = [sys.executable, "-m", "mathrl", "train", "--profile", "cpu-smoke", "--output-dir", str(out),
               "--max-steps", "2", *(arg for key, value in settings.items() for arg in ("--set", f"{key}={value}"))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    by_step = {row["train/global_step"]: row for row in _trackio_rows(store / "mathrl-test.db", "run")
               if "train/reward" in row}
    rows = read_metrics(out)  # mathrl's own log of the same steps
    assert sorted(by_step) == [r["step"] for r in rows] == [1, 2]
    for row in rows:
        shared = {k for k in row if f"train/{k}" in by_step[row["step"]]}
        assert {"reward", "reward_std", "entropy"} <= shared
        assert all(by_step[row["step"]][f"train/{k}"] == pytest.approx(row[k]) for k in shared), row["step"]
