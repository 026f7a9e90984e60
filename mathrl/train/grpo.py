"""GRPO training: one builder from a Config to TRL's GRPOTrainer; resumes from the newest complete checkpoint in its dir.

    mathrl train --profile cpu-smoke --output-dir runs/smoke --max-steps 2
    torchrun --nproc_per_node 2 -m mathrl train --profile kaggle-2xt4 --output-dir runs/k
    accelerate launch --config_file mathrl/accelerate_configs/multi_gpu.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/k
    accelerate launch --config_file mathrl/accelerate_configs/zero2.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/z2
    accelerate launch --config_file mathrl/accelerate_configs/zero3.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/z3
    accelerate launch --config_file mathrl/accelerate_configs/fsdp.yaml -m mathrl train --profile kaggle-2xt4 --output-dir runs/fsdp
    python -c "from mathrl.train.launch import launch_training; launch_training('kaggle-2xt4')"   # from a notebook cell

Run the same command again with the same --output-dir to resume after a dead session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mathrl import jsonl
from mathrl.config import Config, option_type, validate
from mathrl.errors import ConfigError, MathrlError
from mathrl.notices import quiet_third_party
from mathrl.train.tracking import check_tracker, run_name

CONFIG_FILE = "config.yaml"
COMPLETE_MARKER = "mathrl_complete"
STARTED_MARKER = "mathrl_started"
FINAL_DIR = "final"
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
        part = data.get(section)
        out[key] = (part.get(name) if isinstance(part, dict) else None) if name else part
    return out


def check_output_dir(cfg: Config) -> None:
    """Refuse an output dir that is not a writable folder, or whose config.yaml belongs to a different run."""
    import yaml

    out = Path(cfg.train.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"train.output_dir {out} is a file, not a folder: pass a folder with --output-dir")
    existing = next((p for p in (out, *out.parents) if p.exists()), out)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"train.output_dir {out}: {existing} is not writable; pass a folder you can write with "
                          "--output-dir")
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not a readable mathrl config ({type(err).__name__}); this folder holds "
                          "something else: pass a new --output-dir") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a mathrl config (a {type(data).__name__}, not a mapping): pass a new "
                          "--output-dir")
    old, new = _identity(data), _identity(cfg.to_dict())
    changed = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in IDENTITY_KEYS if old[k] != new[k]]
    if changed:
        raise ConfigError(
            f"{cfg.train.output_dir} holds another run ({'; '.join(changed)}); resuming it would mix two runs. "
            "Pass a new --output-dir, or delete the old one to start over"
        )


def check_context(cfg: Config) -> None:
    from mathrl.models import model_context_length

    t = cfg.train
    context = model_context_length(cfg.model.name)
    if context is not None and t.max_prompt_length + t.max_completion_length > context:
        raise ConfigError(
            f"train.max_prompt_length + train.max_completion_length = {t.max_prompt_length} + "
            f"{t.max_completion_length} exceeds {cfg.model.name}'s context of {context} tokens; lower one of them"
        )


# accelerate runs FSDP and DeepSpeed only on GPUs: on CPU (its MULTI_CPU mode) it drops FSDP without a word and
# trains plain DDP, and its DeepSpeed launcher needs CUDA. `accelerate launch` names the engine in these variables.
GPU_ONLY_ENGINES = {"FSDP": "ACCELERATE_USE_FSDP", "DEEPSPEED": "ACCELERATE_USE_DEEPSPEED"}


def check_engine(engine: str | None = None) -> None:
    """Refuse FSDP or DeepSpeed (engine, else the one `accelerate launch` set in the environment) without a CUDA GPU."""
    import torch

    if engine is None:
        engine = next((name for name, var in GPU_ONLY_ENGINES.items() if os.environ.get(var, "").lower() == "true"),
                      None)
    if engine in GPU_ONLY_ENGINES and not torch.cuda.is_available():
        raise MathrlError(f"{engine} needs a CUDA GPU and none is visible: on CPU accelerate would train plain DDP "
                          "instead (FSDP) or not start (DeepSpeed); on CPU launch with accelerate_configs/multi_gpu.yaml")


def check_environment(cfg: Config) -> None:
    import torch

    t = cfg.train
    check_engine()
    if t.require_gpu and not torch.cuda.is_available():
        raise MathrlError(
            f"profile {cfg.profile!r} needs a CUDA GPU and none is visible: enable the GPU (Colab: Runtime > Change "
            "runtime type; Kaggle: Settings > Accelerator), or use --profile cpu-smoke / --set train.require_gpu=false"
        )
    for wanted, package, pip in ((t.use_vllm, "vllm", "vllm"), (t.use_liger_kernel, "liger_kernel", "liger-kernel")):
        if wanted and importlib.util.find_spec(package) is None:
            raise MathrlError(f"{'train.use_vllm' if package == 'vllm' else 'train.use_liger_kernel'}=true needs "
                              f"`pip install {pip}`; or turn it off with --set train.{'use_vllm' if package == 'vllm' else 'use_liger_kernel'}=false")
    check_tracker(t.report_to)
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
# mathrl owns only the checkpoint-N folders it marked: STARTED_MARKER goes in before the Trainer writes (on_step_end,
# when a save is due), COMPLETE_MARKER after the whole save returned (on_save), with every file's size. Any other
# folder in the output dir (a plain TRL run's checkpoint-500, a user's checkpoint-best) is never read, rotated,
# overwritten or deleted; mathrl rotates its own checkpoints because transformers' rotation would delete those too.


def _step(folder: Path) -> int | None:
    tail = folder.name.removeprefix("checkpoint-")
    return int(tail) if folder.name.startswith("checkpoint-") and tail.isdigit() else None


def is_ours(checkpoint: Path) -> bool:
    """mathrl wrote this folder: it carries the started or the complete marker."""
    return (checkpoint / STARTED_MARKER).is_file() or (checkpoint / COMPLETE_MARKER).is_file()


def is_complete(checkpoint: Path) -> bool:
    """Trainer state, weights and our marker (written after the whole save returned) are all present."""
    return (
        (checkpoint / "trainer_state.json").is_file()
        and (checkpoint / COMPLETE_MARKER).is_file()
        and any((checkpoint / name).is_file() for name in WEIGHT_FILES)
    )


def _file_sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (STARTED_MARKER, COMPLETE_MARKER)}


def mark_complete(folder: Path, step: int) -> None:
    """COMPLETE_MARKER with the step and every file's size, so a later truncation is seen before resuming."""
    marker = {"step": step, "files": _file_sizes(folder)}
    jsonl.write_atomically(folder / COMPLETE_MARKER, json.dumps(marker, indent=1))
    (folder / STARTED_MARKER).unlink(missing_ok=True)


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why a complete-marked checkpoint cannot be resumed (a file missing, truncated or unreadable), or None."""
    from mathrl.models import weights_problem

    if not is_complete(checkpoint):
        return "trainer_state.json, weights or the completion marker missing"
    try:
        marker = json.loads((checkpoint / COMPLETE_MARKER).read_text())
        json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        return f"unreadable trainer state or marker ({type(err).__name__})"
    recorded = marker.get("files", {}) if isinstance(marker, dict) else {}  # older markers hold only the step
    for name, size in recorded.items():
        path = checkpoint / name
        actual = path.stat().st_size if path.is_file() else None
        if actual != size:
            return f"{name}: {'missing' if actual is None else f'{actual} bytes'}, {size} were written"
    return weights_problem(checkpoint)


def find_checkpoint(output_dir: str | Path, skipped: list | None = None) -> Path | None:
    """The newest of mathrl's complete checkpoints in output_dir that passes checkpoint_problem.

    Half-written ones (killed mid-save) and foreign folders are never picked; damaged complete ones are appended to
    `skipped` as (folder, problem) when a list is given.
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    marked = [p for p in folder.glob("checkpoint-*") if _step(p) is not None and (p / COMPLETE_MARKER).is_file()]
    for candidate in sorted(marked, key=_step, reverse=True):
        problem = checkpoint_problem(candidate)
        if problem is None:
            return candidate
        if skipped is not None:
            skipped.append((candidate, problem))
    return None


