"""Shared fixtures: the shipped GSM8K copy, the real offline model, and a tiny random model that shares its tokenizer;
a guard that fails any test not marked `slow` that loads the real model's weights."""

import importlib.abc
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GSM8K_DIR = ROOT / "data" / "gsm8k"

# --------------------------------------------------------------------------- the fast subset loads no real model

_loads_in_fast_test: list[str] = []
_fast_test_running = False


def _is_real_model(path) -> bool:
    from mathrl.config import OFFLINE_MODEL
    from mathrl.models import cache_dir

    try:
        return str(path) == OFFLINE_MODEL or Path(path).resolve() == (cache_dir() / OFFLINE_MODEL).resolve()
    except (TypeError, OSError):
        return False


def _guard(pretrained_model_class) -> None:
    original = pretrained_model_class.from_pretrained.__func__

    def from_pretrained(cls, path, *args, **kwargs):
        if _fast_test_running and _is_real_model(path):
            _loads_in_fast_test.append(str(path))
        return original(cls, path, *args, **kwargs)

    pretrained_model_class.from_pretrained = classmethod(from_pretrained)


class _GuardOnImport(importlib.abc.MetaPathFinder):
    """Wraps PreTrainedModel.from_pretrained when transformers defines it, so tests that never touch a model do not
    pay for importing transformers."""

    def find_spec(self, name, path, target=None):
        if name != "transformers.modeling_utils":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _guard(module.PreTrainedModel)

        spec.loader.exec_module = exec_module
        return spec


if "transformers.modeling_utils" in sys.modules:
    _guard(sys.modules["transformers.modeling_utils"].PreTrainedModel)
else:
    sys.meta_path.insert(0, _GuardOnImport())


@pytest.fixture(autouse=True)
def _fast_tests_load_no_real_model(request):
    global _fast_test_running
    _fast_test_running = request.node.get_closest_marker("slow") is None
    _loads_in_fast_test.clear()
    yield
    _fast_test_running = False
    if _loads_in_fast_test:
        pytest.fail(f"a test not marked slow loaded the real model ({_loads_in_fast_test[0]}): mark it "
                    "@pytest.mark.slow, or use tiny_model_dir", pytrace=False)

# --------------------------------------------------------------------------- fixtures


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
