"""Is the GRPO model better than its warm-up when both are sampled, on held-out problems the learning run never scored?

    nice python bench/sampled_rescore.py --trained runs/learning_signal/train/final
        # ~30 min on 2 idle CPU cores; writes bench/results/sampled_rescore.json

A confirmation of `learning_signal.py --sampled K` on fresh problems: the warm-up model is rebuilt from the profile at
its seed (the warm-up is deterministic there; its greedy accuracy on the learning run's problems is printed to check),
then both models are scored greedily and on K samples at the training temperature on the next `--problems` held-out
problems after the first eval.limit, and compared problem by problem.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path

from learning_signal import judged_config, scored, summary, warmup_against_grpo

from mathrl.config import load_config
from mathrl.eval.evaluate import eval_rows
from mathrl.train.grpo import build_trainer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sampled_rescore.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trained", type=Path, required=True, help="the GRPO model folder (a run's train/final)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="the overrides the learning run used, so the warm-up is rebuilt the same")
    parser.add_argument("--problems", type=int, default=500, help="fresh held-out problems to score")
    parser.add_argument("--samples", type=int, default=4, help="samples per problem at the training temperature")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "sampled_rescore")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not (args.trained / "config.json").is_file():
        parser.error(f"--trained {args.trained}: no config.json there; give the final model folder of a learning run")
    if args.samples < 2 or args.problems < 1:
        parser.error("--samples needs at least 2 and --problems at least 1")
    started = time.time()
    shutil.rmtree(args.out, ignore_errors=True)
    cfg = load_config("cpu-learn", overrides=[f"train.output_dir={args.out / 'warmup_run'}", *args.overrides])
    seen = cfg.eval.limit
    if seen is None:
        parser.error("eval.limit is None: the learning run scored the whole split, so no problem is left unseen")
    widened = copy.deepcopy(cfg)
    widened.eval.limit = seen + args.problems
    all_rows = eval_rows(widened)
    learning_rows, rows = all_rows[:seen], all_rows[seen:]
    if len(rows) < args.problems:
        parser.error(f"--problems {args.problems}: the held-out split has only {len(rows)} beyond the first {seen}")

    warmup = args.out / "warmup"
    build_trainer(cfg).save_model(str(warmup))
    check = summary(scored(cfg, str(warmup), args.out / "check_warmup", learning_rows), "strict")
    print(f"rebuilt warm-up, greedy on the learning run's {seen} problems: {check['accuracy']:.3f} "
          f"({time.time() - started:.0f}s)", flush=True)

    judged = judged_config(cfg, args.samples)
    before = scored(judged, str(warmup), args.out / "eval_warmup", rows)
    print(f"warm-up scored ({time.time() - started:.0f}s)", flush=True)
    after = scored(judged, str(args.trained), args.out / "eval_trained", rows)
    result = {
        "trained": str(args.trained), "overrides": args.overrides, "problems": len(rows), "skipped": seen,
        "warmup_check_on_learning_problems": check["accuracy"],
        **warmup_against_grpo(before, after, judged),
        "seconds": round(time.time() - started),
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2))
    greedy, sampled = result["greedy"], result["sampled"]
    print(f"greedy strict: warm-up {greedy['after_warmup']['accuracy']:.3f}, after GRPO "
          f"{greedy['after_grpo']['accuracy']:.3f}, McNemar {greedy['mcnemar']}")
    print(f"sampled pass@1 ({args.samples} per problem): warm-up {sampled['after_warmup']:.3f}, after GRPO "
          f"{sampled['after_grpo']:.3f}, paired {sampled['paired']}  ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
