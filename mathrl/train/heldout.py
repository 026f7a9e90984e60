"""Held-out accuracy while training: a TRL callback scores fixed validation problems greedily, as `mathrl eval` does.

Its figures join the step's row in metrics.jsonl (`heldout/accuracy` with its Wilson interval); the best step is kept.
With a format warm-up, the step-0 row also holds the model before it (`heldout/before_warmup_accuracy`...).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from transformers import TrainerCallback

from mathrl.config import Config
from mathrl.errors import ConfigError
from mathrl.eval.evaluate import evaluate
from mathrl.generation import stop_strings, transformers_generate
from mathrl.train.metrics import METRICS_FILE, append_jsonl, read_metrics

PREFIX = "heldout/"
ACCURACY = PREFIX + "accuracy"
BEFORE_WARMUP = PREFIX + "before_warmup_"  # the step-0 row's figures for the model before the format warm-up
VALIDATION_FILE = "validation.json"  # the validation problems' ids, beside metrics.jsonl
RECORDS_DIR = "heldout"  # output_dir/heldout/step-N: what the model answered at each evaluation


# --------------------------------------------------------------------------- the validation problems


def validation_rows(cfg: Config, train_rows: list[dict]) -> list[dict]:
    """The last eval.during_training_limit problems of data.eval_split, outside the test problems and training.

    The test problems are the split's first eval.limit rows (what `mathrl eval` and notebook 04 score), so choosing a
    checkpoint on these never sees them; a problem whose question is also a training question is skipped.
    """
    from mathrl.data.load import load_rows
    from mathrl.eval.evaluate import eval_rows

    split = load_rows(dataclasses.replace(cfg.data, limit=None), cfg.data.eval_split)
    test = {r["id"] for r in eval_rows(cfg)}
    practised = {r["question"] for r in train_rows}
    free = [r for r in split if r["id"] not in test and r["question"] not in practised]
    rows = free[-cfg.eval.during_training_limit:]
    if not rows:
        raise ConfigError(
            f"no validation problems left in the {cfg.data.eval_split!r} split ({len(split)} rows): the first "
            f"eval.limit={cfg.eval.limit} are the test problems and the rest are training problems; lower eval.limit, "
            "or turn held-out evaluation off with eval.during_training_every=0"
        )
    return rows


def write_validation(output_dir: str | Path, cfg: Config, rows: list[dict]) -> Path:
    """output_dir/validation.json: which problems selection saw, so a report can prove its test problems differ."""
    path = Path(output_dir) / VALIDATION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"split": cfg.data.eval_split, "n": len(rows), "ids": [r["id"] for r in rows]}))
    return path


def read_validation_ids(output_dir: str | Path) -> set[str]:
    path = Path(output_dir) / VALIDATION_FILE
    return set(json.loads(path.read_text())["ids"]) if path.is_file() else set()


# --------------------------------------------------------------------------- scoring the model in memory


def score_model(model, tokenizer, rows: list[dict], cfg: Config, out: str | Path) -> dict:
    """`mathrl eval`'s greedy summary of a model already in memory on `rows`, records in `out` (cleared first)."""
    greedy = copy.deepcopy(cfg)
    greedy.eval.num_samples = 1
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)  # records of a killed attempt came from other weights
    was_training = model.training
    model.eval()
    try:
        generate = transformers_generate(model, tokenizer, greedy.eval.max_new_tokens, stop_strings(greedy.format))
        return evaluate(greedy, "in-training", out, rows, generator=(generate, tokenizer), progress=False)
    finally:
        model.train(was_training)


def heldout_values(summary: dict) -> dict:
    """The metrics.jsonl keys of one held-out evaluation: headline accuracy, its 95% Wilson interval, counts."""
    headline = summary["headline"]
    low, high = headline["ci95"]
    return {ACCURACY: headline["accuracy"], PREFIX + "accuracy_low": low, PREFIX + "accuracy_high": high,
            PREFIX + "correct": headline["correct"], PREFIX + "n": headline["n"],
            PREFIX + "format_rate": summary["format_compliance"]["sections_in_order"]}


