"""GRPO training: one builder from a Config to TRL's GRPOTrainer; resumes from the newest complete checkpoint in its dir.

    mathrl train --profile cpu-smoke --output-dir runs/smoke --max-steps 2
    torchrun --nproc_per_node 2 -m mathrl train --profile kaggle-2xt4 --output-dir runs/k
    accelerate launch --config_file mathrl/accelerate_configs/multi_gpu.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/k
    accelerate launch --config_file mathrl/accelerate_configs/zero2.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/z2
    accelerate launch --config_file mathrl/accelerate_configs/zero3.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/z3
    accelerate launch --config_file mathrl/accelerate_configs/fsdp.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/fsdp
    python -c "from mathrl.launch import launch_training; launch_training('kaggle-2xt4')"   # from a notebook cell

Run the same command again with the same --output-dir to resume after a dead session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mathrl.config import Config, ConfigError, MathrlError, validate

CONFIG_FILE = "config.yaml"
COMPLETE_MARKER = "mathrl_complete"
IDENTITY_KEYS = ("profile", "model.name", "model.lora", "data.format", "data.source")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "pytorch_model.bin")


def say(text: str) -> None:
    """Print once per job: on world rank 0 only, so two processes do not repeat every line."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"[mathrl] {text}", flush=True)


# --------------------------------------------------------------------------- checks before the model loads


def _identity(data: dict) -> dict:
    out = {}
    for key in IDENTITY_KEYS:
        section, _, name = key.partition(".")
        out[key] = data.get(section, {}).get(name) if name else data.get(section)
    return out


def check_output_dir(cfg: Config) -> None:
    """Refuse an output dir whose config.yaml belongs to a different run (model, LoRA, format, data or profile)."""
    import yaml

    path = Path(cfg.train.output_dir) / CONFIG_FILE
    if not path.is_file():
        return
    old, new = _identity(yaml.safe_load(path.read_text()) or {}), _identity(cfg.to_dict())
    changed = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in IDENTITY_KEYS if old[k] != new[k]]
    if changed:
        raise ConfigError(
            f"{cfg.train.output_dir} holds another run ({'; '.join(changed)}); resuming it would mix two runs. "
            "Pass a new --output-dir, or delete the old one to start over"
        )


def model_context_length(name: str) -> int | None:
    """max_position_embeddings from the model's config.json, without loading weights (None when unreadable)."""
    from mathrl.models import resolve_model_path

    path = Path(resolve_model_path(name))
    if (path / "adapter_config.json").is_file():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        return model_context_length(base) if base else None
    try:
        if (path / "config.json").is_file():
            data = json.loads((path / "config.json").read_text())
        else:
            from transformers import AutoConfig

            data = AutoConfig.from_pretrained(name).to_dict()
    except (OSError, ValueError):
        return None  # an unreachable Hub id fails in load_model with its own message
    data = data.get("text_config", data)
    return data.get("max_position_embeddings")


def check_context(cfg: Config) -> None:
    t = cfg.train
    context = model_context_length(cfg.model.name)
    if context is not None and t.max_prompt_length + t.max_completion_length > context:
        raise ConfigError(
            f"train.max_prompt_length + train.max_completion_length = {t.max_prompt_length} + "
            f"{t.max_completion_length} exceeds {cfg.model.name}'s context of {context} tokens; lower one of them"
        )


def check_environment(cfg: Config) -> None:
    import torch

    t = cfg.train
    if t.require_gpu and not torch.cuda.is_available():
        raise MathrlError(
            f"profile {cfg.profile!r} needs a CUDA GPU and none is visible: enable the GPU (Colab: Runtime > Change "
            "runtime type; Kaggle: Settings > Accelerator), or use --profile cpu-smoke / --set train.require_gpu=false"
        )
    for wanted, package, pip in ((t.use_vllm, "vllm", "vllm"), (t.use_liger_kernel, "liger_kernel", "liger-kernel")):
        if wanted and importlib.util.find_spec(package) is None:
            raise MathrlError(f"{'train.use_vllm' if package == 'vllm' else 'train.use_liger_kernel'}=true needs "
                              f"`pip install {pip}`; or turn it off with --set train.{'use_vllm' if package == 'vllm' else 'use_liger_kernel'}=false")
    if t.use_vllm and t.vllm_mode not in ("colocate", "server"):
        raise ConfigError(f"train.vllm_mode={t.vllm_mode!r}: choose colocate or server")


