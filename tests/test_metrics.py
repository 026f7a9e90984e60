"""Metrics log, samples, reader, diagnostics and the live-plot rule: pure and file-level behaviour, no model."""

import json
import math
from types import SimpleNamespace

import pytest

from mathrl.train import diagnostics, metrics
from mathrl.train.diagnostics import diagnose
from mathrl.train.live import live_mode, plot_curves
from mathrl.train.metrics import (
    METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE, WARNINGS_FILE, MetricsCallback, append_jsonl, metrics_frame,
    read_metrics, read_samples, sample_rows, truncate_after,
)


def _state(step, rank0=True, tokens=0):
    return SimpleNamespace(global_step=step, is_world_process_zero=rank0, num_input_tokens_seen=tokens)


# --------------------------------------------------------------------------- the log file


def test_rows_survive_a_torn_last_line(tmp_path):
    for step in (1, 2):
        append_jsonl(tmp_path / METRICS_FILE, {"step": step, "reward": 0.5})
    with open(tmp_path / METRICS_FILE, "a") as handle:
        handle.write('{"step": 3, "rew')  # killed mid-write
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]


def test_nan_is_written_as_null_so_the_file_stays_json(tmp_path):
    append_jsonl(tmp_path / METRICS_FILE, {"step": 1, "loss": float("nan")})
    assert json.loads((tmp_path / METRICS_FILE).read_text()) == {"step": 1, "loss": None}


def test_truncate_drops_replayed_steps_and_torn_lines(tmp_path):
    for step in (1, 2, 3, 4):
        append_jsonl(tmp_path / METRICS_FILE, {"step": step})
        append_jsonl(tmp_path / SAMPLES_FILE, {"step": step, "completion": "x"})
    (tmp_path / WARNINGS_FILE).write_text("step 1: [clipped] a\nstep 4: [clipped] b\n")
    with open(tmp_path / METRICS_FILE, "a") as handle:
        handle.write('{"step": 5')
    assert truncate_after(tmp_path, 2) == 5  # steps 3, 4 and the torn line; steps 3, 4 of the samples
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
    assert (tmp_path / WARNINGS_FILE).read_text() == "step 1: [clipped] a\n"
    append_jsonl(tmp_path / METRICS_FILE, {"step": 3})  # appends after a clean line, not onto a torn one
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]


def test_truncate_keeps_the_resumed_step_itself_in_every_log(tmp_path):
    """The checkpoint at step 2 holds the state after step 2, so step 2's rows and warnings stay and step 3's go."""
    for step in (1, 2, 3):
        append_jsonl(tmp_path / METRICS_FILE, {"step": step})
        append_jsonl(tmp_path / SAMPLES_FILE, {"step": step})
    (tmp_path / WARNINGS_FILE).write_text("step 1: [clipped] a\nstep 2: [clipped] b\nstep 3: [clipped] c\n")
    assert truncate_after(tmp_path, 2) == 2
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
    assert [r["step"] for r in read_samples(tmp_path)] == [1, 2]
    assert (tmp_path / WARNINGS_FILE).read_text() == "step 1: [clipped] a\nstep 2: [clipped] b\n"


def test_truncate_to_zero_clears_a_fresh_starts_logs_and_drops_torn_warning_lines(tmp_path):
    append_jsonl(tmp_path / METRICS_FILE, {"step": 1})
    append_jsonl(tmp_path / METRICS_FILE, {"loss": 0.5})  # a row without a step counts as step 0
    (tmp_path / WARNINGS_FILE).write_text("step 1: [clipped] a\nstep 0: [x] b\nste")
    assert truncate_after(tmp_path, 0) == 1
    assert read_metrics(tmp_path) == [{"loss": 0.5}]
    assert (tmp_path / WARNINGS_FILE).read_text() == "step 0: [x] b\n"
    assert not (tmp_path / (METRICS_FILE + ".tmp")).exists()


def test_truncate_with_nothing_to_drop_leaves_the_files_untouched(tmp_path):
    append_jsonl(tmp_path / METRICS_FILE, {"step": 1})
    (tmp_path / WARNINGS_FILE).write_text("step 1: [clipped] a\n")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert truncate_after(tmp_path, 5) == 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert truncate_after(tmp_path / "missing", 5) == 0  # no logs yet: nothing to do


def test_a_torn_line_in_the_middle_loses_only_itself(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"step": 1}\n{"step": 2, "rew\n{"step": 3}\n')
    (tmp_path / SAMPLES_FILE).write_text('{"step": 1}\n{"step": 4}\n')  # samples only: metrics lost
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 3]
    (tmp_path / METRICS_FILE).unlink()
    assert truncate_after(tmp_path, 2) == 1
    assert read_samples(tmp_path) == [{"step": 1}]


