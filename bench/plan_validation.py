"""Check `mathrl plan` against measured memory: a GRPO-shaped forward+backward on CPU, or TRL GRPOTrainer steps on GPU.

    python bench/plan_validation.py         # CPU: SmolLM2-135M architecture, cpu-smoke shapes -> results/plan_cpu.json
    python bench/plan_validation.py --gpu   # CUDA capped at 15 GiB: Qwen2.5-0.5B architecture, kaggle-2xt4 per-device
                                            # settings, checkpointing on and off -> results/plan_gpu.json
Models are built from the planner's table with random weights (no download); each variant runs in its own process so
that one's memory (or out-of-memory) does not leak into the next.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from mathrl.config import load_config
from mathrl.hardware import GiB, hf_config, match_device, model_spec
from mathrl.train.plan import plan_run

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CAP_GIB = 15.0  # a T4-sized slice of a larger GPU
GPU_STEPS = 3  # the first step warms up; later ones give the step time
GPU_VARIANTS = {
    "kaggle-2xt4, checkpointing on": ["train.num_processes=1"],
    "kaggle-2xt4, checkpointing off": ["train.num_processes=1", "train.gradient_checkpointing=false"],
    # the shape of the project's earlier measurement: TRL defaults, 8 completions of 512 tokens per generate
    "trl defaults, checkpointing on": ["train.num_processes=1", "train.gradient_accumulation_steps=1",
                                       "train.steps_per_generation=none"],
}
CPU_SHRINK = ["train.per_device_train_batch_size=2", "train.num_generations=2"]  # two shared cores: halve the time
CPU_VARIANTS = {"cpu-smoke, 2 rows, checkpointing off": CPU_SHRINK,
                "cpu-smoke, 2 rows, checkpointing on": [*CPU_SHRINK, "train.gradient_checkpointing=true"]}


def fwd_bwd_bytes(plan) -> int:
    """What the planner expects one forward+backward to add on top of what stays resident (weights, ...)."""
    return max(plan.phases["backward start"], plan.phases["backward end"]) - plan.resident


def grpo_batch(rows: int, prompt: int, completion: int, vocab: int, seed: int = 0) -> dict:
    """Left-padded prompts of varied length followed by completions; labels mark the completion tokens only."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(3, vocab, (rows, prompt + completion), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    lengths = torch.randint(prompt // 2, prompt + 1, (rows,), generator=generator)
    for row, length in enumerate(lengths.tolist()):
        attention_mask[row, : prompt - length] = 0
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[:, :prompt] = -100
    advantages = torch.randn(rows, generator=generator)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "advantages": advantages}


def grpo_loss(model, batch: dict):
    """TRL's clipped-ratio policy loss at ratio 1, scored through TRL's fused LM head like GRPOTrainer does."""
    import torch

    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"],
                fused_lm_head=True)
    mask = (batch["labels"][:, 1:] != -100).float()
    ratio = torch.exp(out.log_probs - out.log_probs.detach())
    return -(ratio * batch["advantages"][:, None] * mask).sum() / mask.sum()


class PeakRSS:
    """Highest resident set size seen while the block runs, sampled every millisecond (torch ops release the GIL)."""

    def __enter__(self):
        import psutil

        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.001):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def cpu_variant(overrides: list[str]) -> dict:
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    cfg = load_config("cpu-smoke", overrides=overrides)
    t = cfg.train
    spec = model_spec(cfg.model.name)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config(spec), dtype=torch.float32)
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    if t.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    # a small pass first, so that one-off library buffers do not count as activations
    grpo_loss(model, grpo_batch(1, 16, 8, spec.vocab)).backward()
    model.zero_grad(set_to_none=True)
    batch = grpo_batch(t.per_device_train_batch_size, t.max_prompt_length, t.max_completion_length, spec.vocab)
    started = time.perf_counter()
    with PeakRSS() as rss:
        grpo_loss(model, batch).backward()
    plan = plan_run(cfg, gpu="cpu")
    return {"measured_gib": (rss.peak - rss.start) / GiB, "planned_gib": fwd_bwd_bytes(plan) / GiB,
            "ratio": (rss.peak - rss.start) / fwd_bwd_bytes(plan), "seconds": time.perf_counter() - started,
            "tokens": plan.micro_batch_tokens, "model": spec.name}