def checkpoint_step(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])


def foreign_folders(output_dir: str | Path) -> list[Path]:
    """checkpoint-* folders in output_dir that mathrl did not mark: left alone, never deleted or resumed."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("checkpoint-*") if p.is_dir() and not is_ours(p))


def save_steps_ahead(cfg: Config, start: int) -> list[int]:
    """The steps after `start` at which this run will save a checkpoint (every save_steps, and the last step)."""
    t = cfg.train
    every = range(t.save_steps, t.max_steps + 1, t.save_steps) if t.save_steps > 0 else ()
    return sorted({s for s in every if s > start} | ({t.max_steps} if t.max_steps > start else set()))


def check_foreign_files(cfg: Config, start: int) -> list[Path]:
    """Refuse when this run would write into a folder or file mathrl did not write; returns the foreign checkpoint
    folders it will leave alone."""
    from mathrl.train.metrics import METRICS_FILE, SAMPLES_FILE, SUMMARY_FILE, WARNINGS_FILE

    out = Path(cfg.train.output_dir)
    foreign = foreign_folders(out)
    clash = [p.name for p in foreign if _step(p) in save_steps_ahead(cfg, start)]
    if not (out / CONFIG_FILE).is_file():  # no mathrl run here yet, so its log and final files are someone else's
        clash += [name for name in (METRICS_FILE, SAMPLES_FILE, WARNINGS_FILE, SUMMARY_FILE, FINAL_DIR)
                  if (out / name).exists() and not (out / name / COMPLETE_MARKER).is_file()]
    if clash:
        raise ConfigError(f"{out} holds {', '.join(clash)}, not written by mathrl, which this run would overwrite: "
                          "move them away or pass a new --output-dir")
    return foreign


def _checkpoint_callback(limit: int | None):
    from transformers import TrainerCallback

    class Checkpoints(TrainerCallback):
        """Marks mathrl's checkpoints as started and complete, and keeps the newest `limit` of them."""

        def on_step_end(self, args, state, control, **kwargs):
            # Runs after transformers' DefaultFlowCallback decided on a save, before the Trainer writes anything.
            if control.should_save and state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / COMPLETE_MARKER).unlink(missing_ok=True)
                (folder / STARTED_MARKER).write_text(str(state.global_step))

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and (folder / STARTED_MARKER).is_file():
                mark_complete(folder, state.global_step)
                rotate_checkpoints(args.output_dir, limit, keep=state.best_model_checkpoint)

    return Checkpoints()


