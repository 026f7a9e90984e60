"""Will a GRPO run fit on a GPU, and how long will one optimizer step take: estimated from the model's config alone.

    mathrl plan --profile kaggle-2xt4 --gpu T4
    mathrl plan --profile colab-t4 --set train.gradient_checkpointing=false   # prints the smallest change that fits
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from mathrl.config import Config, apply_overrides, option_type
from mathrl.errors import ConfigError
from mathrl.hardware import GiB, GPUSpec, ModelSpec, gpu_spec, match_device, model_spec

MARGIN = 0.10  # free memory a plan keeps: allocator growth and prompt-length outliers eat into the estimate
RUNTIME_BYTES = int(0.45 * GiB)  # CUDA context and cuBLAS workspace, outside torch's allocator (on CPU: libraries)
FRAGMENTATION = 0.05  # the caching allocator holds rounded blocks: reserved runs a few percent above live tensors
# TRL 1.16 scores tokens with a fused, tiled LM head (trl/kernels/chunked_logprob.py): one tile of logits is live
HEAD_TILE_TOKENS, HEAD_TILE_VOCAB = 4096, 32768
CPU_HEAD_TILE_COPIES = 8.25  # _backward_tile: buffer, y, z, log_p, p, grad, is_target (bool), 1[target] - p, product
# Eager decoding is bound by kernel launches: ~45 kernels per layer at ~22 us each, plus sampling. Fits the 26 ms per
# decode step measured for Qwen2.5-0.5B (24 layers) with 8 rows on an H100.
KERNELS_PER_LAYER, LAUNCH_S, DECODE_FIXED_S = 45, 22e-6, 2.5e-3
# Static cache + compiled decoding (fullgraph=False, so graph breaks keep some launches): 1.84x per decode step in the
# issue's measurement; bench/results/grpo_speed_gpu.json implies 1.7x on generation (10.2 vs 15.2 s per step).
STATIC_CACHE_SPEEDUP = 1.8
BANDWIDTH_EFFICIENCY = 0.7
# Fraction of peak FLOP/s a small model's training reaches; fp32 fits the 0.7 s of training in the H100 measurement
TRAIN_EFFICIENCY = {"float32": 0.5, "float16": 0.35, "bfloat16": 0.35}
INTERCONNECT_GBS = 10  # PCIe all-reduce between data-parallel GPUs (Kaggle's T4s have no NVLink)
NF4_BYTES = 0.5 + 4 / 64  # 4-bit weights plus one fp32 scale per 64-weight block
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass
class Plan:
    """Per-device memory terms in bytes, step time in seconds, and the verdict.

    `phases` holds the live tensor bytes at each candidate peak, `resident` the part that lives through all of them;
    `peak` adds allocator slack and the runtime, so `peak - runtime` is what torch.cuda.max_memory_reserved reports."""

    model: str
    gpu: str
    dtype: str
    processes: int
    rows_per_generate: int
    micro_batch_tokens: int
    weights: int
    gradients: int
    optimizer: int
    reference: int
    ddp_buckets: int
    activations: int
    activations_checkpointed: int
    activations_full: int
    logits: int
    logits_unfused: int
    kv_cache: int
    static_cache: int
    runtime: int
    allocator_slack: int
    resident: int
    phases: dict[str, int]
    peak: int
    peak_phase: str
    budget: int
    fits: bool
    margin: float
    decode_step_s: float
    decode_bound: str
    generation_s: float
    training_s: float
    step_s: float
    suggestion: str | None = None


def resolve_dtype(cfg: Config, gpu: GPUSpec) -> str:
    dtype = cfg.model.dtype
    if dtype == "auto":
        return "bfloat16" if gpu.bf16 else "float32"
    if dtype == "bfloat16" and not gpu.bf16 and not gpu.is_cpu:
        raise ConfigError(f"model.dtype=bfloat16: the {gpu.name} has no bf16 (compute capability {gpu.capability}); "
                          "use float32 or auto")
    return dtype


def _lora_params(cfg: Config, m: ModelSpec) -> int:
    targets = cfg.model.lora_target_modules
    wanted = set(m.linear_shapes) if targets == "all-linear" else {t.strip() for t in targets.split(",")}
    per_layer = sum(cfg.model.lora_r * (a + b) for name, (a, b) in m.linear_shapes.items() if name in wanted)
    return m.layers * per_layer


def _layer_saved_bytes(m: ModelSpec, b: int) -> int:
    """Bytes per token one decoder layer keeps for backward (SDPA attention: nothing quadratic in sequence length)."""
    norms = 2 * (4 + 2 * b) * m.hidden  # RMSNorm upcasts its input to fp32, keeps it and the scaled output
    attention = 5 * m.q_dim * b  # roped q, k and v repeated to all heads, output, output re-laid-out for o_proj
    mlp = 4 * m.intermediate * b  # gate, SiLU(gate), up and their product
    return norms + attention + mlp


def _layer_work_bytes(m: ModelSpec, b: int) -> int:
    """Bytes per token of transient tensors while one layer runs (MLP intermediates and their gradients)."""
    return (3 * m.intermediate + 2 * m.hidden) * b


def _memory(cfg: Config, m: ModelSpec, gpu: GPUSpec, dtype: str) -> dict:
    t, b = cfg.train, DTYPE_BYTES[dtype]
    lora = cfg.model.lora
    if cfg.model.load_in_4bit:
        weights = int(m.layers * m.layer_linear_params * NF4_BYTES) + (m.params - m.layers * m.layer_linear_params) * b
    else:
        weights = m.params * b
    # PEFT upcasts adapters to fp32; AdamW keeps m and v in each trained parameter's dtype
    trainable, train_bytes = (_lora_params(cfg, m), 4) if lora else (m.params, b)
    weights += trainable * 4 if lora else 0
    gradients = trainable * train_bytes
    processes = max(t.num_processes, 1)
    seq = t.max_prompt_length + t.max_completion_length
    tokens = t.per_device_train_batch_size * seq
    # Triton scores only completion positions; without it (CPU) every position goes through the head
    scored = tokens if gpu.is_cpu else t.per_device_train_batch_size * t.max_completion_length
    outside = (4 + 3 * b) * m.hidden  # final norm and the hidden states the fused head keeps
    saved_ckpt = tokens * (m.layers * m.hidden * b + outside)
    saved_full = tokens * (m.layers * _layer_saved_bytes(m, b) + outside)
    work = tokens * _layer_work_bytes(m, b)
    recompute = tokens * _layer_saved_bytes(m, b)
    # Triton folds each logits tile in place; TRL's torch fallback (CPU) holds ~8 fp32 copies of the tile in backward
    tile_bytes = CPU_HEAD_TILE_COPIES * 4 if gpu.is_cpu else b
    head = int(min(scored, HEAD_TILE_TOKENS) * min(m.vocab, HEAD_TILE_VOCAB) * tile_bytes) + scored * m.hidden * 4
    head_grad = 0 if lora else m.vocab * m.hidden * 4  # the fused head accumulates its weight gradient in fp32
    generate_every = t.steps_per_generation or t.gradient_accumulation_steps
    rows = t.per_device_train_batch_size * generate_every
    cache = rows * seq * m.layers * 2 * m.kv_dim * b
    prefill = rows * t.max_prompt_length * _layer_work_bytes(m, b) + 3 * rows * m.vocab * 4
    # a reference model, or generation out of step with optimizer steps, adds a no-grad scoring pass
    needs_scoring = t.beta > 0 or t.gradient_accumulation_steps % generate_every
    scoring = (work + head) if needs_scoring else 0
    terms = dict(
        weights=weights, gradients=gradients, optimizer=2 * trainable * train_bytes,
        reference=weights if t.beta > 0 and not lora else 0,
        ddp_buckets=gradients if processes > 1 else 0,  # DDP copies gradients into its own buckets
        activations_checkpointed=saved_ckpt + recompute + work, activations_full=saved_full + work,
        logits=head, logits_unfused=2 * scored * m.vocab * 4,
        kv_cache=0 if t.static_cache else cache, static_cache=cache if t.static_cache else 0,
    )
    saved = saved_ckpt if t.gradient_checkpointing else saved_full
    terms["activations"] = terms["activations_checkpointed" if t.gradient_checkpointing else "activations_full"]
    resident = weights + terms["reference"] + terms["optimizer"] + terms["ddp_buckets"]
    phases = {
        "generation": resident + max(cache + prefill, scoring),
        "backward start": resident + head_grad + saved + head,
        "backward end": resident + gradients + work + (recompute if t.gradient_checkpointing else 0),
    }
    phase = max(phases, key=phases.get)
    slack = int(phases[phase] * FRAGMENTATION)
    terms.update(runtime=RUNTIME_BYTES, allocator_slack=slack, resident=resident, phases=phases,
                 peak=phases[phase] + slack + RUNTIME_BYTES, peak_phase=phase, processes=processes,
                 rows_per_generate=rows, micro_batch_tokens=tokens)
    return terms


def _timing(cfg: Config, m: ModelSpec, gpu: GPUSpec, dtype: str, weights: int, rows: int) -> dict:
    t, b = cfg.train, DTYPE_BYTES[dtype]
    flops = gpu.tflops(dtype) * 1e12 * TRAIN_EFFICIENCY[dtype]
    kv_read = rows * (t.max_prompt_length + t.max_completion_length / 2) * m.layers * 2 * m.kv_dim * b
    bounds = {
        "bandwidth": (weights + kv_read) / (gpu.bandwidth_gbs * 1e9 * BANDWIDTH_EFFICIENCY),
        "compute": 2 * m.matmul_params * rows / flops,
        "launch": (DECODE_FIXED_S + m.layers * KERNELS_PER_LAYER * LAUNCH_S) / (STATIC_CACHE_SPEEDUP if t.static_cache else 1),
    }
    bound = max(bounds, key=bounds.get)
    prefill = 2 * m.matmul_params * rows * t.max_prompt_length / flops
    steps_per_generation = t.steps_per_generation or t.gradient_accumulation_steps
    calls = t.gradient_accumulation_steps / steps_per_generation  # generate calls per optimizer step
    generation = (prefill + t.max_completion_length * bounds[bound]) * calls
    seq = t.max_prompt_length + t.max_completion_length
    tokens = t.per_device_train_batch_size * seq
    forward = 2 * m.matmul_params * tokens + 2 * m.layers * m.q_dim * seq * tokens  # causal attention: half of s^2
    backward = forward if cfg.model.lora else 2 * forward  # frozen weights need input gradients only
    extra = (t.gradient_checkpointing + (t.beta > 0)
             + bool(t.gradient_accumulation_steps % steps_per_generation)) * forward
    training = t.gradient_accumulation_steps * (forward + backward + extra) / flops
    trainable_bytes = (_lora_params(cfg, m) * 4) if cfg.model.lora else m.params * b
    allreduce = trainable_bytes / (INTERCONNECT_GBS * 1e9) if max(t.num_processes, 1) > 1 else 0.0
    return dict(decode_step_s=bounds[bound], decode_bound=bound, generation_s=generation,
                training_s=training + allreduce, step_s=generation + training + allreduce)


def _estimate(cfg: Config, gpu: GPUSpec, spec: ModelSpec, memory_gib: float | None) -> Plan:
    dtype = resolve_dtype(cfg, gpu)
    memory = _memory(cfg, spec, gpu, dtype)
    budget = int((memory_gib or gpu.memory_gib) * GiB)
    timing = _timing(cfg, spec, gpu, dtype, memory["weights"], memory["rows_per_generate"])
    margin = 1 - memory["peak"] / budget
    return Plan(model=spec.name, gpu=gpu.name, dtype=dtype, budget=budget, fits=margin >= MARGIN, margin=margin,
                **memory, **timing)


def _candidates(cfg: Config) -> list[dict]:
    """Changes in order of least harm: checkpointing, smaller batch, shorter completions, LoRA, then 4-bit + LoRA."""
    t = cfg.train
    group_rows = t.steps_per_generation or t.gradient_accumulation_steps
    batches = [{"train.per_device_train_batch_size": n} for n in range(t.per_device_train_batch_size - 1, 0, -1)
               if (n * group_rows) % t.num_generations == 0]
    lengths = [{"train.max_completion_length": n} for n in (384, 256, 192, 128) if n < t.max_completion_length]
    lora = [] if cfg.model.lora else [{"model.lora": True}]
    quant = [] if cfg.model.load_in_4bit else [{"model.lora": True, "model.load_in_4bit": True}]
    singles = batches + lengths + lora + quant
    ckpt = {} if t.gradient_checkpointing else {"train.gradient_checkpointing": True}
    first = [ckpt] if ckpt else []
    combos = [{**ckpt, **change} for change in singles] if ckpt else []
    squeezed = [{**ckpt, **quant[0], **change} for change in batches + lengths] if quant else []
    return first + singles + combos + squeezed


def _suggest(cfg: Config, gpu: GPUSpec, spec: ModelSpec, memory_gib: float | None) -> str:
    for change in _candidates(cfg):
        trial = apply_overrides(copy.deepcopy(cfg), change)
        if _estimate(trial, gpu, spec, memory_gib).fits:
            return " ".join(f"--set {key}={str(value).lower()}" for key, value in change.items())
    return "nothing tried fits: use a smaller model or a larger GPU"


def default_gpu(cfg: Config) -> str:
    """The local GPU when torch sees one, else a T4 for a GPU profile, else this machine's RAM ("cpu")."""
    from mathrl.env import gpus

    local = gpus()
    if local:
        spec = match_device(local[0].name, local[0].memory_gib)
        if spec is None:
            raise ConfigError(f"no figures for the local GPU {local[0].name!r}: pass --gpu with the closest of "
                              "T4, P100, L4, A10G, A100-40GB, A100-80GB, H100, H200")
        return spec.name
    return "T4" if cfg.train.require_gpu else "cpu"


