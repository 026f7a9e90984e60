"""Built-in tables of model architectures and GPUs, so that `mathrl plan` works offline.

Model rows copy each model's public config.json; GPU rows are vendor peak figures (dense, no sparsity).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mathrl.config import OFFLINE_MODEL
from mathrl.errors import ConfigError

GiB = 2**30
# The precision rule: bf16 is native from compute capability 8.0 (Ampere). A T4 (7.5) emulates it, and
# torch.cuda.is_bf16_supported() answers True there, so the capability decides.
BF16_MIN_CAPABILITY = 8.0


def native_bf16(capability: float) -> bool:
    """Whether a device of this compute capability (major + minor / 10) computes in bf16 natively.

    >>> native_bf16(7.5), native_bf16(8.0), native_bf16(12.0)
    (False, True, True)
    """
    return capability >= BF16_MIN_CAPABILITY


@dataclass(frozen=True)
class ModelSpec:
    """The numbers of a decoder-only transformer that decide its memory and compute."""

    name: str
    model_type: str  # the transformers config class to rebuild it with: "qwen2" or "llama"
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    max_positions: int
    qkv_bias: bool

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear layer in one decoder layer, by the module name PEFT targets."""
        h, q, kv, i = self.hidden, self.q_dim, self.kv_dim, self.intermediate
        return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}

    @property
    def layer_linear_params(self) -> int:
        bias = (self.q_dim + 2 * self.kv_dim) if self.qkv_bias else 0
        return sum(a * b for a, b in self.linear_shapes.values()) + bias

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def params(self) -> int:
        norms = (2 * self.layers + 1) * self.hidden
        return self.layers * self.layer_linear_params + self.embedding_params + norms

    @property
    def matmul_params(self) -> int:
        """Parameters a token multiplies through: every linear layer plus the LM head (the embedding is a lookup)."""
        return self.layers * self.layer_linear_params + self.vocab * self.hidden


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("Qwen/Qwen2.5-0.5B-Instruct", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, True, 32768, True),
        ModelSpec("Qwen/Qwen2.5-1.5B-Instruct", "qwen2", 1536, 28, 12, 2, 128, 8960, 151936, True, 32768, True),
        ModelSpec("Qwen/Qwen2.5-3B-Instruct", "qwen2", 2048, 36, 16, 2, 128, 11008, 151936, True, 32768, True),
        ModelSpec("HuggingFaceTB/SmolLM2-135M-Instruct", "llama", 576, 30, 9, 3, 64, 1536, 49152, True, 8192, False),
        ModelSpec("HuggingFaceTB/SmolLM2-360M-Instruct", "llama", 960, 32, 15, 5, 64, 2560, 49152, True, 8192, False),
        ModelSpec("HuggingFaceTB/SmolLM2-1.7B-Instruct", "llama", 2048, 24, 32, 32, 64, 8192, 49152, True, 8192, False),
    )
}
_ALIASES = {OFFLINE_MODEL: "HuggingFaceTB/SmolLM2-135M-Instruct"}


def model_spec(name: str) -> ModelSpec:
    """A table row by Hub id, bare name or alias (any case), else the config.json of a local folder."""
    wanted = _ALIASES.get(name.lower(), name).lower()
    for key, spec in MODELS.items():
        if wanted in (key.lower(), key.split("/")[-1].lower()):
            return spec
    config_file = Path(name) / "config.json"
    if config_file.is_file():
        return spec_from_config(json.loads(config_file.read_text()), name)
    known = ", ".join([*MODELS, OFFLINE_MODEL])
    raise ConfigError(f"unknown model {name!r}: not a folder with config.json, nor one of: {known}")


