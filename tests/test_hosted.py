"""The hosted first cell's installer: what it plans to install on a Colab or Kaggle kernel, and how it calls pip."""

import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from mathrl import env, hosted

# A Colab-like kernel: its own CUDA torch, an old transformers, no trl, everything else in range.
INSTALLED = {
    "torch": "2.8.0+cu126", "transformers": "4.57.1", "peft": "0.17.0", "datasets": "4.7.0",
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
    assert hosted.install_plan() == ["transformers==5.23.0", "trl==1.16.0", "peft>=0.17", "gguf>=0.17"]


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