def test_trimming_keeps_unicode_and_warnings_whose_message_has_colons(tmp_path):
    append_jsonl(tmp_path / SAMPLES_FILE, {"step": 1, "completion": "½ × 3"})
    append_jsonl(tmp_path / SAMPLES_FILE, {"step": 2, "completion": "x"})
    (tmp_path / WARNINGS_FILE).write_text("step 1: [clipped] raise train.max_completion_length: now 256\n")
    truncate_after(tmp_path, 1)
    assert (tmp_path / SAMPLES_FILE).read_text(encoding="utf-8") == '{"step": 1, "completion": "½ × 3"}\n'
    assert (tmp_path / WARNINGS_FILE).read_text() == "step 1: [clipped] raise train.max_completion_length: now 256\n"


def test_rows_without_a_step_sort_first(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"step": 1}\n{"loss": 0.5}\n')
    assert read_metrics(tmp_path) == [{"loss": 0.5}, {"step": 1}]


def test_rows_that_are_not_objects_are_skipped(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"step": 2}\n[1, 2]\n"text"\n{"step": 1}\n')
    assert read_metrics(tmp_path) == [{"step": 1}, {"step": 2}]
    assert read_metrics(tmp_path / "missing") == []


def test_unicode_is_written_as_is(tmp_path):
    append_jsonl(tmp_path / SAMPLES_FILE, {"completion": "½ × 3 = 1.5", "x": float("inf")})
    assert (tmp_path / SAMPLES_FILE).read_text(encoding="utf-8") == '{"completion": "½ × 3 = 1.5", "x": null}\n'


def test_frame_is_indexed_by_step(tmp_path):
    assert metrics_frame(tmp_path).empty
    append_jsonl(tmp_path / METRICS_FILE, {"step": 1, "reward": 0.25})
    assert metrics_frame(tmp_path).loc[1, "reward"] == 0.25


def test_sample_rows_pair_completions_with_their_scores():
    buffer = {
        "prompt": [[{"role": "system", "content": "s"}, {"role": "user", "content": "2+2?"}]] * 2,
        "completion": [[{"role": "assistant", "content": "<answer>4</answer>"}], [{"role": "assistant", "content": "5"}]],
        "rewards": {"correctness_reward": [1.0, 0.0]},
        "advantages": [0.7, -0.7],
    }
    rows = sample_rows(buffer, step=10, count=5)
    assert rows[1] == {"step": 10, "prompt": "2+2?", "completion": "5", "rewards": {"correctness_reward": 0.0},
                       "advantage": -0.7}
    assert len(rows) == 2 and rows[0]["completion"] == "<answer>4</answer>"
    assert len(sample_rows(buffer, step=10)) == 2  # at most SAMPLES_PER_STEP, fewer when the batch is smaller


def test_sample_rows_take_the_first_few_and_tolerate_short_columns():
    buffer = {
        "prompt": ["plain prompt", [{"role": "system", "content": "s"}], [{"role": "user", "content": "a"},
                                                                          {"role": "user", "content": "b"}]],
        "completion": ["one", [{"role": "assistant", "content": "tw"}, {"role": "assistant", "content": "o"}, "x"],
                       "three", "four", "five", "six"],
        "rewards": {"r": [float("nan"), 1.0], "s": [0.5]},
        "advantages": [float("inf")],
    }
    rows = sample_rows(buffer, step=3)
    assert len(rows) == 4  # SAMPLES_PER_STEP
    assert [r["prompt"] for r in rows] == ["plain prompt", "", "b", ""]  # the last user turn; none, or no prompt
    assert [r["completion"] for r in rows] == ["one", "two", "three", "four"]
    assert [r["rewards"] for r in rows] == [{"r": None, "s": 0.5}, {"r": 1.0}, {}, {}]
    assert [r["advantage"] for r in rows] == [None, None, None, None]
    assert sample_rows({}, step=3) == []
    no_content = {"prompt": [[{"role": "user"}]], "completion": [[{"role": "assistant"}]]}
    assert [(r["prompt"], r["completion"]) for r in sample_rows(no_content, step=1)] == [("", "")]


# --------------------------------------------------------------------------- the callback


def _logs(reward, **extra):
    return {"loss": 0.1, "reward": reward, "frac_reward_zero_std": 0.0, "completions/mean_length": 50.0,
            "num_tokens": 100.0, **extra}


