"""GRPO step time and completions per second: mathrl against a plain script that calls TRL's GRPOTrainer directly.

    python bench/grpo_speed.py          # CPU: the offline model, 8 completions of 24 tokens, variants alternated
    python bench/grpo_speed.py --gpu    # CUDA capped at a T4's 15 GiB: Qwen2.5-0.5B architecture (random weights),
                                        # fp32, checkpointing, 512-token completions -> results/grpo_speed_gpu.json
    python bench/grpo_speed.py --gpu --overhead   # the wrapper's cost alone: plain and mathrl alternated, 7 steps each
Each variant runs in its own process; the first step (warm-up, compilation) is left out of the rates.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mathrl.config import load_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CAP_GIB = 15.0
CPU_BASE = ["model.name=smollm2-135m-instruct", "train.per_device_train_batch_size=8", "train.num_generations=8",
            "train.max_completion_length=24", "train.max_steps=4", "train.gradient_checkpointing=false",
            "data.limit=64"]
GPU_BASE = ["train.num_processes=1", "train.max_steps=4", "data.limit=256"]
# (name, runner, overrides): plain = TRL's GRPOTrainer with the same batch settings and TRL's generation defaults
CPU_VARIANTS = [
    ("plain TRL", "plain", []),
    ("mathrl, identical settings", "mathrl", []),
    ("plain TRL", "plain", []),
    ("mathrl, identical settings", "mathrl", []),
]
GPU_VARIANTS = [
    ("plain TRL, 8 per update", "plain", ["train.gradient_accumulation_steps=1", "train.steps_per_generation=1"]),
    ("plain TRL, 32 per update", "plain", ["train.static_cache=false"]),
    ("mathrl, identical settings, 32 per update", "mathrl", ["train.static_cache=false"]),
    ("mathrl defaults, 32 per update", "mathrl", []),
    ("mathrl defaults, 64 per generate call", "mathrl", ["train.gradient_accumulation_steps=8",
                                                          "train.steps_per_generation=8"]),
]


EIGHT = ["train.gradient_accumulation_steps=1", "train.steps_per_generation=1", "train.static_cache=false",
         "train.max_steps=7"]
GPU_OVERHEAD_VARIANTS = [
    ("plain TRL, 8 per update", "plain", EIGHT),
    ("mathrl, identical settings, 8 per update", "mathrl", EIGHT),
    ("plain TRL, 8 per update", "plain", EIGHT),
    ("mathrl, identical settings, 8 per update", "mathrl", EIGHT),
]


def gpu_model_dir() -> Path:
    """Qwen2.5-0.5B-Instruct's architecture with random weights and a word tokenizer built here (no Hub)."""
    import torch
    from transformers import AutoModelForCausalLM

    from bench.plan_validation import word_tokenizer
    from mathrl.hardware import hf_config, model_spec

    folder = Path("/tmp/mathrl-bench/qwen2.5-0.5b-random")
    if (folder / "model.safetensors").is_file():
        return folder
    spec = model_spec("Qwen/Qwen2.5-0.5B-Instruct")
    questions = [json.loads(line)["question"] for line in (ROOT / "data/gsm8k/train.jsonl").read_text().splitlines()]
    tokenizer = word_tokenizer(spec.vocab, questions[:2000])
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config(spec), dtype=torch.float32)
    model.config.pad_token_id, model.config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def plain_trainer(cfg, callbacks):
    """What a hand-written TRL script does: load, map rows to prompts, GRPOTrainer with TRL's generation defaults."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from mathrl.data.load import drop_long_prompts, load_rows
    from mathrl.models import resolve_model_path
    from mathrl.rewards import build_reward_funcs

    t = cfg.train
    path = resolve_model_path(cfg.model.name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    rows, _ = drop_long_prompts(load_rows(cfg.data), tokenizer, t.max_prompt_length)
    funcs, weights = build_reward_funcs(cfg.rewards, cfg.data.format)
    args = GRPOConfig(
        output_dir=t.output_dir, max_steps=t.max_steps, learning_rate=t.learning_rate,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps, steps_per_generation=t.steps_per_generation,
        num_generations=t.num_generations, max_completion_length=t.max_completion_length, beta=t.beta,
        loss_type=t.loss_type, gradient_checkpointing=t.gradient_checkpointing, reward_weights=weights,
        bf16=False, fp16=False, logging_steps=1, save_strategy="no", report_to="none", seed=t.seed,
    )
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_list(rows),
                       processing_class=tokenizer, callbacks=list(callbacks))


def run_variant(runner: str, overrides: list[str], gpu: bool) -> dict:
    import torch
    from transformers import TrainerCallback

    from mathrl.train.grpo import build_trainer

    if gpu:
        torch.cuda.set_per_process_memory_fraction(CAP_GIB * 2**30 / torch.cuda.get_device_properties(0).total_memory)
        overrides = [f"model.name={gpu_model_dir()}", *GPU_BASE, *overrides]
        cfg = load_config("kaggle-2xt4", overrides=overrides)
    else:
        cfg = load_config("cpu-smoke", overrides=[*CPU_BASE, *overrides])
    cfg.train.output_dir = f"/tmp/mathrl-bench/run-{runner}-{time.time_ns()}"
    cfg.train.save_steps = 10_000  # time the steps, not the disk
    cfg.train.live_plot = "off"
    ends = []

    class Clock(TrainerCallback):
        def on_step_end(self, *_, **__):
            ends.append(time.perf_counter())

    trainer = plain_trainer(cfg, [Clock()]) if runner == "plain" else build_trainer(cfg, callbacks=(Clock(),))
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.train()
    steps = [b - a for a, b in zip([started, *ends], ends)]
    per_update = cfg.train.per_device_train_batch_size * cfg.train.gradient_accumulation_steps
    timed = steps[1:]  # the first step compiles and warms caches
    return {
        "step_s": statistics.median(timed), "step_times": steps, "completions_per_update": per_update,
        "completions_per_generate": cfg.train.per_device_train_batch_size
        * (cfg.train.steps_per_generation or cfg.train.gradient_accumulation_steps),
        "completions_per_s": per_update * len(timed) / sum(timed),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if gpu else None,
        "static_cache": cfg.train.static_cache and gpu,
    }


def _ratio(results: dict, a: str, b: str) -> float:
    return results[a]["completions_per_s"] / results[b]["completions_per_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="the Qwen2.5-0.5B-architecture case on a CUDA GPU")
    parser.add_argument("--overhead", action="store_true", help="with --gpu: only the wrapper's cost, alternated")
    parser.add_argument("--variant", nargs=2, metavar=("RUNNER", "OVERRIDES_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant[0], json.loads(args.variant[1]), args.gpu)))
        return 0
    import torch

    if args.gpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: --gpu needs one; without --gpu this benchmark runs on the CPU")
    runs: dict[str, list[dict]] = {}
    variants = (GPU_OVERHEAD_VARIANTS if args.overhead else GPU_VARIANTS) if args.gpu else CPU_VARIANTS
    for name, runner, overrides in variants:
        command = [sys.executable, __file__, "--variant", runner, json.dumps(overrides)] + (["--gpu"] if args.gpu else [])
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runs.setdefault(name, []).append(result)
        print(f"{name:<45} {result['step_s']:7.2f} s/step  {result['completions_per_s']:7.2f} completions/s", flush=True)
    results = {name: {"completions_per_s": statistics.fmean(r["completions_per_s"] for r in rs),
                      "step_s": statistics.fmean(r["step_s"] for r in rs), "runs": rs} for name, rs in runs.items()}
    if args.overhead:
        ratios = {"wrapper overhead (plain / mathrl identical, 8 per update)":
                  _ratio(results, "plain TRL, 8 per update", "mathrl, identical settings, 8 per update")}
    elif args.gpu:
        ratios = {
            "wrapper overhead (plain / mathrl identical, 32 per update)":
                _ratio(results, "plain TRL, 32 per update", "mathrl, identical settings, 32 per update"),
            "mathrl defaults / plain TRL at 32 per update":
                _ratio(results, "mathrl defaults, 32 per update", "plain TRL, 32 per update"),
            "mathrl 64 per call / plain TRL 8 per update":
                _ratio(results, "mathrl defaults, 64 per generate call", "plain TRL, 8 per update"),
        }
    else:
        ratios = {"wrapper overhead (plain / mathrl identical)":
                  _ratio(results, "plain TRL", "mathrl, identical settings")}
    for name, value in ratios.items():
        print(f"{name:<60} {value:.3f}x")
    import transformers
    import trl

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("grpo_overhead_gpu.json" if args.overhead else "grpo_speed_gpu.json" if args.gpu
                     else "grpo_speed_cpu.json")
    out.write_text(json.dumps({
        "machine": torch.cuda.get_device_name(0) if args.gpu else f"{platform.processor() or platform.machine()} CPU",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
        "ratios": ratios, "results": results,
    }, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
