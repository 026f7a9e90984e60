"""Reading a finished training run back for notebook 03: its checkpoints, its metrics, what notebook 04 needs.

The headline figures go into the notebook's JSON record; the text is what the notebook prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mathrl.config import Config, MathrlError

CORRECTNESS = "rewards/correctness_reward/mean"


def checkpoints(cfg: Config) -> str:
    """The checkpoints in the run's output dir and the one a re-run would resume from."""
    from mathrl.train import find_checkpoint, is_complete

    out = Path(cfg.train.output_dir)
    found = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.rpartition("-")[2] or 0))
    if not found:
        return f"no checkpoints in {out}: a re-run starts from step 0"
    listed = ", ".join(f"{p.name} ({'complete' if is_complete(p) else 'incomplete'})" for p in found)
    newest = find_checkpoint(out)
    return f"{listed}\na re-run resumes from {newest.name if newest else 'step 0'}"


@dataclass
class TrainingSummary:
    text: str
    final_dir: Path
    headline: dict
    outputs: dict


def training_summary(cfg: Config) -> TrainingSummary:
    """The run's metrics read back from metrics.jsonl: first vs last reward, the diagnostics that fired, and the
    paths notebook 04 needs."""
    from mathrl.diagnostics import diagnose
    from mathrl.metrics import read_metrics

    out = Path(cfg.train.output_dir)
    rows = read_metrics(out)
    if not rows:
        raise MathrlError(f"{out} has no metrics.jsonl rows: run the training cell first")
    first, last = rows[0], rows[-1]
    lines = [f"{len(rows)} logged steps, last step {last.get('step')}",
             f"mean reward {first.get('reward', float('nan')):.3f} -> {last.get('reward', float('nan')):.3f}"]
    if CORRECTNESS in last:
        lines.append(f"correctness {first[CORRECTNESS]:.3f} -> {last[CORRECTNESS]:.3f}")
    lines += [f"warning: {d.code}: {d.message}" for d in diagnose(rows)] or ["no warnings"]
    headline = {"steps": last.get("step"), "final_mean_reward": last.get("reward"),
                "first_mean_reward": first.get("reward"), "final_correctness": last.get(CORRECTNESS)}
    return TrainingSummary("\n".join(lines), out / "final", headline,
                           {"trained_model": out / "final", "metrics_dir": out})


# --------------------------------------------------------------------------- evaluation (notebook 04)


def trained_model(path: str | Path | None, out: str | Path) -> str:
    """The trained model folder: `path`, else out/train/final as notebook 03 leaves it."""
    folder = Path(path) if path else Path(out) / "train" / "final"
    if not (folder / "config.json").is_file():
        raise MathrlError(f"no trained model in {folder}: run notebook 03 with the same out_dir first, "
                          "or set trained_model to a model folder")
    return str(folder)


def comparison_text(result: dict) -> str:
    """Base and trained accuracy with 95% Wilson intervals, the paired difference and McNemar's test."""
    lines = []
    for name in ("base", "trained"):
        acc = result[name]
        low, high = acc["ci95"]
        lines.append(f"{name:<8} {acc['accuracy']:6.1%}  (95% CI {low:.1%} to {high:.1%}, {acc['correct']}/{acc['n']})")
    test = result["mcnemar"]
    lines.append(f"difference {result['difference']:+.1%} (95% CI {result['ci95'][0]:+.1%} to {result['ci95'][1]:+.1%})")
    lines.append(f"fixed {result['fixed_count']}, broken {result['broken_count']}: McNemar ({test['method']}) "
                 f"p = {test['p_value']:.3g}")
    return "\n".join(lines)


def flips_text(result: dict, n: int = 2) -> str:
    """Questions the training fixed and broke, with both answers and the trained model's completion."""
    blocks = []
    for kind in ("fixed", "broken"):
        for flip in result[kind][:n]:
            blocks.append(f"[{kind}] {flip['question']}\n  gold {flip['gold']}, base {flip['base_answer']}, trained "
                          f"{flip['trained_answer']}\n  trained model wrote: {flip['trained_completion'][:300]}")
    return "\n\n".join(blocks) or "no flips: the two models are right and wrong on the same questions"