def plan_run(cfg: Config, gpu: str | None = "T4", model: str | None = None, memory_gib: float | None = None) -> Plan:
    """Estimate per-device peak memory and step time of `cfg` on `gpu` (None = `default_gpu`); `memory_gib` caps the
    device memory, e.g. 15 for a run limited by `torch.cuda.set_per_process_memory_fraction`."""
    device = gpu_spec(gpu or default_gpu(cfg))
    spec = model_spec(model or cfg.model.name)
    plan = _estimate(cfg, device, spec, memory_gib)
    if not plan.fits:
        plan.suggestion = _suggest(cfg, device, spec, memory_gib)
    return plan


def _gib(n: int) -> str:
    return f"{n / GiB:6.2f} GiB"


def format_plan(plan: Plan) -> str:
    """A plain-text table of the memory terms, the verdict and the step time."""
    device = "RAM" if plan.gpu == "cpu" else "per GPU"
    ckpt = plan.activations == plan.activations_checkpointed
    rows = [
        (f"weights ({plan.dtype})", plan.weights),
        ("gradients", plan.gradients),
        ("optimizer state (AdamW m, v)", plan.optimizer),
        ("reference model (beta > 0)", plan.reference),
        ("DDP gradient buckets", plan.ddp_buckets),
        (f"activations, checkpointing on{'  <' if ckpt else ''}", plan.activations_checkpointed),
        (f"activations, checkpointing off{'' if ckpt else '  <'}", plan.activations_full),
        (f"logits tile (fused; unfused would be {plan.logits_unfused / GiB:.1f} GiB)", plan.logits),
        (f"KV cache, {plan.rows_per_generate} rows per generate", plan.kv_cache),
        ("static KV cache", plan.static_cache),
        ("allocator slack", plan.allocator_slack),
        ("CUDA context" if plan.gpu != "cpu" else "torch runtime", plan.runtime),
    ]
    lines = [f"{plan.model} on {plan.gpu} ({device}), {plan.processes} process(es), "
             f"{plan.micro_batch_tokens} tokens per micro-batch"]
    lines += [f"  {label:<52} {_gib(value)}" for label, value in rows if value]
    lines.append(f"  {'peak (during ' + plan.peak_phase + ')':<52} {_gib(plan.peak)}  of {_gib(plan.budget).strip()}")
    if plan.fits:
        lines.append(f"verdict: fits, {plan.margin:.0%} free")
    else:
        short = "over budget" if plan.margin < 0 else f"under the {MARGIN:.0%} margin"
        lines.append(f"verdict: does not fit ({short}); try: {plan.suggestion}")
    lines.append(f"time per optimizer step: {plan.step_s:.1f} s = generation {plan.generation_s:.1f} s "
                 f"({plan.decode_step_s * 1e3:.0f} ms per decode step, {plan.decode_bound}-bound) "
                 f"+ training {plan.training_s:.1f} s")
    return "\n".join(lines)


def add_plan_arguments(parser) -> None:
    parser.add_argument("--model", help="model name, alias or local folder (default: the profile's model.name)")
    parser.add_argument("--gpu", help="T4, P100, L4, A10G, A100-40GB, A100-80GB, H100, H200 or cpu "
                                      "(default: the local GPU, else T4 for a GPU profile, else cpu)")
    parser.add_argument("--memory-gib", type=option_type(float, above=0), help="cap the device memory, e.g. to plan for a shared GPU")


def run_plan(args, cfg: Config) -> int:
    print(format_plan(plan_run(cfg, gpu=args.gpu, model=args.model, memory_gib=args.memory_gib)))
    return 0