def rotate_checkpoints(output_dir: str | Path, limit: int | None, keep: str | Path | None = None) -> list[str]:
    """Delete mathrl's oldest complete checkpoints beyond `limit` (the newest and `keep` always stay)."""
    if not limit or limit <= 0:
        return []
    ours = sorted((p for p in Path(output_dir).glob("checkpoint-*") if _step(p) is not None
                   and (p / COMPLETE_MARKER).is_file()), key=_step)
    protected = {ours[-1]} | ({Path(keep)} if keep else set()) if ours else set()
    removed = []
    for folder in ours:
        if len(ours) - len(removed) <= max(limit, len(protected)):
            break
        if folder not in protected:
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed


def remove_stale(output_dir: str | Path, resume_step: int) -> list[str]:
    """Delete mathrl's own half-written checkpoints, and its damaged ones past the step resumed from (the run saves
    those steps again); folders without mathrl's markers are never touched."""
    removed = []
    for folder in Path(output_dir).glob("checkpoint-*"):
        step = _step(folder)
        if step is None or not folder.is_dir() or not is_ours(folder):
            continue
        half_written = not (folder / COMPLETE_MARKER).is_file()
        if half_written or (step > resume_step and checkpoint_problem(folder) is not None):
            shutil.rmtree(folder)
            removed.append(folder.name)
    return sorted(removed)


