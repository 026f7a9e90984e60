"""Crash-safe training logs: output_dir/metrics.jsonl (one fsynced JSON line per logged step), samples.jsonl, a reader.

Rows keep TRL's keys as logged (reward, rewards/<name>/mean, kl, ...) plus step, step_time, tokens_per_second, gpu_memory_gib.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from transformers import TrainerCallback

from mathrl import jsonl
from mathrl.train.diagnostics import diagnose

METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
WARNINGS_FILE = "warnings.log"
SUMMARY_FILE = "train_summary.json"
SAMPLES_PER_STEP = 4


# --------------------------------------------------------------------------- files


def _clean(value):
    # JSON has no NaN/inf; None keeps the row parseable by every reader and is what TRL itself logs for "no value".
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one row (NaN and inf as null) as a fsynced JSON line, so a killed run loses at most that line."""
    jsonl.append(path, [{k: _clean(v) for k, v in row.items()}])


def truncate_after(output_dir: str | Path, step: int) -> int:
    """Drop rows with step > `step` (and torn lines) from every log in output_dir; returns rows dropped.

    Called before training starts, with the step being resumed from (0 for a fresh start), so the steps replayed
    after a resume are not logged twice.
    """
    dropped = 0
    for name in (METRICS_FILE, SAMPLES_FILE):
        path = Path(output_dir) / name
        if not path.is_file():
            continue
        raw = path.read_text(encoding="utf-8").splitlines()
        kept = [jsonl.line(r) for r in jsonl.read(path) if r.get("step", 0) <= step]
        dropped += len(raw) - len(kept)
        if len(kept) != len(raw):
            jsonl.write_atomically(path, "".join(kept))
    warnings_path = Path(output_dir) / WARNINGS_FILE
    if warnings_path.is_file():
        lines = warnings_path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if _warning_step(line) <= step]
        if len(kept) != len(lines):
            jsonl.write_atomically(warnings_path, "".join(kept))
    return dropped


def _warning_step(line: str) -> int:
    # Lines are written as "step N: message"; anything else (a torn line) sorts as after every step and is dropped.
    head = line.split(":", 1)[0]
    try:
        return int(head.removeprefix("step "))
    except ValueError:
        return 1 << 62


def read_metrics(output_dir: str | Path) -> list[dict]:
    """The metrics rows of a run in step order, tolerating a torn last line."""
    return sorted(jsonl.read(Path(output_dir) / METRICS_FILE), key=lambda r: r.get("step", 0))


def metrics_frame(output_dir: str | Path):
    """read_metrics as a pandas DataFrame indexed by step (empty when nothing is logged yet)."""
    import pandas as pd

    rows = read_metrics(output_dir)
    frame = pd.DataFrame(rows)
    return frame.set_index("step") if "step" in frame else frame


def read_samples(output_dir: str | Path) -> list[dict]:
    return jsonl.read(Path(output_dir) / SAMPLES_FILE)


# --------------------------------------------------------------------------- the callback


def _gpu_memory_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 3)


def _last_user_text(prompt) -> str:
    if isinstance(prompt, list):
        users = [m.get("content", "") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] if users else ""
    return str(prompt)


def _completion_text(completion) -> str:
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def sample_rows(logs: dict, step: int, count: int = SAMPLES_PER_STEP) -> list[dict]:
    """The first `count` completions of the newest generation batch in TRL's completion buffer, with their scores."""
    prompts, completions = list(logs.get("prompt", ())), list(logs.get("completion", ()))
    rewards = {name: list(values) for name, values in logs.get("rewards", {}).items()}
    advantages = list(logs.get("advantages", ()))
    rows = []
    for i in range(min(count, len(completions))):
        rows.append({
            "step": step,
            "prompt": _last_user_text(prompts[i]) if i < len(prompts) else "",
            "completion": _completion_text(completions[i]),
            "rewards": {name: _clean(values[i]) for name, values in rewards.items() if i < len(values)},
            "advantage": _clean(advantages[i]) if i < len(advantages) else None,
        })
    return rows


class MetricsCallback(TrainerCallback):
    """Appends every log to metrics.jsonl, every `sample_every` steps a few completions to samples.jsonl, and
    warnings from `diagnostics.diagnose` to the row, warnings.log and the console. Only world rank 0 writes.

    `completion_buffer` returns TRL's buffer of the latest prompts, completions and per-reward scores
    (GRPOTrainer._logs, gathered from every rank); None turns samples off.
    """

    def __init__(self, output_dir: str | Path, sample_every: int = 10, completion_buffer=None, echo=print):
        self.output_dir = Path(output_dir)
        self.sample_every = sample_every
        self.completion_buffer = completion_buffer
        self.echo = echo
        self.rows: list[dict] = []
        self._last_time = None
        self._last_tokens = None
        self._last_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self.rows = read_metrics(self.output_dir)
        self._last_time, self._last_step = time.perf_counter(), state.global_step
        self._last_tokens = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "train_runtime" in logs:  # the end-of-training summary is not a step: keep it out of the curves
            (self.output_dir / SUMMARY_FILE).write_text(json.dumps({k: _clean(v) for k, v in logs.items()}, indent=1))
            return
        row = self._row(dict(logs), state)
        self.rows.append(row)
        found = diagnose(self.rows)
        if found:
            row["warnings"] = [f"{w.code}: {w.message}" for w in found]
            self._warn(row["step"], found)
        append_jsonl(self.output_dir / METRICS_FILE, row)
        if self.completion_buffer is not None and self.sample_every > 0 and row["step"] % self.sample_every == 0:
            for sample in sample_rows(self.completion_buffer(), row["step"]):
                append_jsonl(self.output_dir / SAMPLES_FILE, sample)

    def _row(self, logs: dict, state) -> dict:
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        steps = max(1, state.global_step - (self._last_step or 0))
        elapsed = now - self._last_time
        logs = {"step": state.global_step, **logs}
        logs.setdefault("step_time", elapsed / steps)  # TRL logs its own step_time; keep it when present
        logs["tokens_per_second"] = (tokens - self._last_tokens) / elapsed if elapsed > 0 else None
        memory = _gpu_memory_gib()
        if memory is not None:
            logs["gpu_memory_gib"] = memory
        self._last_time, self._last_tokens, self._last_step = now, tokens, state.global_step
        return logs

    def _warn(self, step: int, found) -> None:
        # Only newly raised warnings are echoed, so a condition that lasts 100 steps prints once, not 100 times.
        previous = {w.split(":", 1)[0] for w in self.rows[-2].get("warnings", [])} if len(self.rows) > 1 else set()
        with open(self.output_dir / WARNINGS_FILE, "a", encoding="utf-8") as handle:
            for warning in found:
                handle.write(f"step {step}: [{warning.code}] {warning.message}\n")
                if warning.code not in previous:
                    self.echo(f"warning (step {step}): {warning.message}")