# --------------------------------------------------------------------------- the callback


class HeldOutCallback(TrainerCallback):
    """Scores `rows` greedily at the start, every `every` optimizer steps and at the last step.

    The figures are added to that step's log (a log is forced at that step), so metrics.jsonl keeps one row per step
    and a resumed run, which drops rows after its checkpoint, replays each evaluation exactly once. The start (step
    0) has no log and is appended once. With `keep_best`, a new best forces a checkpoint at that step and is recorded
    as the trainer's best (state.best_global_step), which checkpoint rotation never deletes.
    Every process scores (sharded models need them all); only world rank 0 writes.
    """

    def __init__(self, cfg: Config, rows: list[dict], output_dir: str | Path, echo=print):
        self.cfg, self.rows, self.output_dir = cfg, rows, Path(output_dir)
        self.every, self.keep_best, self.echo = cfg.eval.during_training_every, cfg.train.keep_best, echo
        self.pending: dict | None = None
        self.before_warmup_values: dict = {}  # joins the step-0 row, so it is written once, with it
        # Read before training starts, so every process takes the same decision before rank 0 writes anything. A run
        # killed before its first checkpoint restarts from the same seeded start: its step-0 row stands.
        self.start_done = any(r.get("step") == 0 and ACCURACY in r for r in read_metrics(self.output_dir))

    def _score(self, state, model, tokenizer, folder: str | None = None, when: str | None = None) -> dict:
        step = state.global_step
        folder, when = folder or f"step-{step}", when or f"step {step}"
        if state.is_world_process_zero:
            summary = score_model(model, tokenizer, self.rows, self.cfg, self.output_dir / RECORDS_DIR / folder)
        else:
            with tempfile.TemporaryDirectory() as scratch:
                summary = score_model(model, tokenizer, self.rows, self.cfg, scratch)
        values = heldout_values(summary)
        self.echo(f"{when}: held-out accuracy {values[ACCURACY]:.1%} ({values[PREFIX + 'correct']}/"
                  f"{values[PREFIX + 'n']}, 95% CI {values[PREFIX + 'accuracy_low']:.1%}-"
                  f"{values[PREFIX + 'accuracy_high']:.1%})")
        return values

    def score_before_warmup(self, state, model, tokenizer) -> None:
        """Score the model the format warm-up is about to train, for the step-0 row (BEFORE_WARMUP keys). A restart
        that warms up again finds that row written and scores nothing: the base model's figures stand."""
        if self.start_done:
            return
        values = self._score(state, model, tokenizer, "before-warmup", "before the format warm-up")
        self.before_warmup_values = {BEFORE_WARMUP + key.removeprefix(PREFIX): value for key, value in values.items()}

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step != 0 or self.start_done:
            return
        values = self._score(state, model, processing_class)
        if state.is_world_process_zero:
            append_jsonl(self.output_dir / METRICS_FILE, {"step": 0, **self.before_warmup_values, **values})

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        step = state.global_step
        if not (step % self.every == 0 or step >= state.max_steps):
            return
        self.pending = {"step": step, **self._score(state, model, processing_class)}
        control.should_log = True
        accuracy = self.pending[ACCURACY]
        if self.keep_best and (state.best_metric is None or accuracy > state.best_metric):
            # the earliest step wins a tie: a later checkpoint has to do better, not as well, to replace it
            state.best_metric, state.best_global_step = accuracy, step
            control.should_save = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.pending is None or logs is None or "train_runtime" in logs or self.pending["step"] != state.global_step:
            return
        logs.update({k: v for k, v in self.pending.items() if k != "step"})
        self.pending = None


