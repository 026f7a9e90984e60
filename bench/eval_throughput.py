"""Generated tokens per second of the batched evaluator against a naive one-question-at-a-time `generate` loop.

    nice python bench/eval_throughput.py                    # 64 GSM8K test questions, 128 new tokens, offline model
    nice python bench/eval_throughput.py --questions 8 --max-new-tokens 16 --out /tmp/quick.json   # a smoke run

Both run in one process on the same questions, interleaved (naive first half, batched, naive second half) so that load
from other work on a shared machine falls on both; wall-clock and process CPU time are both reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from mathrl.config import load_config
from mathrl.data.load import load_rows
from mathrl.generation import length_sorted_batches, prompt_texts, stop_strings, transformers_generate
from mathrl.models import load_model

RESULTS = Path(__file__).resolve().parent / "results" / "eval_throughput.json"


def timed(work) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def naive(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[int]:
    """What an evaluation script without batching does: one `generate` call per question, stopping at eos."""
    lengths = []
    for prompt in prompts:
        batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, temperature=None,
                                 top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
        new = out[0, batch["input_ids"].shape[1]:].tolist()
        lengths.append(new.index(tokenizer.eos_token_id) if tokenizer.eos_token_id in new else len(new))
    return lengths


def batched(generate, tokenizer, prompts: list[str], batch_size: int) -> list[int]:
    """The evaluator's path: length-sorted batches, finished rows leave the batch."""
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    tokens = []
    for batch in length_sorted_batches(lengths, batch_size):
        tokens += [c[0].tokens for c in generate([prompts[i] for i in batch], 1, None)]
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the machine has 2 cores)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cfg = load_config("cpu-smoke")
    model, tokenizer, _ = load_model(cfg.model)
    model.eval()
    rows = load_rows(cfg.data, "test")[: args.questions]
    prompts = prompt_texts(rows, tokenizer)
    generate = transformers_generate(model, tokenizer, args.max_new_tokens, stop_strings(cfg.format))
    half = len(prompts) // 2
    load_before = os.getloadavg()

    first, wall_a, cpu_a = timed(lambda: naive(model, tokenizer, prompts[:half], args.max_new_tokens))
    fast, wall_b, cpu_b = timed(lambda: batched(generate, tokenizer, prompts, args.batch_size))
    second, wall_c, cpu_c = timed(lambda: naive(model, tokenizer, prompts[half:], args.max_new_tokens))

    slow_tokens, slow_wall, slow_cpu = sum(first) + sum(second), wall_a + wall_c, cpu_a + cpu_c
    result = {
        "questions": len(prompts), "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "threads": args.threads, "model": cfg.model.name, "device": "cpu", "processor": platform.processor(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "naive": {"tokens": slow_tokens, "wall_s": slow_wall, "cpu_s": slow_cpu,
                  "tokens_per_s": slow_tokens / slow_wall},
        "batched": {"tokens": sum(fast), "wall_s": wall_b, "cpu_s": cpu_b, "tokens_per_s": sum(fast) / wall_b},
        "ratio_wall": (sum(fast) / wall_b) / (slow_tokens / slow_wall),
        "ratio_cpu_time": (sum(fast) / cpu_b) / (slow_tokens / slow_cpu),
        "note": "batched stops rows at the format's answer close tag as well as eos, so it may generate fewer tokens",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"naive   {result['naive']['tokens_per_s']:7.1f} tokens/s  ({slow_tokens} tokens, {slow_wall:.0f} s)")
    print(f"batched {result['batched']['tokens_per_s']:7.1f} tokens/s  ({sum(fast)} tokens, {wall_b:.0f} s)")
    print(f"ratio   {result['ratio_wall']:.1f}x wall clock, {result['ratio_cpu_time']:.1f}x CPU time "
          f"(load average {load_before[0]:.1f} -> {result['load_average_1m']['after']:.1f}); wrote {args.out}")


if __name__ == "__main__":
    main()