def preflight(cfg: Config) -> None:
    """Every check that can fail without loading a model: config values, output dir, context length, GPU, packages."""
    validate(cfg)
    check_output_dir(cfg)
    check_environment(cfg)
    check_context(cfg)


def save_config(cfg: Config) -> Path:
    """Write output_dir/config.yaml by rename, so another process never reads it half-written."""
    path = Path(cfg.train.output_dir) / CONFIG_FILE
    staging = cfg.save(path.with_name(CONFIG_FILE + f".{os.getpid()}.tmp"))
    os.replace(staging, path)
    return path


# --------------------------------------------------------------------------- checkpoints


def is_complete(checkpoint: Path) -> bool:
    """Trainer state, weights and our marker (written after the whole save returned) are all present."""
    return (
        (checkpoint / "trainer_state.json").is_file()
        and (checkpoint / COMPLETE_MARKER).is_file()
        and any((checkpoint / name).is_file() for name in WEIGHT_FILES)
    )


def find_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint-N in output_dir; half-written ones (killed mid-save) are skipped."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and is_complete(p)]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def checkpoint_step(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])


def _completion_marker_callback():
    from transformers import TrainerCallback

    class CompleteMarker(TrainerCallback):
        """on_save runs after the Trainer wrote model, optimizer, scheduler, RNG and trainer state."""

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                (folder / COMPLETE_MARKER).write_text(str(state.global_step))

    return CompleteMarker()


def remove_incomplete(output_dir: str | Path) -> list[str]:
    """Delete checkpoint folders a killed run left half-written, so rotation never keeps one over a complete one."""
    removed = []
    for folder in Path(output_dir).glob("checkpoint-*"):
        if folder.is_dir() and not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


# --------------------------------------------------------------------------- the builder


def grpo_args(cfg: Config, precision):
    """TRL's GRPOConfig from cfg.train, with bf16/fp16 always explicit (TRL turns bf16 on by default)."""
    import torch
    from trl import GRPOConfig

    from mathrl.rewards import build_reward_funcs

    t = cfg.train
    _, weights = build_reward_funcs(cfg.rewards, cfg.data.format)
    static = t.static_cache and torch.cuda.is_available() and not t.use_vllm
    return GRPOConfig(
        output_dir=t.output_dir,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        steps_per_generation=t.steps_per_generation,
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        temperature=t.temperature,
        top_p=t.top_p,
        beta=t.beta,
        epsilon=t.epsilon,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        mask_truncated_completions=t.mask_truncated_completions,
        reward_weights=weights,
        activation_checkpointing=t.gradient_checkpointing,  # transformers 5 name; TRL reads the mirrored old one
        max_grad_norm=t.max_grad_norm,
        weight_decay=t.weight_decay,
        seed=t.seed,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        report_to=t.report_to,
        run_name=t.run_name,
        use_vllm=t.use_vllm,
        vllm_mode=t.vllm_mode,
        use_liger_kernel=t.use_liger_kernel,
        cache_implementation="static" if static else None,
        log_completions=False,  # samples.jsonl replaces TRL's rich tables and parquet files
        # accelerate sets up gloo data parallelism for torchrun's processes only when told the run is on CPU
        use_cpu=not torch.cuda.is_available(),
        **precision.trainer_flags,
    )


def _enable_compiled_decoding(trainer) -> None:
    # TRL builds GenerationConfig(**kwargs, disable_compile=True) and would reject disable_compile in generation_kwargs
    # (a duplicate keyword), so it is switched back on the built config. fullgraph=True fails on the input hook that
    # gradient checkpointing registers.
    from transformers import CompileConfig

    trainer.generation_config.disable_compile = False
    trainer.generation_config.compile_config = CompileConfig(fullgraph=False)


