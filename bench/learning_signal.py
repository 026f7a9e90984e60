"""Does the GRPO stage itself raise held-out accuracy over its starting point (the format warm-up)?

    nice python bench/learning_signal.py --name reference [--set key=value ...]
        # cpu-learn trained by mathrl.train.grpo.train, the function `mathrl train` runs; writes
        # bench/results/learning_<name>.json; about 25 min of training and 30 of scoring on 2 idle cores

The run is `mathrl train --profile cpu-learn` with the given --set overrides. The model GRPO starts from (right after
the format warm-up) is saved when training begins; it and the final model are then scored with `mathrl eval`'s own
evaluate() on the declared fresh problems (docs/learning.md): greedy, compared problem by problem with McNemar, and
on --samples samples per problem at the training temperature (pass@1, paired). The starting point's scores are kept
under runs/learning_start/<hash of its weights>, so runs that share a warm-up score it once.

    nice python bench/learning_signal.py --name reference --resume [--set ...]
        # the same run scored again after training finished (e.g. when scoring stopped): training is skipped, and
        # the starting point and training time come from the run's run.json
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

from transformers import TrainerCallback

from mathrl import stats
from mathrl.arithmetic import equations
from mathrl.config import load_config
from mathrl.eval.evaluate import eval_rows, evaluate, read_records
from mathrl.generation import stop_strings, transformers_generate
from mathrl.train.grpo import train
from mathrl.train.heldout import read_selection
from mathrl.train.metrics import read_metrics

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
START_CACHE = ROOT / "runs" / "learning_start"
# The declared problems: the cpu-learn test split's problems 700 to 1199, which no earlier run scored (the learning
# runs scored the first 200, the fresh-problem rescoring the next 500).
FIRST, COUNT = 700, 500


class SaveStartingPoint(TrainerCallback):
    """Save the model as GRPO receives it (after the format warm-up), before the first optimizer step."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        model.save_pretrained(self.folder)
        processing_class.save_pretrained(self.folder)


def summary(records: list[dict], rule: str) -> dict:
    flags = [r[rule]["correct"] for r in records]
    low, high = stats.wilson_interval(sum(flags), len(flags))
    return {"rule": rule, "accuracy": sum(flags) / len(flags), "ci95": [low, high], "correct": sum(flags), "n": len(flags),
            "format_rate": sum(r["rewards"].get("format_reward_soft") or 0 for r in records) / len(records),
            "mean_tokens": sum(r["tokens"] for r in records) / len(records),
            # answers that work the sum in two or more `a op b = c` steps, against one-line answers
            "worked_rate": sum(len(equations(r["completion"])) >= 2 for r in records) / len(records)}


def paired(before: list[dict], before_rule: str, after: list[dict], after_rule: str) -> dict:
    """McNemar on the same problems: was right before and wrong after (b) versus the other way (c)."""
    pairs = list(zip((r[before_rule]["correct"] for r in before), (r[after_rule]["correct"] for r in after)))
    return stats.mcnemar(sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs))


def judged_config(cfg, samples: int):
    """The config the warm-up and the trained model are scored with: greedy, plus `samples` per problem (when 2 or
    more) at the training temperature, the decoding GRPO optimizes."""
    judged = copy.deepcopy(cfg)
    judged.eval.num_samples, judged.eval.temperature = max(1, samples), cfg.train.temperature
    return judged


def sampled_comparison(before: list[dict], after: list[dict], judged) -> dict:
    """pass@1 before and after from each problem's share of correct samples, and the paired change."""
    shares = [[sum(s["correct"] for s in r["samples"]) / len(r["samples"]) for r in records]
              for records in (before, after)]
    return {"samples": judged.eval.num_samples, "temperature": judged.eval.temperature,
            "after_warmup": sum(shares[0]) / len(before), "after_grpo": sum(shares[1]) / len(after),
            "paired": stats.paired_mean_difference(*shares)}


def warmup_against_grpo(before: list[dict], after: list[dict], judged) -> dict:
    """Greedy strict accuracy of both on the same problems with McNemar, and pass@1 when `judged` samples."""
    greedy = {"after_warmup": summary(before, "strict"), "after_grpo": summary(after, "strict"),
              "mcnemar": paired(before, "strict", after, "strict")}
    sampled = {"sampled": sampled_comparison(before, after, judged)} if judged.eval.num_samples > 1 else {}
    return {"greedy": greedy, **sampled}


def scored_in_memory(trainer, cfg, name, out, rows):
    """`scored` for the trainer's model as it is now, in eval mode, without saving it first."""
    trainer.model.eval()
    generate = transformers_generate(trainer.model, trainer.processing_class, cfg.eval.max_new_tokens,
                                     stop_strings(cfg.format))
    return scored(cfg, name, out, rows, (generate, trainer.processing_class))


def scored(cfg, name, out, rows, generator=None):
    evaluate(cfg, name, out, rows, generator=generator, progress=False)
    records = read_records(out / "records.jsonl")
    return [records[r["id"]] for r in rows]


def declared_problems(cfg, first: int, count: int) -> list[dict]:
    widened = copy.deepcopy(cfg)
    widened.eval.limit = first + count
    rows = eval_rows(widened)[first:]
    if len(rows) < count:
        raise SystemExit(f"the held-out split has only {len(rows)} problems after the first {first}, not {count}")
    return rows


def cached_start(folder: Path) -> Path:
    """The starting point moved to START_CACHE/<hash of its weights>, where its scores from earlier runs are kept."""
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()[:16]
    home = START_CACHE / digest
    if not (home / "model" / "model.safetensors").is_file():
        home.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(home / "model", ignore_errors=True)
        shutil.move(str(folder), str(home / "model"))
    shutil.rmtree(folder, ignore_errors=True)  # already cached by an earlier run with the same warm-up
    return home


