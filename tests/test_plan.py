"""Tests for the planner: the measured reference run, monotonic terms, suggestions that fit, errors and the CLI."""

import importlib.util

import pytest

from mathrl.cli.commands import main
from mathrl.config import ConfigError, apply_overrides, load_config
from mathrl.hardware import GPUS, MODELS, GiB, gpu_spec, match_device, model_spec
from mathrl.train.plan import Plan, format_plan, plan_run

# Measured on an H100 capped at 15 GiB: TRL 1.16 GRPOTrainer, Qwen2.5-0.5B architecture, fp32, 8 completions of 512
# tokens per device (prompt ~256), beta 0, TRL defaults otherwise
MEASURED_PEAK_GIB, MEASURED_STEP_S, MEASURED_GENERATION_SHARE = 8.5, 14.1, 0.95
REFERENCE = ["train.num_processes=1", "train.gradient_accumulation_steps=1", "train.steps_per_generation=none",
             "train.static_cache=false"]  # plain TRL: eager decoding
# bench/results/grpo_speed_gpu.json, H100 capped at 15 GiB: 32 completions per update, eager vs static-cache compiled
MEASURED_32_EAGER_S, MEASURED_32_STATIC_S = 15.2, 10.2


def _plan(profile="kaggle-2xt4", sets=(), gpu="T4", **kwargs) -> Plan:
    return plan_run(load_config(profile, overrides=list(sets)), gpu=gpu, **kwargs)


def test_reproduces_measured_reference_with_checkpointing():
    plan = _plan(sets=REFERENCE, gpu="H100", memory_gib=15)
    torch_peak = (plan.peak - plan.runtime) / GiB  # torch's peak statistics leave out the CUDA context
    assert torch_peak == pytest.approx(MEASURED_PEAK_GIB, rel=0.15)
    assert plan.fits
    assert plan.step_s == pytest.approx(MEASURED_STEP_S, rel=0.15)
    assert plan.generation_s / plan.step_s > 0.85


def test_static_cache_step_time_matches_the_gpu_benchmark():
    eager = _plan(sets=["train.num_processes=1", "train.static_cache=false"], gpu="H100", memory_gib=15)
    static = _plan(sets=["train.num_processes=1"], gpu="H100", memory_gib=15)
    assert eager.step_s == pytest.approx(MEASURED_32_EAGER_S, rel=0.15)
    assert static.step_s == pytest.approx(MEASURED_32_STATIC_S, rel=0.15)


def test_reference_without_checkpointing_does_not_fit_and_suggests_checkpointing():
    plan = _plan(sets=[*REFERENCE, "train.gradient_checkpointing=false"], gpu="H100", memory_gib=15)
    assert not plan.fits
    assert plan.suggestion == "--set train.gradient_checkpointing=true"


def test_kaggle_profile_fits_a_t4_only_with_checkpointing():
    assert _plan(gpu="T4").fits
    assert not _plan(sets=["train.gradient_checkpointing=false"], gpu="T4").fits


def test_more_completion_tokens_need_more_memory():
    short = _plan(sets=["train.max_completion_length=256"])
    long = _plan(sets=["train.max_completion_length=1024"])
    assert long.peak > short.peak
    assert long.activations > short.activations
    assert long.kv_cache + long.static_cache > short.kv_cache + short.static_cache  # GPU profiles use a static cache


def test_lora_shrinks_optimizer_and_gradients():
    full, lora = _plan(), _plan(sets=["model.lora=true"])
    assert lora.optimizer < full.optimizer / 50  # adapters are well under 2% of the weights
    assert lora.gradients < full.gradients / 50


def test_four_bit_base_weights_are_smaller():
    lora = _plan(sets=["model.lora=true"])
    quant = _plan(sets=["model.lora=true", "model.load_in_4bit=true"])
    assert quant.weights < lora.weights / 2


def test_checkpointing_shrinks_activations():
    on, off = _plan(), _plan(sets=["train.gradient_checkpointing=false"])
    assert on.activations < off.activations / 5
    assert on.activations == off.activations_checkpointed  # both figures are reported whichever is in use


def test_reference_model_counts_only_when_beta_is_positive():
    assert _plan().reference == 0
    assert _plan(sets=["train.beta=0.04"]).reference == _plan().weights
    assert _plan(sets=["train.beta=0.04", "model.lora=true"]).reference == 0  # PEFT disables the adapter instead


def test_dtype_auto_follows_compute_capability():
    assert _plan(sets=["model.dtype=auto"], gpu="T4").dtype == "float32"
    assert _plan(sets=["model.dtype=auto"], gpu="A100").dtype == "bfloat16"
    with pytest.raises(ConfigError, match="no bf16"):
        _plan(sets=["model.dtype=bfloat16"], gpu="T4")