def spec_from_config(config: dict, name: str) -> ModelSpec:
    """A ModelSpec from a transformers config.json (Llama, Qwen2, Mistral and the like)."""
    config = config.get("text_config", config)
    try:
        heads = config["num_attention_heads"]
        return ModelSpec(
            name=name,
            model_type=config.get("model_type", "llama"),
            hidden=config["hidden_size"],
            layers=config["num_hidden_layers"],
            heads=heads,
            kv_heads=config.get("num_key_value_heads") or heads,
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            intermediate=config["intermediate_size"],
            vocab=config["vocab_size"],
            tied=config.get("tie_word_embeddings", False),
            max_positions=config.get("max_position_embeddings", 0),
            qkv_bias=config.get("attention_bias", config.get("model_type") == "qwen2"),
        )
    except KeyError as err:
        raise ConfigError(f"{name}/config.json has no {err.args[0]!r}: "
                          "the planner needs a decoder-only transformer") from None


def hf_config(spec: ModelSpec):
    """The transformers config that rebuilds `spec` with random weights, with no download."""
    from transformers import LlamaConfig, Qwen2Config

    shared = dict(vocab_size=spec.vocab, hidden_size=spec.hidden, intermediate_size=spec.intermediate,
                  num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                  max_position_embeddings=spec.max_positions, tie_word_embeddings=spec.tied)
    if spec.model_type == "qwen2":
        return Qwen2Config(**shared)
    return LlamaConfig(**shared, head_dim=spec.head_dim, attention_bias=spec.qkv_bias)


@dataclass(frozen=True)
class GPUSpec:
    """Peak figures of one device. `memory_gib` is what torch reports as total, a little under the label."""

    name: str
    memory_gib: float
    bandwidth_gbs: float
    fp32_tflops: float
    fp16_tflops: float
    bf16_tflops: float
    capability: float

    @property
    def bf16(self) -> bool:
        return native_bf16(self.capability)

    @property
    def is_cpu(self) -> bool:
        return self.name == "cpu"

    def tflops(self, dtype: str) -> float:
        return {"float32": self.fp32_tflops, "float16": self.fp16_tflops, "bfloat16": self.bf16_tflops}[dtype]


GPUS: dict[str, GPUSpec] = {
    spec.name: spec
    for spec in (
        GPUSpec("T4", 14.74, 320, 8.1, 65, 0, 7.5),
        GPUSpec("P100", 15.89, 732, 9.3, 18.7, 0, 6.0),
        GPUSpec("L4", 22.05, 300, 30.3, 121, 121, 8.9),
        # AWS's A10G runs its tensor cores well below the A10's 125 TFLOP/s
        GPUSpec("A10G", 22.05, 600, 31.2, 70, 70, 8.6),
        GPUSpec("A100-40GB", 39.39, 1555, 19.5, 312, 312, 8.0),
        GPUSpec("A100-80GB", 79.15, 2039, 19.5, 312, 312, 8.0),
        GPUSpec("H100", 79.11, 3350, 67, 989, 989, 9.0),
        GPUSpec("H200", 139.8, 4800, 67, 989, 989, 9.0),
    )
}
_GPU_ALIASES = {"A100": "A100-40GB", "A10": "A10G"}


def gpu_spec(name: str) -> GPUSpec:
    """A table row by name (any case); "cpu" describes this machine's RAM and cores instead."""
    if name.lower() == "cpu":
        return cpu_spec()
    wanted = _GPU_ALIASES.get(name.upper(), name.upper())
    for key, spec in GPUS.items():
        if key.upper() == wanted:
            return spec
    raise ConfigError(f"unknown GPU {name!r}; choose one of: {', '.join(GPUS)}, A100, cpu")


def match_device(device_name: str, memory_gib: float) -> GPUSpec | None:
    """The row for a device torch names e.g. "Tesla T4" or "NVIDIA A100-SXM4-80GB": family by name, size by memory."""
    words = device_name.upper().replace("-", " ").split()
    family = [s for s in GPUS.values() if s.name.split("-")[0] in words]
    return min(family, key=lambda s: abs(s.memory_gib - memory_gib), default=None)


def cpu_spec() -> GPUSpec:
    """This machine as a device: its RAM, a typical DDR bandwidth and ~50 GFLOP/s of fp32 per core (AVX2 FMA)."""
    import os

    import psutil

    cores = os.cpu_count() or 1
    flops = 0.05 * cores
    return GPUSpec("cpu", psutil.virtual_memory().total / GiB, 20, flops, flops / 4, flops / 2, 0)
