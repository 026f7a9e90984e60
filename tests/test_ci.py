"""CI's floors job installs exactly pyproject.toml's lower bounds, so a declared floor cannot drift from a tested one."""

import re
import subprocess
import sys
from importlib.metadata import version

from conftest import ROOT


def _floors_set() -> list[str]:
    done = subprocess.run([sys.executable, str(ROOT / ".ci" / "floors.py"), "--requirements"], capture_output=True,
                          text=True, check=True)
    return done.stdout.split()


def test_the_floors_job_installs_each_lower_bound_of_pyproject_exactly():
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    bounds = re.findall(r'"([A-Za-z0-9_.-]+)>=([^,"]+)', block)
    assert len(bounds) > 10 and ("trl", "1.16") in bounds  # the regex read the list, not a fragment of it
    wanted = {f"{name.lower()}=={low}" for name, low in bounds if name != "torch"}
    torch = f"torch=={version('torch').split('+')[0]}"  # the main set's torch: the floors move the libraries around it
    installed = _floors_set()
    assert wanted <= set(installed) and torch in installed
    assert len(installed) == len({line.split("==")[0] for line in installed})  # one version per package


def test_the_floors_job_keeps_requirements_pins_for_the_extras():
    installed = set(_floors_set())
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    extras = {"pytest", "papermill", "trackio", "bitsandbytes"}  # test, notebook, tracking and 4-bit extras
    assert {pin for pin in pins if pin.split("==")[0] in extras} <= installed


def test_ci_runs_the_fast_tests_a_second_time_in_the_floors_venv():
    run = (ROOT / ".ci" / "run").read_text()
    build, tests = "python .ci/floors.py .venv-floors", '.venv-floors/bin/python -m pytest -q -m "not slow"'
    assert build in run and tests in run and run.index(build) < run.index(tests)
    assert ".venv-floors/" in (ROOT / ".gitignore").read_text().split()  # the venv never lands in a commit
