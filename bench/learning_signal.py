"""Does GRPO on the cpu-learn profile raise held-out accuracy? Greedy scoring before, after the format warm-up, and after.

    nice python bench/learning_signal.py [--set key=value ...]      # ~30 min on 2 CPU cores; writes bench/results/learning_signal.json
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformers import TrainerCallback  # noqa: E402

from mathrl import stats  # noqa: E402
from mathrl.config import load_config  # noqa: E402
from mathrl.evaluate import eval_rows, evaluate, read_records  # noqa: E402
from mathrl.generation import stop_strings, transformers_generate  # noqa: E402
from mathrl.train import build_trainer, save_final  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "learning_signal.json"
EDGE_STEPS = 10


class GroupRewards(TrainerCallback):
    """Per prompt group mean of each reward, per step, read from the trainer's buffer of the newest generation batch."""

    def __init__(self, group_size: int):
        self.group_size = group_size
        self.trainer = None
        self.steps: dict[int, dict[str, list[float]]] = {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.trainer is None or "train_runtime" in (logs or {}):
            return
        per_step = {}
        for name, values in self.trainer._logs["rewards"].items():
            values = [v for v in values]
            groups = [values[i : i + self.group_size] for i in range(0, len(values), self.group_size)]
            per_step[name] = [sum(g) / len(g) for g in groups if g and not any(math.isnan(v) for v in g)]
        self.steps[state.global_step] = per_step


def mean_se(values: list[float]) -> dict:
    n = len(values)
    if n == 0:
        return {"mean": None, "se": None, "groups": 0}
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"mean": mean, "se": math.sqrt(var / n), "groups": n}


def edge_rewards(steps: dict[int, dict[str, list[float]]]) -> dict:
    ordered = sorted(steps)
    first, last = ordered[:EDGE_STEPS], ordered[-EDGE_STEPS:]
    names = sorted({n for s in steps.values() for n in s})
    return {name: {"first": mean_se([v for s in first for v in steps[s].get(name, [])]),
                   "last": mean_se([v for s in last for v in steps[s].get(name, [])])} for name in names}


def summary(records: list[dict], rule: str) -> dict:
    flags = [r[rule]["correct"] for r in records]
    low, high = stats.wilson_interval(sum(flags), len(flags))
    return {"rule": rule, "accuracy": sum(flags) / len(flags), "ci95": [low, high], "correct": sum(flags), "n": len(flags),
            "format_rate": sum(r["rewards"].get("format_reward_soft") or 0 for r in records) / len(records),
            "mean_tokens": sum(r["tokens"] for r in records) / len(records)}


def paired(before: list[dict], before_rule: str, after: list[dict], after_rule: str) -> dict:
    """McNemar on the same problems: was right before and wrong after (b) versus the other way (c)."""
    pairs = list(zip((r[before_rule]["correct"] for r in before), (r[after_rule]["correct"] for r in after)))
    return stats.mcnemar(sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs))


def scored(cfg, name, out, rows, generator=None):
    evaluate(cfg, name, out, rows, generator=generator, progress=False)
    records = read_records(out / "records.jsonl")
    return [records[r["id"]] for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=str(ROOT / "runs" / "learning_signal"))
    args = parser.parse_args()
    started = time.time()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: this measures learning, not resuming
    cfg = load_config("cpu-learn", overrides=[f"train.output_dir={out / 'train'}", *args.overrides])
    rows = eval_rows(cfg)
    print(f"held-out problems: {len(rows)}", flush=True)

    base = scored(cfg, cfg.model.name, out / "eval_base", rows)
    print(f"base scored ({time.time() - started:.0f}s)", flush=True)

    groups = GroupRewards(cfg.train.num_generations)
    trainer = build_trainer(cfg, callbacks=(groups,))
    groups.trainer = trainer
    trainer.model.eval()
    warm_generate = transformers_generate(trainer.model, trainer.processing_class, cfg.eval.max_new_tokens,
                                          stop_strings(cfg.format))
    warmed = scored(cfg, "after-warmup", out / "eval_warmup", rows, (warm_generate, trainer.processing_class))
    trainer.model.train()
    print(f"warm-up scored ({time.time() - started:.0f}s)", flush=True)
    trainer.train()
    final = save_final(trainer, cfg)
    print(f"trained ({time.time() - started:.0f}s)", flush=True)
    after = scored(cfg, str(final), out / "eval_trained", rows)

    result = {
        "profile": cfg.profile, "settings": {k: v for k, v in cfg.to_dict()["train"].items()},
        "held_out": {"source": cfg.data.source, "task": cfg.data.gym_task, "split": cfg.data.eval_split,
                     "n": len(rows)},
        "base": {"flexible": summary(base, "flexible"), "strict": summary(base, "strict")},
        "after_warmup": {"flexible": summary(warmed, "flexible"), "strict": summary(warmed, "strict")},
        "after_grpo": {"flexible": summary(after, "flexible"), "strict": summary(after, "strict")},
        # the target: format-compliant (strict) accuracy after training against the base's best (last number) reading
        "mcnemar_after_strict_vs_base_flexible": paired(base, "flexible", after, "strict"),
        "mcnemar_after_strict_vs_warmup_strict": paired(warmed, "strict", after, "strict"),
        "rewards_first_last_steps": edge_rewards(groups.steps),
        "steps": trainer.state.global_step,
        "seconds": round(time.time() - started),
    }
    target = result["after_grpo"]["strict"]["accuracy"] > result["base"]["flexible"]["accuracy"]
    result["target_met"] = bool(target and result["mcnemar_after_strict_vs_base_flexible"]["p_value"] < 0.05
                                and result["after_grpo"]["strict"]["mean_tokens"] >= 0.5 * result["base"]["flexible"]["mean_tokens"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    for stage in ("base", "after_warmup", "after_grpo"):
        for rule in ("flexible", "strict"):
            s = result[stage][rule]
            print(f"{stage:>13} {rule:>8}: accuracy {s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] "
                  f"format {s['format_rate']:.2f} tokens {s['mean_tokens']:.1f}")
    print(f"McNemar after-strict vs base-flexible: {result['mcnemar_after_strict_vs_base_flexible']}")
    print(f"McNemar after-strict vs warm-up-strict: {result['mcnemar_after_strict_vs_warmup_strict']}")
    for name, edge in result["rewards_first_last_steps"].items():
        print(f"  {name:>22}: first {edge['first']['mean']} +- {edge['first']['se']}  last {edge['last']['mean']} "
              f"+- {edge['last']['se']}")
    print(f"target met: {result['target_met']}  ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
