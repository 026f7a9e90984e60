"""Does GRPO on the cpu-learn profile raise held-out accuracy? Greedy scoring before, after the format warm-up, and after.

    nice python bench/learning_signal.py [--set key=value ...] [--eval-every N] [--sampled K] [--practised]
        # ~20 min on 2 idle CPU cores; writes bench/results/learning_signal.json

Held-out accuracy is also measured every N GRPO steps (greedy, the in-memory model), so a result that is only a lucky
or unlucky end point shows as one. With --sampled K the warm-up and the trained model are also scored on K samples per
problem at the training temperature, the decoding GRPO optimizes, and compared problem by problem. With --practised
they are also scored, the same way, on the training problems GRPO drew its prompts from, to tell learning the problems
practised from learning what carries over to new ones.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from mathrl import stats  # noqa: E402
from mathrl.arithmetic import equations  # noqa: E402
from mathrl.config import load_config  # noqa: E402
from mathrl.data import load_rows  # noqa: E402
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


class HeldOutCurve(TrainerCallback):
    """Greedy held-out accuracy of the in-memory model every `every` optimizer steps."""

    def __init__(self, every: int, measure):
        self.every, self.measure, self.points = every, measure, []

    def on_step_end(self, args, state, control, **kwargs):
        if self.every and state.global_step % self.every == 0 and state.global_step < args.max_steps:
            self.points.append({"step": state.global_step, **self.measure(f"step{state.global_step}")})


def mean_se(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "se": None, "groups": 0}
    return {"mean": sum(values) / len(values), "se": stats.standard_error_of_mean(values), "groups": len(values)}


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


def practised_rows(trainer, cfg) -> list[dict]:
    """The training rows GRPO's first max_steps optimizer steps draw, in order: TRL's sampler has its own seeded
    generator, so it is replayed before training without changing what training draws (one process only)."""
    t = cfg.train
    drawn = t.max_steps * t.per_device_train_batch_size * t.gradient_accumulation_steps
    indices = dict.fromkeys(itertools.islice(iter(trainer._get_train_sampler(trainer.train_dataset)), drawn))
    return [trainer.train_dataset[i] for i in indices]


def replay_mismatch(rows: list[dict], samples_log: Path) -> str | None:
    """Why the replayed rows are not the run's, or None: every prompt in the run's sample log must be among them."""
    replayed = {row["question"] for row in rows}
    logged = {json.loads(line)["prompt"] for line in samples_log.read_text().splitlines() if line.strip()}
    if not logged:
        return f"{samples_log} logged no prompt to check the replay against: set train.sample_every <= train.max_steps"
    missing = sorted(logged - replayed)
    return f"the run drew {missing[:3]}, which the replay did not" if missing else None


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


def draw_figures(out: Path, folder: Path) -> None:
    """Reward and length curves from the run's metrics log, and accuracy at each stage, as PNGs in `folder`."""
    from mathrl import plots

    plots.reward_curves(out / "train" / "metrics.jsonl", folder)
    plots.length_curve(out / "train" / "metrics.jsonl", folder)
    stages = {"base": "eval_base", "warm-up": "eval_warmup", "after GRPO": "eval_trained"}
    plots.accuracy_bars({name: json.loads((out / d / "summary.json").read_text()) for name, d in stages.items()}, folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default=str(ROOT / "runs" / "learning_signal"))
    parser.add_argument("--eval-every", type=int, default=20, help="held-out accuracy every N steps (0: off)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--figures", type=Path, help="also draw the run's figures into this folder (e.g. figures)")
    parser.add_argument("--sampled", type=int, default=0, metavar="K",
                        help="also score the warm-up and the trained model on K samples per problem (K >= 2)")
    parser.add_argument("--practised", action="store_true",
                        help="also score both on the training problems GRPO practised on")
    args = parser.parse_args()
    started = time.time()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: this measures learning, not resuming
    cfg = load_config("cpu-learn", overrides=[f"train.output_dir={out / 'train'}", *args.overrides])
    if args.sampled == 1 or args.sampled < 0:
        parser.error(f"--sampled {args.sampled}: give 0 (off) or at least 2 samples per problem")
    judged = judged_config(cfg, args.sampled)
    rows = eval_rows(cfg)
    held_out = {r["question"] for r in rows}
    in_train = len(held_out & {r["question"] for r in load_rows(cfg.data, "train")})
    print(f"held-out problems: {len(rows)}, {in_train} also in train", flush=True)

    base = scored(cfg, cfg.model.name, out / "eval_base", rows)
    print(f"base scored ({time.time() - started:.0f}s)", flush=True)

    groups = GroupRewards(cfg.train.num_generations)

    def in_memory(name: str, scoring=cfg, problems=rows) -> list[dict]:
        with torch.random.fork_rng():  # sampled scoring reseeds torch: the run must draw what it would unmeasured
            records = scored_in_memory(trainer, scoring, name, out / f"eval_{name}", problems)
        trainer.model.train()
        return records

    def point(name: str) -> dict:
        strict = summary(in_memory(name), "strict")
        print(f"{name}: strict accuracy {strict['accuracy']:.3f}, worked {strict['worked_rate']:.2f} "
              f"({time.time() - started:.0f}s)", flush=True)
        return {"strict": strict["accuracy"], "mean_tokens": strict["mean_tokens"], "worked_rate": strict["worked_rate"]}

    curve = HeldOutCurve(args.eval_every, point)
    trainer = build_trainer(cfg, callbacks=(groups, curve))
    groups.trainer = trainer
    warmed = in_memory("warmup", judged)
    print(f"warm-up scored ({time.time() - started:.0f}s)", flush=True)
    if args.practised:
        practised = practised_rows(trainer, cfg)
        practised_before = in_memory("practised_warmup", judged, practised)
        print(f"warm-up scored on the {len(practised)} problems GRPO will practise ({time.time() - started:.0f}s)",
              flush=True)
    trainer.train()
    final = save_final(trainer, cfg)
    print(f"trained ({time.time() - started:.0f}s)", flush=True)
    after = scored(judged, str(final), out / "eval_trained", rows)

    settings = cfg.to_dict()
    result = {
        "profile": cfg.profile, "overrides": args.overrides, "settings": settings["train"], "rewards": settings["rewards"],
        "held_out": {"source": cfg.data.source, "task": cfg.data.gym_task, "options": cfg.data.gym_options,
                     "split": cfg.data.eval_split, "n": len(rows), "distinct": len(held_out), "in_train": in_train},
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
    if args.sampled:
        result["sampled"] = sampled_comparison(warmed, after, judged)
    if args.practised:
        mismatch = replay_mismatch(practised, out / "train" / "samples.jsonl")
        if mismatch:
            result["practised"] = {"error": mismatch}
        else:
            practised_after = scored(judged, str(final), out / "eval_practised_trained", practised)
            result["practised"] = {"problems": len(practised),
                                   **warmup_against_grpo(practised_before, practised_after, judged)}
    result["held_out_curve"] = [{"step": 0, "strict": result["after_warmup"]["strict"]["accuracy"]}, *curve.points,
                                {"step": result["steps"], "strict": result["after_grpo"]["strict"]["accuracy"]}]
    target = result["after_grpo"]["strict"]["accuracy"] > result["base"]["flexible"]["accuracy"]
    result["target_met"] = bool(target and result["mcnemar_after_strict_vs_base_flexible"]["p_value"] < 0.05
                                and result["after_grpo"]["strict"]["mean_tokens"] >= 0.5 * result["base"]["flexible"]["mean_tokens"])
    if args.figures:
        draw_figures(out, args.figures)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2))
    for stage in ("base", "after_warmup", "after_grpo"):
        for rule in ("flexible", "strict"):
            s = result[stage][rule]
            print(f"{stage:>13} {rule:>8}: accuracy {s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] "
                  f"format {s['format_rate']:.2f} tokens {s['mean_tokens']:.1f} worked {s['worked_rate']:.2f}")
    print(f"McNemar after-strict vs base-flexible: {result['mcnemar_after_strict_vs_base_flexible']}")
    print("held-out strict accuracy by step: " + ", ".join(f"{p['step']}: {p['strict']:.3f}" for p in result["held_out_curve"]))
    print(f"McNemar after-strict vs warm-up-strict: {result['mcnemar_after_strict_vs_warmup_strict']}")
    if args.sampled:
        s = result["sampled"]
        print(f"sampled pass@1 ({s['samples']} per problem, temperature {s['temperature']}): warm-up "
              f"{s['after_warmup']:.3f}, after GRPO {s['after_grpo']:.3f}, paired {s['paired']}")
    if args.practised and "error" in result["practised"]:
        print(f"practised problems not scored: {result['practised']['error']}")
    elif args.practised:
        p = result["practised"]
        print(f"on the {p['problems']} problems GRPO practised, greedy strict: warm-up "
              f"{p['greedy']['after_warmup']['accuracy']:.3f}, after GRPO {p['greedy']['after_grpo']['accuracy']:.3f}, "
              f"McNemar {p['greedy']['mcnemar']}" + (f"; sampled paired {p['sampled']['paired']}" if args.sampled else ""))
    for name, edge in result["rewards_first_last_steps"].items():
        print(f"  {name:>22}: first {edge['first']['mean']} +- {edge['first']['se']}  last {edge['last']['mean']} "
              f"+- {edge['last']['se']}")
    print(f"target met: {result['target_met']}  ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
