"""The hosted first cell: what it plans to install on a Colab or Kaggle kernel, how it calls pip, and the cell itself
run headless in a simulated Kaggle and Colab kernel."""

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT
from mathrl import env
from mathrl.cli import hosted
from mathrl.env import read_pins as env_pins

# A Colab-like kernel: its own CUDA torch, an old transformers, no trl, everything else in range.
INSTALLED = {
    "torch": "2.8.0+cu126", "transformers": "4.57.1", "peft": "0.18.0", "datasets": "4.7.0",
    "accelerate": "1.10.1", "math-verify": "0.8.0", "reasoning-gym": "0.1.25", "gguf": "0.17.0", "pyyaml": "6.0.2",
    "matplotlib": "3.10.0", "pandas": "2.2.2",
}
PINS = {"torch": ">=2.6", "transformers": "==5.23.0", "trl": "==1.16.0", "pandas": "==3.1.1"}


@pytest.fixture
def colab_kernel(monkeypatch):
    def version(name):
        if name not in INSTALLED:
            raise metadata.PackageNotFoundError(name)
        return INSTALLED[name]

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.setattr(env, "read_pins", lambda: PINS)


def test_plan_installs_the_missing_and_the_out_of_range_at_their_pins_and_never_torch(colab_kernel):
    # transformers 4.57 is below pyproject's floor and trl is absent: both at requirements.txt's pins.
    assert hosted.install_plan() == ["transformers==5.23.0", "trl==1.16.0"]


def test_plan_never_installs_torch_even_when_it_is_missing(colab_kernel, monkeypatch):
    monkeypatch.delitem(INSTALLED, "torch")  # a PyPI torch would replace the platform's CUDA build
    assert "torch" not in " ".join(hosted.install_plan())


def test_plan_falls_back_to_pyprojects_range_without_an_exact_pin(colab_kernel, monkeypatch):
    monkeypatch.delitem(INSTALLED, "peft")  # PINS has no entry for peft
    monkeypatch.setitem(INSTALLED, "gguf", "0.16.0")
    assert hosted.install_plan() == ["transformers==5.23.0", "trl==1.16.0", "peft>=0.18", "gguf>=0.17"]


def test_plan_accepts_a_prerelease_inside_the_range(colab_kernel, monkeypatch):
    monkeypatch.setitem(INSTALLED, "trl", "1.17.0rc1")
    monkeypatch.setitem(INSTALLED, "transformers", "5.24.0.dev0")
    assert hosted.install_plan() == []


def test_install_holds_torch_at_the_installed_version(colab_kernel, monkeypatch, capsys):
    calls = []

    def fake_run(command, check):
        constraints = command[command.index("-c") + 1]
        calls.append((command, Path(constraints).read_text(), check))

    monkeypatch.setattr(subprocess, "run", fake_run)
    hosted.install_missing()
    command, constraints, check = calls[0]
    assert command[1:6] == ["-m", "pip", "install", "-q", "-c"] and command[7:] == ["transformers==5.23.0",
                                                                                   "trl==1.16.0"]
    assert constraints == "torch==2.8.0+cu126\n" and check is True
    assert len(calls) == 1 and capsys.readouterr().out == "installing transformers==5.23.0 trl==1.16.0\n"


def test_install_without_torch_has_no_constraint(colab_kernel, monkeypatch):
    constraints = []
    monkeypatch.delitem(INSTALLED, "torch")
    monkeypatch.setattr(subprocess, "run", lambda command, check: constraints.append(
        Path(command[command.index("-c") + 1]).read_text()))
    hosted.install_missing()
    assert constraints == [""]


def test_install_with_nothing_missing_runs_no_pip(monkeypatch, capsys):
    monkeypatch.setattr(hosted, "install_plan", lambda: [])
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip ran with nothing to install"))
    hosted.install_missing()
    assert capsys.readouterr().out == "every required package is present in a supported version\n"


# --------------------------------------------------------------------------- the first cell, rehearsed