def test_callback_appends_rows_with_derived_keys_and_keeps_summary_apart(tmp_path):
    printed = []
    callback = MetricsCallback(tmp_path, sample_every=2, completion_buffer=lambda: {"completion": ["a"]},
                               echo=printed.append)
    callback.on_train_begin(None, _state(0), None)
    for step in (1, 2):
        callback.on_log(None, _state(step, tokens=100 * step), None, logs=_logs(0.1 * step))
    callback.on_log(None, _state(2), None, logs={"train_runtime": 3.0, "train_loss": 0.1})
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2]  # the end-of-training summary is not a step
    assert {"step_time", "tokens_per_second", "reward", "loss"} <= set(rows[0])
    assert json.loads((tmp_path / SUMMARY_FILE).read_text())["train_runtime"] == 3.0
    assert [s["step"] for s in map(json.loads, (tmp_path / SAMPLES_FILE).read_text().splitlines())] == [2]
    assert printed == []  # a healthy run prints no warnings


def test_rows_carry_step_time_and_token_rate_from_the_clock(tmp_path, monkeypatch):
    clock = iter([100.0, 102.0, 106.0])
    monkeypatch.setattr(metrics, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    callback = MetricsCallback(tmp_path)
    callback.on_train_begin(None, _state(10, tokens=1000), None)  # resumed at step 10
    callback.on_log(None, _state(12, tokens=1400), None, logs=_logs(0.1))  # two steps, 400 tokens in 2 s
    callback.on_log(None, _state(13, tokens=1500), None, logs=_logs(0.1, step_time=9.5))  # TRL's own step_time
    first, second = read_metrics(tmp_path)
    assert (first["step"], first["step_time"], first["tokens_per_second"]) == (12, 1.0, 200.0)
    assert (second["step"], second["step_time"], second["tokens_per_second"]) == (13, 9.5, 25.0)


def test_step_time_of_a_fresh_run_and_a_zero_or_short_interval(tmp_path, monkeypatch):
    clock = iter([0.0, 4.0, 5.0, 5.0, 5.5])
    monkeypatch.setattr(metrics, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    callback = MetricsCallback(tmp_path)
    callback.on_train_begin(None, _state(0), None)
    for step, tokens in ((2, 800), (3, 900), (4, 900), (5, 1000)):
        callback.on_log(None, _state(step, tokens=tokens), None, logs=_logs(0.1))
    rows = read_metrics(tmp_path)
    assert [r["step_time"] for r in rows] == [2.0, 1.0, 0.0, 0.5]  # 4 s over steps 1-2, then one step each
    assert [r["tokens_per_second"] for r in rows] == [200.0, 100.0, None, 200.0]  # no time passed: no rate


def test_gpu_memory_is_logged_when_there_is_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "_gpu_memory_gib", lambda: 3.25)
    callback = MetricsCallback(tmp_path)
    callback.on_train_begin(None, _state(0), None)
    callback.on_log(None, _state(1), None, logs=_logs(0.1))
    monkeypatch.setattr(metrics, "_gpu_memory_gib", lambda: None)
    callback.on_log(None, _state(2), None, logs=_logs(0.1))
    first, second = read_metrics(tmp_path)
    assert first["gpu_memory_gib"] == 3.25 and "gpu_memory_gib" not in second


def test_samples_follow_sample_every_and_can_be_off(tmp_path):
    buffer = {"completion": ["a"]}
    callbacks = {every: MetricsCallback(tmp_path / str(every), sample_every=every, completion_buffer=lambda: buffer)
                 for every in (0, 1, 2)}
    callbacks["default"] = MetricsCallback(tmp_path / "default" / "nested", completion_buffer=lambda: buffer)
    for callback in callbacks.values():
        callback.on_train_begin(None, _state(0), None)  # creates a missing output folder, parents too
        for step in range(1, 21):
            callback.on_log(None, _state(step), None, logs=_logs(0.1))
    assert [s["step"] for s in read_samples(tmp_path / "2")] == list(range(2, 21, 2))
    assert [s["step"] for s in read_samples(tmp_path / "1")] == list(range(1, 21))
    assert [s["step"] for s in read_samples(tmp_path / "default" / "nested")] == [10, 20]  # every 10 steps
    assert read_samples(tmp_path / "0") == []


def test_only_rank_zero_writes(tmp_path):
    callback = MetricsCallback(tmp_path)
    callback.on_train_begin(None, _state(0, rank0=False), None)
    callback.on_log(None, _state(1, rank0=False), None, logs=_logs(0.1))
    assert not (tmp_path / METRICS_FILE).exists()


def test_a_lasting_warning_prints_once_but_is_logged_every_step(tmp_path):
    printed = []
    callback = MetricsCallback(tmp_path, echo=printed.append)
    callback.on_train_begin(None, _state(0), None)
    for step in (1, 2, 3):
        callback.on_log(None, _state(step), None, logs=_logs(0.0, frac_reward_zero_std=1.0))
    assert len(printed) == 1 and printed[0].startswith("warning (step 1): ") and "zero reward spread" in printed[0]
    assert all(r["warnings"][0].startswith("zero_spread:") for r in read_metrics(tmp_path))
    lines = (tmp_path / WARNINGS_FILE).read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["step 1", "step 2", "step 3"]
    assert all(line.split(": ", 1)[1].startswith("[zero_spread] ") for line in lines)


def test_a_warning_raised_after_a_clean_step_is_printed(tmp_path):
    printed = []
    callback = MetricsCallback(tmp_path, echo=printed.append)
    callback.on_train_begin(None, _state(0), None)
    callback.on_log(None, _state(1), None, logs=_logs(0.5))
    for step in range(2, 8):
        callback.on_log(None, _state(step), None, logs=_logs(0.0, frac_reward_zero_std=1.0))
    first_warned = next(r["step"] for r in read_metrics(tmp_path) if r.get("warnings"))
    assert first_warned > 1 and printed == [printed[0]] and printed[0].startswith(f"warning (step {first_warned}): ")


def test_a_lasting_warning_is_not_printed_again_after_a_resume(tmp_path):
    """A resumed run reloads the rows logged before the checkpoint, so it knows the warning was already raised."""
    printed = []
    first = MetricsCallback(tmp_path, echo=printed.append)
    first.on_train_begin(None, _state(0), None)
    for step in (1, 2, 3):
        first.on_log(None, _state(step), None, logs=_logs(0.0, frac_reward_zero_std=1.0))
    truncate_after(tmp_path, 2)  # killed after step 3, resumed from checkpoint-2
    resumed = MetricsCallback(tmp_path, echo=printed.append)
    resumed.on_train_begin(None, _state(2), None)
    resumed.on_log(None, _state(3), None, logs=_logs(0.0, frac_reward_zero_std=1.0))
    assert len(printed) == 1
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2, 3]