def run_figures(rows: list[dict]) -> dict:
    """What the run's metrics.jsonl says about each step: reward, zero-spread share, dynamic sampling's cost."""
    steps = [r for r in rows if "reward" in r]
    mean = lambda key: sum(r[key] for r in steps if r.get(key) is not None) / max(1, len(steps))  # noqa: E731
    out = {"steps": len(steps), "mean_step_time_s": mean("step_time"), "mean_reward": mean("reward"),
           "frac_reward_zero_std": mean("frac_reward_zero_std")}
    if any("dynamic_sampling/extra_completions" in r for r in steps):
        out.update({key.split("/")[1]: mean(key) for key in (
            "dynamic_sampling/zero_spread_share", "dynamic_sampling/extra_completions",
            "dynamic_sampling/extra_share", "dynamic_sampling/unfilled_share")})
    curve = [{k: v for k, v in r.items() if k == "step" or "accuracy" in k} for r in rows]
    out["held_out_during_training"] = [point for point in curve if len(point) > 1]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="names the run folder and bench/results/learning_<name>.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--samples", type=int, default=2, help="samples per problem at the training temperature")
    parser.add_argument("--first", type=int, default=FIRST, help="the declared problems start here in the split")
    parser.add_argument("--problems", type=int, default=COUNT, help="how many declared problems")
    parser.add_argument("--resume", action="store_true", help="score the run named --name again, once it has finished training")
    args = parser.parse_args()
    if args.samples < 2:
        parser.error(f"--samples {args.samples}: give at least 2 samples per problem")
    started = time.time()
    out = ROOT / "runs" / f"learning_{args.name}"
    if not args.resume:
        shutil.rmtree(out, ignore_errors=True)  # a fresh run: this measures learning, not resuming
    cfg = load_config("cpu-learn", overrides=[f"train.output_dir={out / 'train'}", *args.overrides])
    judged = judged_config(cfg, args.samples)
    rows = declared_problems(cfg, args.first, args.problems)

    record = out / "run.json"  # where the starting point went and how long training took, for --resume
    if args.resume and not record.is_file():
        # a run stopped during training: resuming would save the resumed model, not GRPO's starting point
        raise SystemExit(f"{out} has no {record.name}, so its starting point is unknown: run it again without --resume")
    trained = train(cfg, callbacks=() if args.resume else (SaveStartingPoint(out / "start"),))
    if not args.resume:
        start = cached_start(out / "start")
        record.write_text(json.dumps({"start": str(start), "training_seconds": round(time.time() - started)}))
    run = json.loads(record.read_text())
    start, training_s = Path(run["start"]), run["training_seconds"]
    print(f"trained in {training_s:.0f} s", flush=True)
    # the starting point's scores are kept per decoding: runs at another temperature score it again
    folder = f"eval_{args.first}_{args.problems}_{args.samples}_t{judged.eval.temperature:g}"
    before = scored(judged, str(start / "model"), start / folder, rows)
    print(f"starting point scored ({time.time() - started:.0f} s)", flush=True)
    after = scored(judged, str(trained.final_dir), out / "eval_trained", rows)

    comparison = warmup_against_grpo(before, after, judged)
    greedy, sampled = comparison["greedy"], comparison["sampled"]
    # The checkpoint chosen on the validation problems (none of them declared), scored like the last one: selection
    # never saw these problems, so its score on them is not biased by the choice.
    chosen = read_selection(trained.output_dir) or {}
    if chosen.get("best") and chosen["best"]["step"] != chosen["last_step"]:
        best_dir = trained.output_dir / Path(chosen["best"]["checkpoint"]).name
        best = scored(judged, str(best_dir), out / "eval_best", rows)
        comparison["best_checkpoint"] = {"step": chosen["best"]["step"], "why": chosen["why"],
                                         **warmup_against_grpo(before, best, judged)}
    result = {
        "name": args.name, "profile": cfg.profile, "overrides": args.overrides, "settings": cfg.to_dict()["train"],
        "problems": {"split": cfg.data.eval_split, "first": args.first, "n": len(rows), "ids": [r["id"] for r in rows]},
        "starting_point": str(start.relative_to(ROOT)),
        **comparison,
        "training": run_figures(read_metrics(trained.output_dir)),
        "training_seconds": round(training_s), "seconds": round(time.time() - started),
        "target_met": bool(greedy["after_grpo"]["accuracy"] > greedy["after_warmup"]["accuracy"]
                           and greedy["mcnemar"]["p_value"] < 0.05
                           and sampled["after_grpo"] - sampled["after_warmup"] >= 0.05
                           and sampled["paired"]["p_value"] < 0.05 and training_s <= 30 * 60),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"learning_{args.name}.json").write_text(json.dumps(result, indent=2))
    print(f"greedy strict: warm-up {greedy['after_warmup']['accuracy']:.3f}, after GRPO "
          f"{greedy['after_grpo']['accuracy']:.3f}, McNemar {greedy['mcnemar']}")
    print(f"sampled pass@1 ({args.samples} per problem): warm-up {sampled['after_warmup']:.3f}, after GRPO "
          f"{sampled['after_grpo']:.3f}, paired {sampled['paired']}")
    if "best_checkpoint" in comparison:
        best = comparison["best_checkpoint"]
        print(f"best on validation, step {best['step']}: greedy {best['greedy']['after_grpo']['accuracy']:.3f}, "
              f"McNemar {best['greedy']['mcnemar']}; sampled {best.get('sampled', {}).get('after_grpo')}")
    print(f"training: {result['training']}")
    print(f"target met: {result['target_met']}  (training {result['training_seconds']} s, all {result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