# Installed in the simulated kernel: the main environment minus trl and math-verify, with transformers posing as the
# older release a hosted image ships.
MISSING = ("trl", "math_verify")
PIP_STUB = """import json, os, sys
with open(os.environ["PIP_CALLS"], "a") as log:
    args = sys.argv[1:]
    constraints = open(args[args.index("-c") + 1]).read() if "-c" in args else None
    log.write(json.dumps({"args": args, "constraints": constraints}) + "\\n")
"""
SIMULATED = ("pip", "mathrl", "__editable__.mathrl", "transformers", "google")  # stubbed, cloned or faked below
COLAB_DRIVE_STUB = "import os\n\ndef mount(path):\n    open(os.environ['DRIVE_MOUNTS'], 'a').write(path + '\\n')\n"


def _kernel(tmp_path: Path) -> Path:
    """A Python whose site-packages links to this one's, less MISSING and pip (a stub that records its calls)."""
    kernel = tmp_path / "kernel"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(kernel)], check=True)
    site = next((kernel / "lib").glob("python3*/site-packages"))
    ours = Path(metadata.distribution("torch").locate_file(""))
    for entry in ours.iterdir():
        name = entry.name.split("-")[0].lower()
        if name in (*MISSING, *SIMULATED) or name.endswith(".pth"):
            continue
        (site / entry.name).symlink_to(entry)
    (site / "transformers").symlink_to(ours / "transformers")
    old = site / "transformers-4.57.1.dist-info"
    old.mkdir()
    (old / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 4.57.1\n")
    (site / "pip").mkdir()
    (site / "pip" / "__main__.py").write_text(PIP_STUB)
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "drive.py").write_text(COLAB_DRIVE_STUB)
    return kernel / "bin" / "python"


def _first_cell() -> str:
    notebook = json.loads((ROOT / "notebooks" / "00_setup.ipynb").read_text())
    return "".join(next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")["source"])


def _repository(tmp_path: Path) -> Path:
    """A git repository of this working tree's package, as a fork the first cell is pointed at would be."""
    repo = tmp_path / "fork"
    shutil.copytree(ROOT / "mathrl", repo / "mathrl", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, repo / name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git[:3], "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fork"], check=True)
    return repo


@pytest.mark.parametrize("platform, marker", [("kaggle", {"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}),
                                              ("colab", {"COLAB_RELEASE_TAG": "release-colab_20250101-060000"})])
def test_the_first_cell_fetches_the_fork_installs_only_what_is_missing_and_names_the_platform(platform, marker,
                                                                                          tmp_path):
    python, repo = _kernel(tmp_path), _repository(tmp_path)
    calls, mounts, temp = tmp_path / "pip_calls.jsonl", tmp_path / "mounts", tmp_path / "tmp"
    temp.mkdir()
    kernel_env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "KAGGLE_KERNEL_RUN_TYPE", "COLAB_RELEASE_TAG", "COLAB_GPU")}
    kernel_env.update(marker, MATHRL_REPO=str(repo), TMPDIR=str(temp), PIP_CALLS=str(calls),
                      DRIVE_MOUNTS=str(mounts), MATHRL_OUT=str(tmp_path / "out"))
    done = subprocess.run([str(python), "-c", _first_cell()], cwd=tmp_path, env=kernel_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    clone = (temp / "mathrl").resolve()
    assert f"platform: {platform}; mathrl from {clone}\n" in done.stdout  # the fork was cloned, and imported from there
    pip = [json.loads(line) for line in calls.read_text().splitlines()]
    assert pip[0]["args"] == ["install", "-q", "--no-deps", "-e", str(clone)]
    pins = env_pins()
    assert pip[1]["args"][-3:] == [f"transformers{pins['transformers']}", f"trl{pins['trl']}",
                                   f"math-verify{pins['math-verify']}"]
    assert pip[1]["constraints"] == f"torch=={metadata.version('torch')}\n"  # holds torch, never installs it
    assert len(pip) == 2 and not any(arg.startswith("torch") for call in pip for arg in call["args"])
    assert (mounts.read_text() == "/content/drive\n") if platform == "colab" else not mounts.exists()
