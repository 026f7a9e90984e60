"""Reading a finished training run back for notebook 03: its checkpoints, its metrics, what notebook 04 needs.

The headline figures go into the notebook's JSON record; the text is what the notebook prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mathrl.config import Config
from mathrl.errors import MathrlError
from mathrl.eval.evaluate import comparison_text, flips_text  # noqa: F401  notebook 04 calls them from here

CORRECTNESS = "rewards/correctness_reward/mean"


def checkpoints(cfg: Config) -> str:
    """The checkpoints in the run's output dir and the one a re-run would resume from."""
    from mathrl.train.grpo import find_checkpoint, foreign_folders, is_complete

    out = Path(cfg.train.output_dir)
    foreign = foreign_folders(out)
    found = sorted((p for p in out.glob("checkpoint-*") if p.is_dir() and p not in foreign),
                   key=lambda p: int(p.name.rpartition("-")[2]))  # mathrl marks only the checkpoint-N it wrote
    newest = find_checkpoint(out)
    listed = (", ".join(f"{p.name} ({'complete' if is_complete(p) else 'incomplete'})" for p in found)
              or f"no checkpoints in {out}")
    left = f"\nleft alone, not written by mathrl: {', '.join(p.name for p in foreign)}" if foreign else ""
    return f"{listed}{left}\na re-run resumes from {newest.name if newest else 'step 0'}"


@dataclass
class TrainingSummary:
    text: str
    final_dir: Path
    headline: dict
    outputs: dict


def training_summary(cfg: Config) -> TrainingSummary:
    """The run's metrics read back from metrics.jsonl: first vs last reward, the diagnostics that fired, and the
    paths notebook 04 needs."""
    from mathrl.train.diagnostics import diagnose
    from mathrl.train.heldout import curve, read_selection
    from mathrl.train.metrics import read_metrics

    out = Path(cfg.train.output_dir)
    rows = [r for r in read_metrics(out) if "reward" in r]  # the held-out row of step 0 is not a training step
    if not rows:
        raise MathrlError(f"{out} has no metrics.jsonl rows: run the training cell first")
    first, last = rows[0], rows[-1]
    lines = [f"{len(rows)} logged steps, last step {last.get('step')}",
             f"mean reward {first.get('reward', float('nan')):.3f} -> {last.get('reward', float('nan')):.3f}"]
    if CORRECTNESS in last:
        lines.append(f"correctness {first[CORRECTNESS]:.3f} -> {last[CORRECTNESS]:.3f}")
    points = curve(out)
    if points:
        lines.append("held-out accuracy by step: " + ", ".join(
            f"{p['step']}: {p['accuracy']:.1%} [{p['ci95'][0]:.0%}-{p['ci95'][1]:.0%}]" for p in points))
    chosen = read_selection(out)
    if chosen:
        lines.append(chosen["why"])
    lines += [f"warning: {d.code}: {d.message}" for d in diagnose(rows)] or ["no warnings"]
    headline = {"steps": last.get("step"), "final_mean_reward": last.get("reward"),
                "first_mean_reward": first.get("reward"), "final_correctness": last.get(CORRECTNESS),
                "heldout_accuracy": [p["accuracy"] for p in points],
                "best_step": chosen["best"]["step"] if chosen and chosen["best"] else None}
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


# --------------------------------------------------------------------------- best checkpoint vs last (notebook 04)

FOLDERS = {"base": "base", "best": "best", "last": "trained"}  # "trained" is compare()'s folder: its records are reused


def best_and_last(cfg: Config, base: str, run_dir: str | Path, progress: bool = False) -> dict:
    """Base, the checkpoint chosen on validation and the last step, scored on the test problems, with McNemar for
    each pair. Test problems that took part in choosing the checkpoint are refused: its score on them is biased.

    The last step reuses compare()'s records (folder "trained"). A run that scored no validation problems chose
    nothing: the result then holds only `skipped`, the line saying why, and an empty headline.
    """
    from mathrl.eval.evaluate import RECORDS, compare_records, eval_rows, evaluate, read_records
    from mathrl.train.heldout import read_selection, read_validation_ids

    run = Path(run_dir)
    chosen = read_selection(run)
    if chosen is None or not chosen.get("evaluations"):
        why = (chosen["why"] if chosen else f"no {run / 'final' / 'selection.json'}: the run predates held-out "
               "evaluation or was not trained by mathrl")
        return {"skipped": f"no checkpoint was chosen on validation problems, so there is no best to report: {why}",
                "headline": {"best_step": None, "accuracy_best": None}}
    rows = eval_rows(cfg)
    shared = read_validation_ids(run) & {r["id"] for r in rows}
    if shared:
        raise MathrlError(f"{len(shared)} of the {len(rows)} test problems chose the best checkpoint, so its score on "
                          "them is biased: lower eval_limit (eval.limit) to the problems training left unseen")
    models = {"base": base, "last": str(run / "final")}
    best = chosen["best"]
    if best and best["step"] != chosen["last_step"]:
        models["best"] = str(run / Path(best["checkpoint"]).name)
        if not Path(models["best"]).is_dir():
            raise MathrlError(f"the best checkpoint {models['best']} is gone; it was kept by training, so it was "
                              "deleted by hand: evaluate final/ alone with compare()")
    out = Path(cfg.eval.out)
    summaries = {name: evaluate(cfg, model, out / FOLDERS[name], rows, progress=progress)
                 for name, model in models.items()}
    records = {name: [read_records(out / FOLDERS[name] / RECORDS)[r["id"]] for r in rows] for name in models}
    if best and "best" not in models:  # the best step is the last one: one model, scored once
        summaries["best"], records["best"], models["best"] = summaries["last"], records["last"], models["last"]
    pairs = {f"{a} vs {b}": compare_records(records[b], records[a])
             for a, b in (("best", "base"), ("last", "base"), ("best", "last")) if a in records and b in records}
    accuracy = {name: s["headline"] for name, s in summaries.items()}
    headline = {"best_step": best["step"] if best else None,
                "accuracy_best": accuracy["best"]["accuracy"] if best else None,
                "accuracy_last": accuracy["last"]["accuracy"],
                "mcnemar_p_best_vs_base": pairs["best vs base"]["mcnemar"]["p_value"] if best else None}
    return {"n": len(rows), "models": models, "selection": chosen, "summaries": summaries, "accuracy": accuracy,
            "pairs": pairs, "headline": headline}


def best_and_last_text(result: dict) -> str:
    """The three models' test accuracy with 95% Wilson intervals, and each paired difference with McNemar's p."""
    if "skipped" in result:
        return result["skipped"]
    chosen = result["selection"]
    best = chosen["best"]
    names = {"base": "base", "last": f"last (step {chosen['last_step']})"}
    if best:
        names["best"] = f"best (step {best['step']}, {best['accuracy']:.1%} on {best['n']} validation problems)"
    lines = [f"{result['n']} test problems, none of them used to choose the checkpoint"]
    for name, label in names.items():
        acc = result["accuracy"][name]
        low, high = acc["ci95"]
        lines.append(f"  {label:<48} {acc['accuracy']:6.1%}  (95% CI {low:.1%} to {high:.1%}, {acc['correct']}/{acc['n']})")
    for pair, compared in result["pairs"].items():
        test = compared["mcnemar"]
        lines.append(f"  {pair:<13} {compared['difference']:+.1%}  (fixed {compared['fixed_count']}, broken "
                     f"{compared['broken_count']}: McNemar {test['method']} p = {test['p_value']:.3g})")
    if not best:
        lines.append(f"  no best checkpoint: {chosen['why']}")
    return "\n".join(lines)