# --------------------------------------------------------------------------- diagnostics


def _run(n, **series):
    """n rows; each keyword is a function of the row index giving that key's value."""
    return [{"step": i + 1, **{k.replace("__", "/"): f(i) for k, f in series.items()}} for i in range(n)]


CASES = [
    # a healthy run: spread, short completions, correctness and format both rising
    (_run(12, frac_reward_zero_std=lambda i: 0.2, completions__clipped_ratio=lambda i: 0.0,
          completions__mean_length=lambda i: 60.0, loss=lambda i: 0.1,
          rewards__correctness_reward__mean=lambda i: 0.3 + 0.02 * i,
          rewards__format_reward_soft__mean=lambda i: 0.3 + 0.02 * i), set()),
    # every group scored the same
    (_run(5, frac_reward_zero_std=lambda i: 0.9), {"zero_spread"}),
    # most completions truncated
    (_run(5, completions__clipped_ratio=lambda i: 0.8), {"clipped"}),
    # the loss went NaN (written as null in the file)
    (_run(2, loss=lambda i: 0.1 if i == 0 else None), {"nan_loss"}),
    (_run(1, loss=lambda i: math.nan), {"nan_loss"}),
    # format rising while correctness falls: the reward-hacking case seen with equal weights
    (_run(10, rewards__correctness_reward__mean=lambda i: 0.5 if i < 5 else 0.1,
          rewards__format_reward_soft__mean=lambda i: 0.2 if i < 5 else 0.9), {"format_over_correctness"}),
    # format rising with correctness flat is fine
    (_run(10, rewards__correctness_reward__mean=lambda i: 0.5,
          rewards__format_reward_soft__mean=lambda i: 0.2 if i < 5 else 0.9), set()),
    # a slow drift, each window's rise too small to see (as in a run where sampled format went 0.84 -> 0.99 and
    # sampled correctness 0.74 -> 0.02 over 40 steps), is seen against the run's opening steps
    (_run(40, rewards__correctness_reward__mean=lambda i: 0.75 - 0.75 * i / 39 + (0.3 if i % 2 else -0.3),
          rewards__format_reward_strict__mean=lambda i: 0.84 + 0.15 * i / 39), {"format_over_correctness"}),
    # correctness swinging between prompts (exact 3, wrong -0.5) with no trend is noise, not a fall
    (_run(10, rewards__correctness_reward__mean=lambda i: [3, -0.5, 3, 3, -0.5, -0.5, 3, -0.5, -0.5, 3][i],
          rewards__format_reward_soft__mean=lambda i: 0.2 if i < 5 else 0.9), set()),
    # completions shrank to bare answers
    (_run(10, completions__mean_length=lambda i: 90.0 if i < 5 else 12.0), {"length_collapse"}),
    # completions grew without bound
    (_run(10, completions__mean_length=lambda i: 40.0 if i < 5 else 200.0), {"length_explode"}),
    # too few rows to compare windows: no length verdict yet
    (_run(6, completions__mean_length=lambda i: 90.0 if i < 3 else 5.0), set()),
]