@pytest.mark.parametrize("sets, gpu", [
    (["train.gradient_checkpointing=false"], "T4"),  # checkpointing alone is enough
    (["model.name=Qwen/Qwen2.5-1.5B-Instruct"], "T4"),  # full fine-tuning of 1.5B in fp32 cannot fit in 15 GiB
    (["model.name=Qwen/Qwen2.5-3B-Instruct", "train.gradient_checkpointing=false"], "T4"),
    (["train.per_device_train_batch_size=32", "train.steps_per_generation=1"], "T4"),  # a smaller batch is enough
    (["train.max_completion_length=2048"], "T4"),
])
def test_suggestion_fits_when_replanned(sets, gpu):
    plan = _plan(sets=sets, gpu=gpu)
    assert not plan.fits and plan.suggestion.startswith("--set ")
    fixed = [item.strip() for item in plan.suggestion.split("--set ") if item.strip()]
    assert _plan(sets=[*sets, *fixed], gpu=gpu).fits


def test_unknown_model_and_gpu_give_errors_naming_the_known_ones():
    with pytest.raises(ConfigError, match="Qwen/Qwen2.5-0.5B-Instruct"):
        _plan(sets=["model.name=no-such-model"])
    with pytest.raises(ConfigError, match="T4, P100"):
        _plan(gpu="V100")


def test_local_folder_config_is_read(tmp_path):
    (tmp_path / "config.json").write_text(
        '{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, '
        '"intermediate_size": 128, "vocab_size": 1000, "tie_word_embeddings": true}'
    )
    spec = model_spec(str(tmp_path))
    assert (spec.kv_heads, spec.head_dim, spec.qkv_bias) == (4, 16, False)  # defaults as transformers fills them


@pytest.mark.parametrize("name", list(MODELS))
def test_table_parameter_count_matches_transformers(name):
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM

    from mathrl.hardware import hf_config

    with torch.device("meta"):  # shapes only, no memory
        model = AutoModelForCausalLM.from_config(hf_config(MODELS[name]))
    assert sum(p.numel() for p in model.parameters()) == MODELS[name].params


def test_offline_alias_and_device_names_resolve():
    assert model_spec("smollm2-135m-instruct").name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert match_device("Tesla T4", 14.74).name == "T4"
    assert match_device("NVIDIA A100-SXM4-80GB", 79.2).name == "A100-80GB"
    assert match_device("NVIDIA H100 80GB HBM3", 79.1).name == "H100"
    assert match_device("NVIDIA GeForce RTX 4090", 23.6) is None
    assert gpu_spec("a100").name == "A100-40GB" and set(GPUS) >= {"T4", "P100", "L4", "A10G", "H100"}


def test_cli_prints_the_verdict(capsys):
    assert main(["plan", "--profile", "kaggle-2xt4", "--gpu", "T4"]) == 0
    out = capsys.readouterr().out
    assert "verdict: fits" in out and "Qwen/Qwen2.5-0.5B-Instruct on T4" in out


def test_format_plan_shows_the_fix_when_it_does_not_fit():
    text = format_plan(_plan(sets=["train.gradient_checkpointing=false"]))
    assert "does not fit" in text and "--set train.gradient_checkpointing=true" in text


# ---------------------------------------------------------------- bench/plan_validation.py helpers


@pytest.fixture(scope="module")
def bench():
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "plan_validation.py"
    spec = importlib.util.spec_from_file_location("plan_validation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_batch_scores_completions_only(bench):
    batch = bench.grpo_batch(rows=3, prompt=10, completion=4, vocab=50)
    assert batch["input_ids"].shape == (3, 14)
    assert (batch["labels"][:, :10] == -100).all() and (batch["labels"][:, 10:] != -100).all()
    assert (batch["attention_mask"][:, 0] == 0).any()  # left padding present in some row


def test_validation_expects_growth_beyond_resident_memory(bench):
    plan = plan_run(apply_overrides(load_config("cpu-smoke"), ["train.gradient_checkpointing=true"]), gpu="cpu")
    assert 0 < bench.fwd_bwd_bytes(plan) < plan.peak - plan.resident
    assert bench.fwd_bwd_bytes(plan) >= plan.gradients  # backward ends holding every gradient


def test_validation_tokenizer_matches_the_model_vocabulary(bench):
    tokenizer = bench.word_tokenizer(200, ["Tom has 3 apples."])
    assert len(tokenizer) == 200
    prompt = bench.prompts(tokenizer, ["Tom has 3 apples."], 12)[0]
    assert len(tokenizer(prompt)["input_ids"]) == 12 and "apples" in prompt