def heldout_callback(cfg: Config, train_rows: list[dict], echo=print) -> HeldOutCallback | None:
    """The callback for cfg (None when eval.during_training_every is 0); writes validation.json on rank 0."""
    if cfg.eval.during_training_every <= 0:
        return None
    rows = validation_rows(cfg, train_rows)
    if int(os.environ.get("RANK", "0")) == 0:
        write_validation(cfg.train.output_dir, cfg, rows)
    echo(f"held-out: {len(rows)} validation problems from the {cfg.data.eval_split!r} split, scored every "
         f"{cfg.eval.during_training_every} steps")
    return HeldOutCallback(cfg, rows, cfg.train.output_dir, echo)


# --------------------------------------------------------------------------- reading it back


def curve(output_dir: str | Path) -> list[dict]:
    """The held-out evaluations of a run in step order: step, accuracy, ci95, correct, n."""
    return [{"step": r["step"], "accuracy": r[ACCURACY], "ci95": [r[PREFIX + "accuracy_low"], r[PREFIX + "accuracy_high"]],
             "correct": r[PREFIX + "correct"], "n": r[PREFIX + "n"]}
            for r in read_metrics(output_dir) if r.get(ACCURACY) is not None]


def before_warmup(output_dir: str | Path) -> dict | None:
    """The held-out score of the model before the format warm-up (accuracy, ci95, correct, n); None without one."""
    for r in read_metrics(output_dir):
        if r.get(BEFORE_WARMUP + "accuracy") is not None:
            return {"accuracy": r[BEFORE_WARMUP + "accuracy"], "ci95": [r[BEFORE_WARMUP + "accuracy_low"],
                    r[BEFORE_WARMUP + "accuracy_high"]], "correct": r[BEFORE_WARMUP + "correct"],
                    "n": r[BEFORE_WARMUP + "n"]}
    return None


# --------------------------------------------------------------------------- which checkpoint is best

SELECTION_FILE = "selection.json"  # in output_dir/final: which step is best on validation, and why


def selection(state, cfg: Config, last: int) -> dict:
    """The run's best checkpoint on the validation problems and the last step, from the trainer's state and the log."""
    out = Path(cfg.train.output_dir)
    points = {p["step"]: p for p in curve(out)}
    result = {"last_step": last, "last": points.get(last), "start": points.get(0), "best": None,
              "evaluations": len(points),
              "rule": "highest greedy held-out accuracy on the validation problems (validation.json), earliest step "
                      "on ties; only trained steps, each kept as a checkpoint",
              "validation": {"split": cfg.data.eval_split, "n": cfg.eval.during_training_limit,
                             "file": VALIDATION_FILE},
              "final": f"final/ holds the model after the last step ({last})"}
    step = state.best_global_step
    folder = out / f"checkpoint-{step}"
    if not (cfg.train.keep_best and step and step in points and folder.is_dir()):
        why = ("no held-out evaluation ran (eval.during_training_every=0)" if not points else
               "no best checkpoint kept (train.keep_best=false)" if not cfg.train.keep_best else
               "the best checkpoint is missing")
        result["why"] = f"final/ is the last step ({last}); {why}"
        return result
    result["best"] = {"step": step, "checkpoint": str(folder), **points[step]}
    best, end = points[step], points.get(last)
    compared = f", the last step {end['accuracy']:.1%}" if end and step != last else ""
    result["why"] = (f"best on validation: step {step} ({best['accuracy']:.1%}, {best['correct']}/{best['n']}"
                     f"{compared}), kept as {folder.name}; report it on the test problems, which selection never saw")
    return result


def write_selection(state, cfg: Config, final: str | Path, last: int) -> dict:
    """selection() written to final/selection.json."""
    result = selection(state, cfg, last)
    Path(final).mkdir(parents=True, exist_ok=True)
    (Path(final) / SELECTION_FILE).write_text(json.dumps(result, indent=1))
    return result


def read_selection(output_dir: str | Path) -> dict | None:
    path = Path(output_dir) / "final" / SELECTION_FILE
    return json.loads(path.read_text()) if path.is_file() else None
