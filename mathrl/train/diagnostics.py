"""Why a GRPO run is not learning, read from its metrics rows: pure functions, no I/O.

`diagnose(rows)` looks at the newest row against the run so far and returns the known failure modes it sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mathrl.stats import standard_error_of_mean

WINDOW = 5  # rows averaged on each side of a comparison; one noisy step should not raise a warning
DRIFT_WINDOW = 10  # rows at the opening and at the end compared for a slow drift
ZERO_SPREAD_FRACTION = 0.8
CLIPPED_FRACTION = 0.5
LENGTH_COLLAPSE_RATIO = 0.35
LENGTH_EXPLODE_RATIO = 2.5
FORMAT_RISE = 0.1
CORRECTNESS_FALL = 0.05
CORRECTNESS_KEY = "rewards/correctness_reward/mean"
FORMAT_KEYS = ("rewards/format_reward_soft/mean", "rewards/format_reward_strict/mean", "rewards/xml_count_reward/mean")


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str


def _value(row: dict, key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _values(rows: list[dict], key: str) -> list[float]:
    return [v for v in (_value(r, key) for r in rows) if v is not None]


def _mean(rows: list[dict], key: str) -> float | None:
    values = _values(rows, key)
    return sum(values) / len(values) if values else None


def nan_loss(rows: list[dict]) -> Diagnostic | None:
    """The newest loss or gradient norm is NaN/inf (logged as None once written to JSON)."""
    row = rows[-1]
    bad = [k for k in ("loss", "grad_norm") if k in row and _value(row, k) is None]
    if not bad:
        return None
    return Diagnostic("nan_loss", f"{' and '.join(bad)} is NaN or infinite: lower train.learning_rate, keep "
                                  "train.max_grad_norm on, and use float32 on GPUs without bf16 (model.dtype=float32)")


def zero_spread(rows: list[dict]) -> Diagnostic | None:
    """Most prompt groups had identical rewards, so their advantages are zero and they teach nothing."""
    fraction = _mean(rows[-WINDOW:], "frac_reward_zero_std")
    if fraction is None or fraction < ZERO_SPREAD_FRACTION:
        return None
    return Diagnostic("zero_spread", f"{fraction:.0%} of prompt groups have zero reward spread (no learning signal): "
                                     "use easier or harder problems, more train.num_generations or a higher "
                                     "train.temperature")


def clipped(rows: list[dict]) -> Diagnostic | None:
    """Most completions ran into max_completion_length, so they never reach an answer."""
    fraction = _mean(rows[-WINDOW:], "completions/clipped_ratio")
    if fraction is None or fraction < CLIPPED_FRACTION:
        return None
    return Diagnostic("clipped", f"{fraction:.0%} of completions hit the length limit: raise "
                                 "train.max_completion_length or set train.mask_truncated_completions=true")


def _format_rose_as_correctness_fell(before: list[dict], after: list[dict]) -> Diagnostic | None:
    correct = (_mean(before, CORRECTNESS_KEY), _mean(after, CORRECTNESS_KEY))
    if None in correct:
        return None
    # Each step scores different prompts, so correctness swings from step to step: a fall counts once it is larger
    # than two standard errors of the difference between the windows' means.
    noise = 2 * math.hypot(*(standard_error_of_mean(_values(w, CORRECTNESS_KEY)) for w in (before, after)))
    if correct[0] - correct[1] < max(CORRECTNESS_FALL, noise):
        return None
    for key in FORMAT_KEYS:
        fmt = (_mean(before, key), _mean(after, key))
        if None not in fmt and fmt[1] - fmt[0] >= FORMAT_RISE:
            name = key.split("/")[1]
            return Diagnostic("format_over_correctness", f"{name} rose {fmt[0]:.2f}->{fmt[1]:.2f} while correctness "
                                                         f"fell {correct[0]:.2f}->{correct[1]:.2f}: weight correctness "
                                                         "higher (rewards.weights), stop dividing advantages by the "
                                                         "group's spread (train.scale_rewards=none) or lower "
                                                         "train.learning_rate")
    return None


def format_over_correctness(rows: list[dict]) -> Diagnostic | None:
    """Format reward rising while correctness falls, between the last two windows or since the run's opening steps:
    the model is learning the tags instead of the maths."""
    if not any(k in rows[-1] for k in FORMAT_KEYS):
        return None
    if len(rows) >= 2 * WINDOW:
        found = _format_rose_as_correctness_fell(rows[-2 * WINDOW : -WINDOW], rows[-WINDOW:])
        if found:
            return found
    if len(rows) >= 2 * DRIFT_WINDOW:
        return _format_rose_as_correctness_fell(rows[:DRIFT_WINDOW], rows[-DRIFT_WINDOW:])
    return None


def length_change(rows: list[dict]) -> Diagnostic | None:
    """Mean completion length collapsed below or exploded above the run's opening length."""
    if len(rows) < 2 * WINDOW:
        return None
    start, now = _mean(rows[:WINDOW], "completions/mean_length"), _mean(rows[-WINDOW:], "completions/mean_length")
    if not start or now is None:
        return None
    if now < LENGTH_COLLAPSE_RATIO * start:
        return Diagnostic("length_collapse", f"completion length collapsed {start:.0f}->{now:.0f} tokens (the model "
                                             "stopped reasoning): reward showing work, lower the format weights or "
                                             "train.learning_rate, or add a KL penalty (train.beta)")
    if now > LENGTH_EXPLODE_RATIO * start:
        return Diagnostic("length_explode", f"completion length grew {start:.0f}->{now:.0f} tokens: check for "
                                            "repetition in samples.jsonl; raise train.beta or use loss_type=dr_grpo")
    return None


CHECKS = (nan_loss, zero_spread, clipped, format_over_correctness, length_change)


def diagnose(rows: list[dict]) -> list[Diagnostic]:
    """Every known failure visible at the newest row of `rows` (metrics rows in step order)."""
    if not rows:
        return []
    return [found for check in CHECKS if (found := check(rows)) is not None]
