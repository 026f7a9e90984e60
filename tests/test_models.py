"""Model loading: offline materialization, dtype policy, padding, LoRA/4-bit rules, clear errors."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from mathrl.config import ConfigError, ModelConfig
from mathrl.models import ModelError, choose_precision, load_model, lora_config, resolve_model_path


@pytest.mark.slow
def test_offline_model_materializes_as_plain_fp32_and_generates(offline_model_dir):
    config = json.loads((offline_model_dir / "config.json").read_text())
    assert "quantization_config" not in config  # a quantized model refuses training and saving
    model, tokenizer, precision = load_model(ModelConfig(dtype="float32"))
    assert precision.dtype == "float32" and model.dtype == torch.float32
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**prompt, max_new_tokens=12, do_sample=False)
    text = tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert len(text.split()) >= 3  # a real instruct model answers in words


@pytest.mark.slow
def test_materialized_model_trains(offline_model_dir, tiny_model_dir):
    model, tokenizer, _ = load_model(ModelConfig(name=str(offline_model_dir)))
    batch = tokenizer(["1 + 1 = 2"], return_tensors="pt")
    loss = model(**batch, labels=batch["input_ids"]).loss
    loss.backward()
    assert model.model.layers[0].mlp.down_proj.weight.grad is not None


def test_precision_policy_is_decided_by_compute_capability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # a T4 says True: emulation
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (7, 5))
    t4 = choose_precision("auto")
    assert t4.dtype == "float32" and "7, 5" in t4.reason
    assert t4.trainer_flags == {"bf16": False, "fp16": False}  # explicit: TRL turns bf16 on by default
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "A100")
    assert choose_precision("auto").trainer_flags == {"bf16": True, "fp16": False}
    assert choose_precision("float32").dtype == "float32"


def test_models_plan_and_env_ask_the_one_precision_rule(monkeypatch):
    from types import SimpleNamespace

    from mathrl import env, hardware
    from mathrl.config import load_config
    from mathrl.train.plan import resolve_dtype

    monkeypatch.setattr(hardware, "BF16_MIN_CAPABILITY", 9.0)  # a stricter rule: an A100 (8.0) no longer qualifies
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: "NVIDIA A100-SXM4-80GB")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: SimpleNamespace(name="NVIDIA A100-SXM4-80GB", total_memory=80 * 2**30, major=8, minor=0))
    assert choose_precision("auto").dtype == "float32"
    assert resolve_dtype(load_config("colab-t4", overrides=["model.dtype=auto"]), hardware.gpu_spec("A100")) == "float32"
    assert [gpu.bf16 for gpu in env.gpus()] == [False]


def test_lora_config_targets():
    assert lora_config(ModelConfig()) is None
    cfg = lora_config(ModelConfig(lora=True, lora_r=4, lora_target_modules="q_proj, v_proj"))
    assert cfg.r == 4 and set(cfg.target_modules) == {"q_proj", "v_proj"}


def test_lora_adapter_folder_loads_onto_its_base(tiny_model_dir, tmp_path):
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from mathrl.models import merge_lora

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft_model = get_peft_model(base, lora_config(ModelConfig(lora=True, lora_r=2)))
    peft_model.save_pretrained(tmp_path / "adapter")
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "adapter")
    model, _, _ = load_model(ModelConfig(name=str(tmp_path / "adapter")))
    assert "lora" in type(model).__name__.lower() or hasattr(model, "peft_config")
    merged = merge_lora(tmp_path / "adapter", tmp_path / "merged")
    plain, _, _ = load_model(ModelConfig(name=str(merged)))
    assert not hasattr(plain, "peft_config")


def test_four_bit_needs_lora():
    with pytest.raises(ConfigError, match="needs model.lora"):
        load_model(ModelConfig(load_in_4bit=True))


@pytest.mark.parametrize("name, message", [
    ("./no/such/folder", "neither an existing folder nor a Hub id"),
    ("not a model", "neither an existing folder nor a Hub id"),
])
def test_bad_model_names(name, message):
    with pytest.raises(ModelError, match=message):
        resolve_model_path(name)


def test_folder_without_config(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model_path(str(tmp_path))


def test_hub_ids_pass_through_unchanged():
    assert resolve_model_path("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


@pytest.mark.parametrize("asked", [False, True])
def test_remote_code_is_off_unless_asked(asked, tmp_path, monkeypatch):
    """What load_model hands to transformers, for the model and its tokenizer: remote code only when the config says."""
    import transformers

    (tmp_path / "config.json").write_text("{}")
    seen = {}

    def model_from_pretrained(path, **kwargs):
        seen["model"] = kwargs["trust_remote_code"]
        return SimpleNamespace(generation_config=SimpleNamespace(pad_token_id=0))

    def tokenizer_from_pretrained(path, **kwargs):
        seen["tokenizer"] = kwargs["trust_remote_code"]
        return SimpleNamespace(pad_token="<pad>", pad_token_id=0, padding_side="right", chat_template="{{ x }}")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", model_from_pretrained)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer_from_pretrained)
    config = ModelConfig(name=str(tmp_path), trust_remote_code=True) if asked else ModelConfig(name=str(tmp_path))
    load_model(config, choose_precision("float32"))
    assert seen == {"model": asked, "tokenizer": asked}


@pytest.mark.slow
def test_four_bit_with_lora_loads_and_trains_on_cpu(offline_model_dir):
    # bitsandbytes 0.50 quantizes and runs 4-bit layers on CPU too: checked, not assumed.
    from peft import get_peft_model

    # the real model: 4-bit blocks of 64 need layers wider than the tiny test model has
    model, tokenizer, _ = load_model(ModelConfig(name=str(offline_model_dir), lora=True, load_in_4bit=True))
    assert type(model.model.layers[0].mlp.down_proj).__name__ == "Linear4bit"
    peft_model = get_peft_model(model, lora_config(ModelConfig(lora=True, lora_r=2)))
    batch = tokenizer(["2 + 2 = 4"], return_tensors="pt")
    peft_model(**batch, labels=batch["input_ids"]).loss.backward()
    trained = [n for n, p in peft_model.named_parameters() if p.requires_grad and p.grad is not None]
    assert trained and all("lora_" in n for n in trained)


# --------------------------------------------------------------------------- damaged model folders and cache


def _copy(folder, tmp_path):
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "model"))


@pytest.mark.parametrize("damage, message", [
    (lambda w: w.write_bytes(w.read_bytes()[: w.stat().st_size // 2]), "model.safetensors is damaged"),  # cut off
    (lambda w: w.write_bytes(b"\x00" * 64), "model.safetensors is damaged"),  # garbage
])
def test_a_damaged_model_folder_is_refused_naming_the_file(tiny_model_dir, tmp_path, damage, message):
    folder = _copy(tiny_model_dir, tmp_path)
    damage(folder / "model.safetensors")
    with pytest.raises(ModelError, match=f"{folder}: {message}.*save the model there again"):
        load_model(ModelConfig(name=str(folder)))


def test_a_cached_model_is_checked_against_the_sizes_written(tiny_model_dir, tmp_path):
    from mathrl.models import _cache_problem, _write_manifest

    folder = _copy(tiny_model_dir, tmp_path)
    assert _cache_problem(folder) is None
    _write_manifest(folder)
    tokenizer = folder / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text()[:-10])  # not a weights file: only the recorded size shows it
    assert _cache_problem(folder) == "tokenizer.json changed size since it was written"


@pytest.mark.slow
def test_a_damaged_offline_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    from mathrl.models import materialize_offline_model

    monkeypatch.setenv("MATHRL_CACHE", str(tmp_path))  # never the real cache
    folder = materialize_offline_model()
    size = (folder / "model.safetensors").stat().st_size
    (folder / "model.safetensors").write_bytes(b"garbage")
    assert materialize_offline_model() == folder
    assert "rebuilding the cached offline model" in capsys.readouterr().out
    assert (folder / "model.safetensors").stat().st_size == size
    load_model(ModelConfig(name=str(folder)))
