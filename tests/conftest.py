"""Shared fixtures: the shipped GSM8K copy, the real offline model, and a tiny random model that shares its tokenizer."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GSM8K_DIR = ROOT / "data" / "gsm8k"


@pytest.fixture(scope="session")
def gsm8k_dir() -> Path:
    return GSM8K_DIR


@pytest.fixture(scope="session")
def offline_model_dir() -> Path:
    """The real SmolLM2-135M-Instruct, materialized from its GGUF once per machine (about 40 s the first time)."""
    from mathrl.models import materialize_offline_model

    return materialize_offline_model()


@pytest.fixture(scope="session")
def tiny_model_dir(offline_model_dir, tmp_path_factory) -> Path:
    """A 2-layer, 32-wide Llama with random weights and the offline model's tokenizer: fast enough for training tests."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(offline_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,  # reduce time
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    folder = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def remote_code_model(tiny_model_dir, tmp_path) -> tuple[Path, Path]:
    """(folder, marker): a copy of the tiny model whose config.json points at code it ships, which writes the marker
    file when imported; the marker exists only if something let the folder's code run."""
    import json
    import shutil

    folder = tmp_path / "model-with-code"
    shutil.copytree(tiny_model_dir, folder)
    marker = tmp_path / "remote-code-ran"
    (folder / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                                    "from transformers import LlamaForCausalLM as EvilForCausalLM\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil.EvilForCausalLM"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker
