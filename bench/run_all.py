"""Run every benchmark and print one table of headline figures (ratios measured within one run) against the targets.

    python bench/run_all.py                      # CPU: rewards, evaluation, GRPO step, planner memory (~25 min on 2 cores)
    python bench/run_all.py --with-learning      # also the learning run, its rescoring and the warm-up comparison (~100 min more)
    python bench/run_all.py --gpu                # on a CUDA machine: the Qwen2.5-0.5B-architecture GRPO and planner cases
    python bench/run_all.py --table-only         # reprint the table from bench/results/*.json without running anything
    python bench/run_all.py --table-only --check # exit 1 if docs/benchmarks.md is not the table of the current results
Each script writes its own bench/results/<name>.json (machine, versions, config); this one adds results/summary.json
and regenerates docs/benchmarks.md, so the docs never carry a figure copied by hand.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTIONS = {
    "cpu": "On the 2-core CPU machine",
    "gpu": "On a GPU capped at a T4's 15 GiB (Qwen2.5-0.5B-Instruct's architecture, random weights, fp32, 512-token "
           "completions)",
    "learning": "Learning runs on the offline model (2 CPU cores); the settings and every variant tried are in "
                "[learning.md](learning.md)",
}


def _reward(d):
    return [("completions/s, one core, default combined reward", d["completions_per_s_one_core"], ">= 20000"),
            ("  same, plain-number fast path only", d["fast_path_completions_per_s_one_core"], ">= 20000"),
            ("  share of time in math_verify", d["math_verify_share"], "")]


def _eval(d):
    return [("batched / naive generate, tokens/s", d["ratio_wall"], ">= 6")]


def _speed_cpu(d):
    return [(f"GRPO {name}", value, "<= 1.02") for name, value in d["ratios"].items()]


def _speed_gpu(d):
    targets = {"wrapper": "<= 1.02", "32 per update": ">= 2", "64 per call": ">= 6"}
    return [(f"GRPO {name}", value, next((t for k, t in targets.items() if k in name), ""))
            for name, value in d["ratios"].items()]


def _plan_cpu(d):
    return [(f"planner measured/planned memory, {name}", v["ratio"], "within 1.15") for name, v in d.items()]


def _plan_gpu(d):
    rows = []
    for name, v in d.items():
        measured = "out of memory" if v["measured"]["oom"] else round(v["measured"]["peak_allocated_gib"], 2)
        planned = f"{v['planned']['peak_torch_gib']:.2f} GiB ({'fits' if v['planned']['fits'] else 'does not fit'})"
        rows.append((f"planner {name}: measured GiB vs plan {planned}", measured, "within 15%"))
    return rows


def _learning(d):
    base, warm, after = (d[k]["strict"]["accuracy"] for k in ("base", "after_warmup", "after_grpo"))
    base_flexible = d["base"]["flexible"]["accuracy"]
    vs_base, vs_warm = d["mcnemar_after_strict_vs_base_flexible"], d["mcnemar_after_strict_vs_warmup_strict"]
    n = d["held_out"]["n"]
    return [
        (f"{d['profile']}: held-out strict accuracy after GRPO / base (last number), n={n}, McNemar "
         f"p={vs_base['p_value']:.2g}", f"{after:.3f} / {base_flexible:.3f}", "higher, p < 0.05"),
        (f"{d['profile']}: after GRPO / after the format warm-up alone, McNemar p={vs_warm['p_value']:.2g}",
         f"{after:.3f} / {warm:.3f}", ""),
        (f"{d['profile']}: base strict accuracy (answer tag)", f"{base:.3f}", ""),
        *_sampled_row(d, f"{d['profile']}: sampled pass@1 after GRPO / after the warm-up, n={n}"),
        *_practised_rows(d),
    ]


def _practised_rows(d):
    practised = d.get("practised", {})
    if "greedy" not in practised:
        return []
    return _warmup_against_grpo_rows(practised, f"{d['profile']}: on the {practised['problems']} training problems GRPO "
                                                "practised")


def _warmup_against_grpo_rows(d, label):
    mcnemar = d["greedy"]["mcnemar"]
    return [(f"{label}, greedy strict accuracy after GRPO / after the warm-up, McNemar p={mcnemar['p_value']:.2g}",
             f"{d['greedy']['after_grpo']['accuracy']:.3f} / {d['greedy']['after_warmup']['accuracy']:.3f}", ""),
            *_sampled_row(d, f"{label}, sampled pass@1 after GRPO / after the warm-up")]


def _sampled_row(d, label):
    if "sampled" not in d:
        return []
    s = d["sampled"]
    return [(f"{label}, {s['samples']} samples at temperature {s['temperature']}, paired p={s['paired']['p_value']:.2g}",
             f"{s['after_grpo']:.3f} / {s['after_warmup']:.3f}", "")]


def _rescore(d):
    return _warmup_against_grpo_rows(d, f"{d['problems']} fresh held-out problems")


def _fresh(d):
    rows = _warmup_against_grpo_rows(d, f"{d['name']}: {d['problems']['n']} declared fresh problems")
    t = d["training"]
    rows.append((f"{d['name']}: training minutes (warm-up included; target <= 30 on 2 idle cores)",
                 d["training_seconds"] / 60, "<= 30"))
    if "best_checkpoint" in d:
        best = d["best_checkpoint"]
        rows += _warmup_against_grpo_rows(best, f"{d['name']}: the checkpoint chosen on validation (step {best['step']})"
                                                f" on the same problems")
    if "extra_share" in t:
        rows.append((f"{d['name']}: dynamic sampling, zero-spread share of groups generated / extra completions per "
                     "batch completion", f"{t['zero_spread_share']:.2f} / {t['extra_share']:.2f}", ""))
    return rows


def _warmup_methods(d):
    first = d["variants"][0]
    return [(f"format warm-up alone, greedy strict accuracy: {v['name']} / {first['name']}, McNemar "
             f"p={v['mcnemar_against_first']['p_value']:.2g}",
             f"{v['strict']['accuracy']:.3f} / {first['strict']['accuracy']:.3f}", "") for v in d["variants"][1:]]


# (results file, command, extractor, when): when = cpu | gpu | learning; command None: a record of an earlier run whose
# script has changed (learning_signal.py now scores declared fresh problems itself, replacing the rescoring)
BENCHMARKS = [
    ("reward_throughput.json", ["bench/reward_throughput.py"], _reward, "cpu"),
    ("eval_throughput.json", ["bench/eval_throughput.py"], _eval, "cpu"),
    ("grpo_speed_cpu.json", ["bench/grpo_speed.py"], _speed_cpu, "cpu"),
    ("plan_cpu.json", ["bench/plan_validation.py"], _plan_cpu, "cpu"),
    ("learning_signal.json", None, _learning, "learning"),
    ("sampled_rescore.json", None, _rescore, "learning"),
    ("learning_dynamic.json", ["bench/learning_signal.py", "--name", "dynamic", "--set", "train.dynamic_sampling=true",
                               "--set", "train.dynamic_sampling_max_extra=16"], _fresh, "learning"),
    ("learning_dynamic_t07.json", ["bench/learning_signal.py", "--name", "dynamic_t07", "--set",
                                   "train.dynamic_sampling=true", "--set", "train.dynamic_sampling_max_extra=16",
                                   "--set", "train.temperature=0.7"], _fresh, "learning"),
    ("learning_dynamic_4x4.json", ["bench/learning_signal.py", "--name", "dynamic_4x4", "--set",
                                   "train.dynamic_sampling=true", "--set", "train.dynamic_sampling_max_extra=16",
                                   "--set", "train.num_generations=4"], _fresh, "learning"),
    ("warmup_methods.json", ["bench/warmup_methods.py"], _warmup_methods, "learning"),
    ("grpo_speed_gpu.json", ["bench/grpo_speed.py", "--gpu"], _speed_gpu, "gpu"),
    ("grpo_overhead_gpu.json", ["bench/grpo_speed.py", "--gpu", "--overhead"], _speed_gpu, "gpu"),
    ("plan_gpu.json", ["bench/plan_validation.py", "--gpu"], _plan_gpu, "gpu"),
]


def table(selected) -> list[tuple]:
    """The headline rows of the selected benchmarks that have a results file; one not run yet has no row."""
    rows = []
    for file, _, extract, _ in selected:
        path = RESULTS / file
        if not path.is_file():
            continue
        try:
            rows.extend(extract(json.loads(path.read_text())))
        except (KeyError, TypeError, ValueError) as err:
            rows.append((file, f"unreadable ({err})", ""))
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def benchmarks_markdown() -> str:
    """docs/benchmarks.md: one table per kind of machine, every row read from bench/results/*.json."""
    parts = ["# Benchmarks", "",
             "Generated by `python bench/run_all.py` from `bench/results/*.json`; do not edit by hand. Each results file",
             "records the machine, the versions and the settings it ran with. Ratios are measured within one run.", ""]
    for kind, title in SECTIONS.items():
        parts += [f"## {title}", "", "| figure | value | target |", "| --- | --- | --- |"]
        parts += [f"| {name} | {_fmt(value)} | {target} |" for name, value, target in table(
            [b for b in BENCHMARKS if b[3] == kind])]
        parts.append("")
    parts += ["## What each result ran on", ""]
    parts += [f"- `{file}`: {_ran_on(RESULTS / file)}" for file, *_ in BENCHMARKS if (RESULTS / file).is_file()]
    not_run = [command for file, command, *_ in BENCHMARKS if command and not (RESULTS / file).is_file()]
    if not_run:
        parts += ["", "## Not run yet", ""] + [f"- `python {' '.join(command)}`" for command in not_run]
    return "\n".join(parts) + "\n"


def _ran_on(path: Path) -> str:
    data = json.loads(path.read_text())
    machine = data.get("machine") or data.get("device") or "machine not recorded"
    if isinstance(machine, dict):
        machine = ", ".join(f"{k} {v}" for k, v in machine.items() if k in ("processor", "cpus", "python"))
    versions = data.get("versions") or {k: data[k] for k in ("torch",) if k in data}
    return f"{machine}" + (f"; {', '.join(f'{k} {v}' for k, v in versions.items())}" if versions else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="run the GPU cases (needs CUDA)")
    parser.add_argument("--with-learning", action="store_true", help="also run the learning-signal benchmark")
    parser.add_argument("--table-only", action="store_true", help="print the table from existing results")
    parser.add_argument("--check", action="store_true", help="only say whether docs/benchmarks.md is current")
    args = parser.parse_args()
    if args.check:
        current = DOCS.is_file() and DOCS.read_text(encoding="utf-8") == benchmarks_markdown()
        print("docs/benchmarks.md is current" if current else
              "docs/benchmarks.md differs from bench/results: run python bench/run_all.py --table-only")
        return 0 if current else 1
    wanted = {"gpu"} if args.gpu else {"cpu"} | ({"learning"} if args.with_learning else set())
    selected = [b for b in BENCHMARKS if b[3] in wanted or args.table_only]
    if not args.table_only:
        for file, command, _, _ in (b for b in selected if b[1] is not None):
            print(f"running {' '.join(command)}", flush=True)
            done = subprocess.run([sys.executable, *command], cwd=ROOT)
            if done.returncode:
                print(f"  {command[0]} failed with status {done.returncode}; its row shows the last saved result")
    rows = table(selected) or [("no results yet", "", "")]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':>14}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {_fmt(value):>14}  {target}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(
        {"machine": platform.platform(), "python": platform.python_version(),
         "rows": [{"figure": n, "value": v, "target": t} for n, v, t in rows]}, indent=1) + "\n")
    DOCS.write_text(benchmarks_markdown(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
