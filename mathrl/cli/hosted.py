"""Setting up where the notebooks run: missing packages, the Colab/Kaggle first cell, GPUs, Hub login, the model.

Imports nothing beyond the standard library at module level: on Colab and Kaggle it runs before anything is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mathrl.config import Config

ROOT = Path(__file__).resolve().parents[2]



def install_plan() -> list[str]:
    """Pinned specs (requirements.txt) of required packages that are missing or outside pyproject's range; never
    torch, because Colab and Kaggle ship a CUDA build that a PyPI wheel would replace."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    from mathrl.env import read_pins

    pins = read_pins()
    required = [Requirement(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    todo = []
    for req in required:
        name = req.name.lower()
        if name == "torch":
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or not req.specifier.contains(installed, prereleases=True):
            pin = pins.get(name, "")
            todo.append(f"{name}{pin}" if pin.startswith("==") else str(req))
    return todo


def install_missing() -> None:
    """pip-install what `install_plan` lists into this kernel's Python, holding torch at its installed version."""
    import subprocess
    import tempfile
    from importlib import metadata

    todo = install_plan()
    if not todo:
        print("every required package is present in a supported version")
        return
    print("installing " + " ".join(todo))
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        try:
            constraints.write(f"torch=={metadata.version('torch')}\n")
        except metadata.PackageNotFoundError:
            pass
        constraints.flush()
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", constraints.name, *todo], check=True)


def bootstrap() -> None:
    """The first cell on Colab and Kaggle: make mathrl importable by this kernel and the processes it launches,
    install missing packages, mount Google Drive on Colab so runs outlive the session."""
    import subprocess

    from mathrl.env import detect_platform

    print(f"platform: {detect_platform()}; mathrl from {ROOT}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)
    install_missing()
    if detect_platform() == "colab" and not Path("/content/drive/MyDrive").is_dir():
        from google.colab import drive

        drive.mount("/content/drive")
    from mathrl.cli.suite import output_dir

    print(f"outputs go to {output_dir()}")


def gpu_check(report) -> str:
    """GPUs, their memory and bf16 support, the precision training will use and why, and the processes it starts."""
    if not report.gpus:
        return f"no CUDA GPU: training runs on the CPU in {report.precision}; the cpu-smoke and cpu-learn profiles fit"
    lines = [f"{len(report.gpus)} GPU(s)"]
    lines += [f"  {i}: {g.name}, {g.memory_gib:.1f} GiB, compute capability {g.capability}, "
              f"bf16 {'native' if g.bf16 else 'not native'}" for i, g in enumerate(report.gpus)]
    lines.append(f"precision {report.precision}: {report.precision_reason}")
    lines.append(f"training starts {len(report.gpus)} process(es), one per GPU" if len(report.gpus) > 1
                 else "training runs in this kernel's process")
    return "\n".join(lines)


def _secret(platform: str) -> str | None:
    try:
        if platform == "kaggle":
            from kaggle_secrets import UserSecretsClient

            return UserSecretsClient().get_secret("HF_TOKEN")
        if platform == "colab":
            from google.colab import userdata

            return userdata.get("HF_TOKEN")
    except Exception:  # each platform raises its own types for "no such secret" and "access not granted"
        return None
    return None


def hub_login() -> str:
    """Put a Hugging Face token from a Kaggle or Colab secret into this session's environment, where
    huggingface_hub reads it; the token is never printed, logged or written to disk or config."""
    from mathrl.env import detect_platform

    if os.environ.get("HF_TOKEN"):
        return "Hub token: HF_TOKEN is already set in the environment"
    platform = detect_platform()
    token = _secret(platform)
    if not token:
        return "no Hub token (Kaggle or Colab secret HF_TOKEN): public models and data only"
    os.environ["HF_TOKEN"] = token
    return f"Hub token taken from the {platform} secret HF_TOKEN, kept in this session's environment only"


def prepare_model(cfg: Config) -> str:
    """Materialize the offline model when the config uses it; otherwise say where the model will come from."""
    from mathrl.config import OFFLINE_MODEL
    from mathrl.models import materialize_offline_model

    name = cfg.model.name
    if name == OFFLINE_MODEL:
        return f"offline model ready: {materialize_offline_model()}"
    if Path(name).expanduser().exists():
        return f"local model folder: {name}"
    return f"{name} is downloaded from the Hub on first use (cached by huggingface_hub)"