def prepare_rows(cfg: Config, tokenizer) -> tuple[list[dict], list[str]]:
    """Training rows whose prompt fits train.max_prompt_length tokens, and the ids dropped (TRL 1.16 cannot truncate)."""
    from mathrl.data import drop_long_prompts, load_rows

    rows = load_rows(cfg.data, cfg.data.split)
    budget = min(cfg.train.max_prompt_length, cfg.data.max_prompt_tokens or cfg.train.max_prompt_length)
    kept, dropped = drop_long_prompts(rows, tokenizer, budget)
    say(f"data: {len(kept)} prompts kept, {len(dropped)} dropped as longer than {budget} tokens")
    if not kept:
        raise ConfigError(f"every prompt is longer than {budget} tokens: raise train.max_prompt_length")
    return kept, dropped


def build_trainer(cfg: Config, callbacks: tuple = (), warmup: bool | None = None):
    """A ready GRPOTrainer for cfg: checks first, then model, rows, rewards, format warm-up and logging callbacks.

    `warmup` None runs the format warm-up only when no checkpoint will be resumed (a checkpoint already holds it).
    The resolved config is written to output_dir/config.yaml.
    """
    from datasets import Dataset
    from trl import GRPOTrainer

    from mathrl.dynamic import DynamicSamplingTrainer
    from mathrl.live import LivePlotCallback
    from mathrl.metrics import MetricsCallback
    from mathrl.models import choose_precision, load_model, lora_config
    from mathrl.rewards import build_reward_funcs
    from mathrl.warmup import format_warmup

    preflight(cfg)
    out = Path(cfg.train.output_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        save_config(cfg)
    precision = choose_precision(cfg.model.dtype)
    say(f"precision: {precision.dtype} ({precision.reason})")
    model, tokenizer, precision = load_model(cfg.model, precision)
    rows, _ = prepare_rows(cfg, tokenizer)
    funcs, _ = build_reward_funcs(cfg.rewards, cfg.data.format)
    args = grpo_args(cfg, precision)
    dynamic = {"max_extra": cfg.train.dynamic_sampling_max_extra} if cfg.train.dynamic_sampling else {}
    trainer = (DynamicSamplingTrainer if dynamic else GRPOTrainer)(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg.model),
        callbacks=[_completion_marker_callback()],
        **dynamic,
    )
    # The caller's callbacks run after the metrics log, so they see (and may stop after) a step already written.
    for callback in (
        MetricsCallback(out, cfg.train.sample_every, completion_buffer=lambda: trainer._logs, echo=say),
        LivePlotCallback(cfg.train.live_plot, title=f"{cfg.profile}: {out.name}"),
        *callbacks,
    ):
        trainer.add_callback(callback)
    if args.cache_implementation == "static":
        _enable_compiled_decoding(trainer)
    if warmup is None:
        warmup = find_checkpoint(out) is None
    if cfg.train.format_warmup_steps > 0 and (warmup or trainer.ref_model is not None):
        reference = _warmable_reference(trainer)
        # A resumed checkpoint holds the warmed policy, but TRL rebuilt the KL reference from the model's path, before
        # the warm-up: the same seeded warm-up run on the reference rebuilds it.
        target = trainer.model if warmup else reference
        losses = format_warmup(target, tokenizer, rows, cfg.format, cfg.train.format_warmup_steps,
                               cfg.train.format_warmup_lr, cfg.train.per_device_train_batch_size, cfg.train.seed,
                               cfg.train.format_warmup_direct_share)
        say(f"format warm-up{'' if warmup else ' of the KL reference'}: {len(losses)} steps, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        if warmup and reference is not None:
            reference.load_state_dict(trainer.accelerator.unwrap_model(trainer.model).state_dict())
    return trainer


def _warmable_reference(trainer):
    """TRL's KL reference as a plain module that takes the warmed weights, or None when there is no reference."""
    if trainer.ref_model is None:
        return None
    if trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled:
        raise ConfigError("train.beta > 0 with a format warm-up needs the KL reference rebuilt from the warmed model, "
                          "which sharded (DeepSpeed/FSDP) references do not allow here: set train.beta=0 or "
                          "train.format_warmup_steps=0, or launch without DeepSpeed/FSDP")
    reference = trainer.accelerator.unwrap_model(trainer.ref_model)
    reference.requires_grad_(True)  # the warm-up trains only parameters that require grad
    return reference


# --------------------------------------------------------------------------- running it


@dataclass
class TrainResult:
    output_dir: Path
    final_dir: Path
    global_step: int
    resumed_from: Path | None
    metrics_file: Path


def save_final(trainer, cfg: Config) -> Path:
    """output_dir/final: the full model, or for LoRA the merged model plus the adapter in final/adapter."""
    from mathrl.models import merge_lora

    final = Path(cfg.train.output_dir) / "final"
    target = final / "adapter" if cfg.model.lora else final
    trainer.save_model(str(target))  # every rank calls it: sharded (ZeRO-3/FSDP) weights are gathered inside
    if cfg.model.lora and trainer.is_world_process_zero():
        merge_lora(target, final)
    return final


def push_final(final: Path, cfg: Config) -> str:
    """Upload output_dir/final to the Hub: the plain (for LoRA, merged) model at the repo's root, loadable by its id.

    The trainer's own push would upload the whole output dir, for LoRA with the adapter at the root, and push again at
    every checkpoint; this pushes once, the model the evaluator loads.
    """
    from huggingface_hub import HfApi

    repo_id = cfg.train.hub_model_id or Path(cfg.train.output_dir).name
    try:
        api = HfApi()
        repo_id = api.create_repo(repo_id, exist_ok=True).repo_id
        api.upload_folder(repo_id=repo_id, folder_path=str(final), commit_message=f"mathrl {cfg.profile} run")
    except Exception as error:  # network, token or permission: the trained model is already safe on disk
        raise MathrlError(f"pushing {final} to the Hub as {repo_id!r} failed ({type(error).__name__}: {error}); the model "
                          f"is saved there: log in with `hf auth login` and run `hf upload {repo_id} {final}`") from error
    return repo_id


def train(cfg: Config, callbacks: tuple = ()) -> TrainResult:
    """Build, resume from the newest complete checkpoint when there is one, train to max_steps, save output_dir/final."""
    from mathrl.metrics import METRICS_FILE, truncate_after

    out = Path(cfg.train.output_dir)
    preflight(cfg)
    checkpoint = find_checkpoint(out)
    step = checkpoint_step(checkpoint)
    if int(os.environ.get("RANK", "0")) == 0:
        removed = remove_incomplete(out)
        if removed:
            say(f"ignoring half-written {', '.join(sorted(removed))}")
        truncate_after(out, step)
    if checkpoint is not None:
        say(f"resuming from {checkpoint} (step {step} of {cfg.train.max_steps})")
    trainer = build_trainer(cfg, callbacks, warmup=checkpoint is None)
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    final = save_final(trainer, cfg)
    if cfg.train.push_to_hub and trainer.is_world_process_zero():
        say(f"pushed {final} to https://huggingface.co/{push_final(final, cfg)}")
    say(f"done: step {trainer.state.global_step}, final model in {final}")
    return TrainResult(out, final, trainer.state.global_step, checkpoint, out / METRICS_FILE)


def add_train_arguments(parser) -> None:
    parser.add_argument("--output-dir", help="checkpoints, metrics and the final model (default: train.output_dir)")
    parser.add_argument("--max-steps", type=int, help="optimizer steps (default: train.max_steps)")


def apply_train_arguments(args, cfg: Config) -> Config:
    if args.output_dir:
        cfg.train.output_dir = args.output_dir
    if args.max_steps:
        cfg.train.max_steps = args.max_steps
    return validate(cfg)


def run_train(args, cfg: Config) -> int:
    train(apply_train_arguments(args, cfg))
    return 0
