"""Plots: each writes a PNG and carries a title and axis labels with units."""

import json

import pytest

from mathrl.config import MathrlError
from mathrl.report import plots
from mathrl.train.live import BEFORE_WARMUP_LABEL


@pytest.fixture
def metrics_log(tmp_path):
    """A five-step metrics.jsonl with TRL's logged keys, and a torn last line as a live run leaves it."""
    lines = []
    for step in range(1, 6):
        lines.append(json.dumps({
            "step": step, "reward": 0.5 + 0.1 * step, "reward_std": 0.2, "frac_reward_zero_std": 0.5 - 0.05 * step,
            "rewards/correctness_reward/mean": 0.1 * step, "rewards/correctness_reward/std": 0.3,
            "rewards/format_reward_soft/mean": 0.2, "rewards/format_reward_soft/std": 0.1,
            "kl": 0.0, "entropy": 1.0, "loss": 0.01, "completions/mean_length": 30 + step,
            "completions/clipped_ratio": 0.25, "step_time": 2.0, "tokens_per_second": 50.0,
        }))
    path = tmp_path / "run" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + '\n{"step": 6, "rew')
    return path.parent


def texts(fig):
    ax = fig.axes[0]
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_reward_curves_one_line_pair_per_component(metrics_log, tmp_path):
    fig = plots.reward_curves(metrics_log, tmp_path / "fig", window=2)
    assert (tmp_path / "fig" / "reward_curves.png").stat().st_size > 1000
    top, bottom = fig.axes
    assert "Reward per component" in top.get_title() and "(points)" in top.get_ylabel()
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == ["total (weighted)", "correctness_reward", "format_reward_soft"]
    assert len(top.get_lines()) == 6  # raw and smoothed for each
    assert bottom.get_xlabel() == "training step" and "zero reward spread" in bottom.get_title()


def test_reward_curves_show_held_out_accuracy_with_its_interval(metrics_log, tmp_path):
    from mathrl.train.metrics import read_metrics

    rows = read_metrics(metrics_log)
    for row in rows[1::2]:  # scored at steps 2 and 4, and at the start
        row.update({"heldout/accuracy": row["step"] / 10, "heldout/accuracy_low": 0.0, "heldout/accuracy_high": 0.5,
                    "heldout/correct": row["step"], "heldout/n": 10})
    start = {"step": 0, "heldout/accuracy": 0.1, "heldout/accuracy_low": 0.02, "heldout/accuracy_high": 0.4,
             "heldout/correct": 1, "heldout/n": 10}
    fig = plots.reward_curves([start, *rows], tmp_path, window=2)
    top, middle, bottom = fig.axes
    assert "10 validation problems" in middle.get_title() and middle.get_ylabel() == "accuracy (%)"
    (line,) = [ln for ln in middle.get_lines() if ln.get_label() == "greedy accuracy"]
    assert list(line.get_xdata()) == [0, 2, 4] and list(line.get_ydata()) == pytest.approx([10, 20, 40])
    assert len(top.get_lines()) == 6  # the start, with no reward, adds no reward line or gap
    assert list(top.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]


def before_warmup_marker(ax):
    """The step-0 marker of the model before the format warm-up: ((x, y), (interval low, high)), or None."""
    from matplotlib.container import ErrorbarContainer

    for container in ax.containers:
        if isinstance(container, ErrorbarContainer) and container.get_label() == BEFORE_WARMUP_LABEL:
            data, _, (bars,) = container.lines
            (segment,) = bars.get_segments()
            return (data.get_xdata()[0], data.get_ydata()[0]), (segment[0][1], segment[1][1])
    return None


def test_reward_curves_mark_the_model_before_the_format_warm_up_with_its_interval(metrics_log, tmp_path):
    from mathrl.train.metrics import read_metrics

    start = {"step": 0, "heldout/accuracy": 0.5, "heldout/accuracy_low": 0.2, "heldout/accuracy_high": 0.8,
             "heldout/correct": 5, "heldout/n": 10, "heldout/before_warmup_accuracy": 0.1,
             "heldout/before_warmup_accuracy_low": 0.02, "heldout/before_warmup_accuracy_high": 0.4}
    rows = read_metrics(metrics_log)
    middle = plots.reward_curves([start, *rows], tmp_path).axes[1]
    (x, y), (low, high) = before_warmup_marker(middle)
    assert (x, y) == (0, pytest.approx(10)) and (low, high) == (pytest.approx(2), pytest.approx(40))
    assert BEFORE_WARMUP_LABEL in [t.get_text() for t in middle.get_legend().get_texts()]
    (line,) = [ln for ln in middle.get_lines() if ln.get_label() == "greedy accuracy"]
    assert list(line.get_ydata()) == [50]  # the warmed model's step-0 score stays on the curve
    del start["heldout/before_warmup_accuracy"]  # a run without a warm-up: no marker
    assert before_warmup_marker(plots.reward_curves([start, *rows], tmp_path).axes[1]) is None


def test_length_curve_has_tokens_and_truncation_axes(metrics_log, tmp_path):
    fig = plots.length_curve(metrics_log, tmp_path)
    title, xlabel, ylabel = texts(fig)
    assert title == "Completion length over training" and xlabel == "training step" and "(tokens)" in ylabel
    assert fig.axes[1].get_ylabel() == "truncated completions (%)"
    assert (tmp_path / "length_curve.png").is_file()


def summary(correct, n):
    from mathrl.eval.evaluate import accuracy

    return {"n": n, "headline_rule": "strict",
            "accuracy": {"strict": accuracy([True] * correct + [False] * (n - correct)),
                         "flexible": accuracy([True] * (correct + 1) + [False] * (n - correct - 1))}}


def test_accuracy_bars_show_intervals_for_base_and_trained(tmp_path):
    fig = plots.accuracy_bars({"base": summary(2, 10), "trained": summary(5, 10)}, tmp_path)
    title, xlabel, ylabel = texts(fig)
    assert "95% Wilson" in title and ylabel == "accuracy (%)" and xlabel == "model"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["base\nn=10", "trained\nn=10"]
    assert [round(p.get_height()) for p in fig.axes[0].patches] == [20, 50, 30, 60]
    assert (tmp_path / "accuracy.png").is_file()


def test_error_taxonomy_and_length_histogram(tmp_path):
    table = {"truncated": {"count": 3, "examples": ["q1"]}, "wrong_format": {"count": 1, "examples": ["q2"]}}
    fig = plots.error_taxonomy(table, tmp_path)  # a summary's "errors" table
    title, xlabel, ylabel = texts(fig)
    assert title == "Error taxonomy (4 wrong answers)" and xlabel == "wrong answers (count)"
    assert fig.axes[0].get_yticklabels()[-1].get_text() == "truncated"  # the largest on top
    records = [{"tokens": t, "truncated": t == 32} for t in (5, 12, 32, 32)]
    fig = plots.length_histogram(records, tmp_path, max_new_tokens=32)
    title, xlabel, ylabel = texts(fig)
    assert title == "Completion lengths (4 completions, 2 truncated)" and xlabel == "completion length (tokens)"
    assert {p.name for p in tmp_path.iterdir()} == {"error_taxonomy.png", "length_histogram.png"}


def test_missing_metrics_log_is_a_clear_error(tmp_path):
    with pytest.raises(MathrlError, match="no training metrics log"):
        plots.reward_curves(tmp_path)