@pytest.mark.parametrize("rows, codes", CASES)
def test_diagnose(rows, codes):
    assert {d.code for d in diagnose(rows)} == codes


def test_every_diagnostic_says_how_to_fix_it():
    rows = _run(10, loss=lambda i: None, frac_reward_zero_std=lambda i: 1.0, completions__clipped_ratio=lambda i: 1.0,
                completions__mean_length=lambda i: 90.0 if i < 5 else 10.0)
    found = diagnose(rows)
    assert len(found) == 4 and all("train." in d.message or "rewards." in d.message for d in found)
    assert diagnose([]) == [] and diagnostics.WINDOW == 5


# --------------------------------------------------------------------------- live curves


def test_live_mode_rule(monkeypatch):
    for name in ("MATHRL_LIVE_PLOT", "JPY_SESSION_NAME", "KAGGLE_KERNEL_RUN_TYPE", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)
    assert live_mode("auto") == "off"  # pytest is not a notebook kernel
    assert live_mode("final") == "final"
    monkeypatch.setenv("MATHRL_LIVE_PLOT", "off")
    assert live_mode("live") == "off"  # the environment wins, so CI can silence any notebook


def test_live_mode_in_a_kernel(monkeypatch):
    import IPython

    for name in ("MATHRL_LIVE_PLOT", "JPY_SESSION_NAME", "KAGGLE_KERNEL_RUN_TYPE", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    assert live_mode("auto") == "final"  # papermill / nbclient: a kernel with no human frontend
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/03_train.ipynb")  # set by jupyter_server for an open notebook
    assert live_mode("auto") == "live"
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")  # Kaggle "Save & Run All"
    assert live_mode("auto") == "final"


def test_live_curves_show_held_out_accuracy_beside_the_reward():
    import matplotlib

    matplotlib.use("Agg")
    rows = _run(2, reward=lambda i: 0.1 * i, completions__mean_length=lambda i: 30.0)
    rows[1].update({"heldout/accuracy": 0.5, "heldout/accuracy_low": 0.2, "heldout/accuracy_high": 0.8,
                    "heldout/n": 4})
    fig = plot_curves([{"step": 0, "heldout/accuracy": 0.25, "heldout/accuracy_low": 0.05,
                        "heldout/accuracy_high": 0.7, "heldout/n": 4}, *rows])
    left, middle, right = fig.axes
    assert [line.get_label() for line in left.get_lines()] == ["reward"]
    (line,) = [ln for ln in middle.get_lines() if ln.get_label() == "greedy accuracy"]
    assert list(line.get_ydata()) == [25.0, 50.0] and list(line.get_xdata()) == [0, rows[1]["step"]]
    assert len(plot_curves(rows[:1]).axes) == 2  # no held-out panel before anything is scored


def test_live_curves_mark_the_model_before_the_format_warm_up():
    import matplotlib

    from test_plots import before_warmup_marker

    matplotlib.use("Agg")
    start = {"step": 0, "heldout/accuracy": 0.5, "heldout/accuracy_low": 0.2, "heldout/accuracy_high": 0.8,
             "heldout/n": 4, "heldout/before_warmup_accuracy": 0.25, "heldout/before_warmup_accuracy_low": 0.05,
             "heldout/before_warmup_accuracy_high": 0.7}
    middle = plot_curves([start, *_run(2, reward=lambda i: 0.1 * i)]).axes[1]
    assert before_warmup_marker(middle) == ((0, pytest.approx(25)), (pytest.approx(5), pytest.approx(70)))


def test_curves_draw_every_reward_component():
    import matplotlib

    matplotlib.use("Agg")
    rows = _run(3, reward=lambda i: 0.1 * i, rewards__correctness_reward__mean=lambda i: 0.1,
                completions__mean_length=lambda i: 30.0, kl=lambda i: 0.01)
    fig = plot_curves(rows)
    labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert labels == {"reward", "correctness_reward"}