def word_tokenizer(vocab_size: int, texts: list[str]):
    """A word-level tokenizer built here (the Hub is out of reach) and padded with filler words to `vocab_size`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(("<pad>", "<eos>", "<unk>"))}
    for text in texts:
        for word, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text):
            vocab.setdefault(word, len(vocab))
    for i in range(len(vocab), vocab_size):
        vocab[f"<w{i}>"] = i
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>",
                                   unk_token="<unk>", padding_side="left")


def prompts(tokenizer, questions: list[str], length: int) -> list[str]:
    """Each question cycled to exactly `length` tokens, as the planner assumes prompts fill max_prompt_length."""
    out = []
    for question in questions:
        ids = tokenizer(question)["input_ids"]
        out.append(tokenizer.decode((ids * (length // len(ids) + 1))[:length]))
    return out


def gpu_variant(overrides: list[str]) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    cfg = load_config("kaggle-2xt4", overrides=overrides)
    t = cfg.train
    spec = model_spec(cfg.model.name)
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(CAP_GIB * GiB / total)
    rows = [json.loads(line) for line in (ROOT / "data" / "gsm8k" / "test.jsonl").read_text().splitlines()[:64]]
    tokenizer = word_tokenizer(spec.vocab, [r["question"] for r in rows])
    dataset = Dataset.from_dict({"prompt": prompts(tokenizer, [r["question"] for r in rows], t.max_prompt_length)})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(hf_config(spec), dtype=torch.float32)
    model.config.pad_token_id, model.config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    args = GRPOConfig(
        output_dir="/tmp/plan_validation", max_steps=GPU_STEPS, learning_rate=t.learning_rate,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps, steps_per_generation=t.steps_per_generation,
        num_generations=t.num_generations, max_completion_length=t.max_completion_length, beta=t.beta,
        loss_type=t.loss_type, gradient_checkpointing=t.gradient_checkpointing, bf16=False, fp16=False,
        logging_steps=1, save_strategy="no", report_to="none", seed=t.seed,
    )
    ends = []

    class Clock(TrainerCallback):
        def on_step_end(self, *_, **__):
            ends.append(time.perf_counter())

    def length_reward(completions, **_):
        return [float(len(c)) / 1000 for c in completions]

    trainer = GRPOTrainer(model=model, reward_funcs=length_reward, args=args, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[Clock()])
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    oom = None
    try:
        trainer.train()
    except torch.OutOfMemoryError as err:
        oom = str(err).splitlines()[0]
    times = [b - a for a, b in zip([started, *ends], ends)]
    device = match_device(torch.cuda.get_device_name(0), total / GiB)
    plan = plan_run(cfg, gpu=device.name if device else "H100", memory_gib=CAP_GIB)
    return {
        "measured": {"peak_allocated_gib": torch.cuda.max_memory_allocated() / GiB,
                     "peak_reserved_gib": torch.cuda.max_memory_reserved() / GiB, "oom": oom,
                     "step_s": sorted(times[1:])[len(times[1:]) // 2] if len(times) > 1 else None, "step_times": times},
        "planned": {"peak_torch_gib": (plan.peak - plan.runtime) / GiB, "peak_gib": plan.peak / GiB,
                    "peak_phase": plan.peak_phase, "fits": plan.fits, "step_s": plan.step_s,
                    "generation_s": plan.generation_s, "training_s": plan.training_s},
        "reserved_over_planned": torch.cuda.max_memory_reserved() / (plan.peak - plan.runtime),
        "device": torch.cuda.get_device_name(0), "cap_gib": CAP_GIB, "overrides": overrides,
    }


def run_variants(kind: str, variants: dict[str, list[str]]) -> dict:
    results = {}
    for name, overrides in variants.items():
        command = [sys.executable, __file__, "--variant", kind, *[f"--set={o}" for o in overrides]]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{name}: {json.dumps(results[name])}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="run TRL GRPOTrainer on the CUDA GPU")
    parser.add_argument("--variant", choices=("cpu", "gpu"), help=argparse.SUPPRESS)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps((cpu_variant if args.variant == "cpu" else gpu_variant)(args.overrides)))
        return 0
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU: --gpu needs one (run it on the GPU machine); without --gpu this checks CPU")
        results, out = run_variants("gpu", GPU_VARIANTS), RESULTS / "plan_gpu.json"
    else:
        results, out = run_variants("cpu", CPU_VARIANTS), RESULTS / "plan_cpu.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