def finished_step(output_dir: str | Path) -> int | None:
    """The step output_dir/final was saved at, when mathrl marked it complete (None otherwise)."""
    marker = Path(output_dir) / FINAL_DIR / COMPLETE_MARKER
    try:
        return int(json.loads(marker.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
        save_total_limit=None,  # mathrl rotates its own checkpoints: transformers' rotation deletes foreign folders
        report_to=t.report_to,
        run_name=run_name(cfg),
        project=t.project,
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


def prepare_rows(cfg: Config, tokenizer, rows: list[dict] | None = None) -> tuple[list[dict], list[str]]:
    """Training rows whose prompt fits train.max_prompt_length tokens, and the ids dropped (TRL 1.16 cannot truncate)."""
    from mathrl.data.load import drop_long_prompts, load_rows

    rows = load_rows(cfg.data, cfg.data.split) if rows is None else rows
    budget = min(cfg.train.max_prompt_length, cfg.data.max_prompt_tokens or cfg.train.max_prompt_length)
    kept, dropped = drop_long_prompts(rows, tokenizer, budget)
    say(f"data: {len(kept)} prompts kept, {len(dropped)} dropped as longer than {budget} tokens")
    if not kept:
        raise ConfigError(f"every prompt is longer than {budget} tokens: raise train.max_prompt_length")
    return kept, dropped


def build_trainer(cfg: Config, callbacks: tuple = (), warmup: bool | None = None, rows: list[dict] | None = None):
    """A ready GRPOTrainer for cfg: checks first, then model, rows, rewards, format warm-up and logging callbacks.

    `warmup` None runs the format warm-up only when no checkpoint will be resumed (a checkpoint already holds it).
    `rows` are the loaded data rows (None: load them here, before anything is written). The resolved config is
    written to output_dir/config.yaml.
    """
    quiet_third_party(four_bit=cfg.model.load_in_4bit)  # before TRL, whose import loads peft and bitsandbytes
    from datasets import Dataset
    from trl import GRPOTrainer

    from mathrl.data.load import load_rows
    from mathrl.models import choose_precision, load_model, lora_config
    from mathrl.rewards import build_reward_funcs
    from mathrl.train.dynamic import DynamicSamplingTrainer
    from mathrl.train.heldout import heldout_callback
    from mathrl.train.live import LivePlotCallback
    from mathrl.train.metrics import MetricsCallback
    from mathrl.train.warmup import format_warmup

    preflight(cfg)
    rows = load_rows(cfg.data, cfg.data.split) if rows is None else rows
    out = Path(cfg.train.output_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        save_config(cfg)
    precision = choose_precision(cfg.model.dtype)
    say(f"precision: {precision.dtype} ({precision.reason})")
    model, tokenizer, precision = load_model(cfg.model, precision)
    rows, _ = prepare_rows(cfg, tokenizer, rows)
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
        callbacks=[_checkpoint_callback(cfg.train.save_total_limit)],
        **dynamic,
    )
    # The caller's callbacks run after the metrics log, so they see (and may stop after) a step already written.
    for callback in (
        MetricsCallback(out, cfg.train.sample_every, completion_buffer=lambda: trainer._logs, echo=say),
        LivePlotCallback(cfg.train.live_plot, title=f"{cfg.profile}: {out.name}", output_dir=out),
        *callbacks,
    ):
        trainer.add_callback(callback)
    heldout = heldout_callback(cfg, rows, echo=say)
    if heldout is not None:
        # First of all callbacks: it adds its figures to the step's log, which every logger then sees (and it forces
        # the log and, for a new best, the checkpoint that the default flow would otherwise skip at that step).
        trainer.callback_handler.callbacks.insert(0, heldout)
    if args.cache_implementation == "static":
        _enable_compiled_decoding(trainer)
    if warmup is None:
        warmup = find_checkpoint(out) is None
    if cfg.train.format_warmup_steps > 0 and (warmup or trainer.ref_model is not None):
        reference = _warmable_reference(trainer)
        # A resumed checkpoint holds the warmed policy, but TRL rebuilt the KL reference from the model's path, before
        # the warm-up: the same seeded warm-up run on the reference rebuilds it.
        target = trainer.model if warmup else reference
        if warmup and heldout is not None:  # the base model's score, so the curve shows what the warm-up gave
            heldout.score_before_warmup(trainer.state, trainer.model, tokenizer)
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


def save_final(trainer, cfg: Config, step: int | None = None) -> Path:
    """output_dir/final: the full model, or for LoRA the merged model plus the adapter in final/adapter; marked
    complete with its step once written, so a rerun with the same train.max_steps knows the run is finished."""
    from mathrl.models import merge_lora

    final = Path(cfg.train.output_dir) / FINAL_DIR
    if trainer.is_world_process_zero():
        (final / COMPLETE_MARKER).unlink(missing_ok=True)
    target = final / "adapter" if cfg.model.lora else final
    trainer.save_model(str(target))  # every rank calls it: sharded (ZeRO-3/FSDP) weights are gathered inside
    if trainer.is_world_process_zero():
        if cfg.model.lora:
            merge_lora(target, final)
        mark_complete(final, trainer.state.global_step if step is None else step)
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
    """Build, resume from the newest complete checkpoint when there is one, train to max_steps, save output_dir/final.

    Every check, the data load included, runs before the output dir is touched; a run already finished at
    train.max_steps changes nothing.
    """
    from mathrl.data.load import load_rows
    from mathrl.train.metrics import METRICS_FILE, truncate_after

    out = Path(cfg.train.output_dir)
    preflight(cfg)
    done = finished_step(out)
    if done is not None and done >= cfg.train.max_steps:
        say(f"{out} is already finished at step {done} (train.max_steps {cfg.train.max_steps}); nothing changed. "
            "Pass a larger --max-steps to train on, or a new --output-dir")
        return TrainResult(out, out / FINAL_DIR, done, None, out / METRICS_FILE)
    skipped = []
    checkpoint = find_checkpoint(out, skipped)
    step = checkpoint_step(checkpoint)
    foreign = check_foreign_files(cfg, step)
    rows = load_rows(cfg.data, cfg.data.split)
    for folder, problem in skipped:
        say(f"skipping damaged {folder.name} ({problem}); "
            f"{'resuming from ' + checkpoint.name if checkpoint else 'starting from step 0'}")
    if foreign:
        say(f"leaving {', '.join(p.name for p in foreign)} alone: not written by mathrl")
    if int(os.environ.get("RANK", "0")) == 0:
        removed = remove_stale(out, step)
        if removed:
            say(f"removing mathrl's unfinished {', '.join(removed)}")
        truncate_after(out, step)
    if checkpoint is not None:
        say(f"resuming from {checkpoint} (step {step} of {cfg.train.max_steps})")
    trainer = build_trainer(cfg, callbacks, warmup=checkpoint is None, rows=rows)
    if step >= cfg.train.max_steps:  # trained to the end, stopped before final/ was saved: save it, train no further
        from transformers import TrainerState

        trainer._load_from_checkpoint(str(checkpoint))
        trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))  # which step was best
    else:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    step = max(step, trainer.state.global_step)
    if trainer.is_world_process_zero():  # written before final/ is marked complete, so its size is recorded too
        from mathrl.train.heldout import write_selection

        say(write_selection(trainer.state, cfg, out / FINAL_DIR, step)["why"])
    final = save_final(trainer, cfg, step)
    if cfg.train.push_to_hub and trainer.is_world_process_zero():
        say(f"pushed {final} to https://huggingface.co/{push_final(final, cfg)}")
    say(f"done: step {step}, final model in {final}")
    return TrainResult(out, final, step, checkpoint, out / METRICS_FILE)


def add_train_arguments(parser) -> None:
    parser.add_argument("--output-dir", help="checkpoints, metrics and the final model (default: train.output_dir)")
    parser.add_argument("--max-steps", type=option_type("train.max_steps"), help="optimizer steps (default: train.max_steps)")


def apply_train_arguments(args, cfg: Config) -> Config:
    if args.output_dir:
        cfg.train.output_dir = args.output_dir
    if args.max_steps:
        cfg.train.max_steps = args.max_steps
    return validate(cfg)


def run_train(args, cfg: Config) -> int:
    train(apply_train_arguments(args, cfg))
    return 0
