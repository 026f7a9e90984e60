"""The five notebooks: cheap static checks, then the README's main command on smoke settings, then nbval.

The suite run (papermill, outputs handed along) is asserted on through its headline JSONs; nbval then re-executes the
committed notebooks into the same folder, where training and evaluation resume instead of starting over.
"""

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from mathrl.cli.suite import NOTEBOOK_DIR, NOTEBOOKS, colab_url, kaggle_url

SANITIZE = NOTEBOOK_DIR / "nbval_sanitize.cfg"
MAX_CODE_LINES = 10  # a cell calls one or two mathrl functions; more is logic that belongs in the package


def _builder():
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOK_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _builder()


def _read(name):
    return nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(params=NOTEBOOKS)
def name(request):
    return request.param


# --------------------------------------------------------------------------- static, every commit


def test_the_notebook_folder_holds_exactly_the_suite():
    assert sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


def test_valid_json_and_nbformat(name):
    json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    nbformat.validate(_read(name))


def test_committed_notebook_is_the_builders_output(name):
    committed, built = _read(name), build.build(name)
    strip = lambda nb: [(c.id, c.cell_type, c.source, c.metadata) for c in nb.cells]  # noqa: E731
    assert strip(committed) == strip(built), f"run `python notebooks/build.py {name}` and commit the result"
    assert committed.metadata == built.metadata  # kernelspec and language only: no kernel or papermill noise


def test_exactly_one_parameters_cell_that_papermill_reads_whole(name):
    import papermill

    tagged = [c for c in _read(name).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = [line.split("=")[0].strip() for line in tagged[0].source.splitlines() if "=" in line]
    # papermill drops a line it cannot parse (e.g. an "=" or an apostrophe in a comment) and `-p` then misses it
    assert list(papermill.inspect_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"))) == assigned
    assert {"profile", "out_dir"} <= set(assigned)


def test_every_code_cell_parses_and_defines_nothing(name):
    for cell in _code(_read(name)):
        tree = ast.parse(TransformerManager().transform_cell(cell.source))  # % and ! lines become calls
        defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                                ast.Lambda))]
        assert not defined, f"logic defined in a cell (move it into mathrl):\n{cell.source}"
        if "parameters" not in cell.metadata.get("tags", []):  # one line per parameter is a list, not logic
            assert len(cell.source.splitlines()) <= MAX_CODE_LINES, cell.source


def test_no_execution_counts_or_outputs_outside_checked_cells(name):
    for number, cell in enumerate(_code(_read(name)), 1):
        if not build.checked(cell):
            assert cell.execution_count is None and not cell.outputs, f"volatile cell has committed output:\n{cell.source}"
            continue
        # nbval compares only cells with a count; the cell's position keeps the count stable between runs
        assert cell.execution_count == number, f"run `python notebooks/build.py --outputs RUN`:\n{cell.source}"
        for output in cell.outputs:
            assert output.get("execution_count") in (None, number) and not output.get("metadata")
            assert not any(k.startswith("image/") for k in output.get("data", {})), "images bloat the diff"


def test_opens_with_colab_and_kaggle_links_and_the_hosted_setup_cell(name):
    nb = _read(name)
    assert nb.cells[0].cell_type == "markdown"
    assert colab_url(name) in nb.cells[0].source and kaggle_url(name) in nb.cells[0].source
    first = _code(nb)[0].source
    assert "COLAB_RELEASE_TAG" in first and "KAGGLE_KERNEL_RUN_TYPE" in first and "pip" not in first.split("\n")[0]


def test_sanitize_file_parses():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns(SANITIZE.read_text())
    assert len(patterns) >= 4


# --------------------------------------------------------------------------- one smoke execution


@pytest.fixture(scope="session")
def suite_execution(tmp_path_factory):
    """The README's main command, `mathrl run --profile cpu-smoke`, into a temporary folder (minutes on 2 cores):
    (the folder, what the command wrote to stderr)."""
    out = tmp_path_factory.mktemp("suite")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(NOTEBOOK_DIR.parent)}
    done = subprocess.run([sys.executable, "-m", "mathrl", "run", "--profile", "cpu-smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stderr


@pytest.fixture(scope="session")
def suite_run(suite_execution):
    return suite_execution[0]


def _headline(out, name):
    return json.loads((out / f"{name}.json").read_text())["headline"]


@pytest.mark.slow
def test_suite_writes_five_executed_notebooks_a_summary_and_figures(suite_run):
    for name in NOTEBOOKS:
        assert (suite_run / f"{name}.ipynb").is_file()
    summary = json.loads((suite_run / "summary.json").read_text())
    assert list(summary["notebooks"]) == list(NOTEBOOKS)
    assert {p.name for p in (suite_run / "figures").glob("*.png")} >= {"01_problems.png", "02_rewards.png"}


@pytest.mark.slow
def test_headline_figures(suite_run):
    data = _headline(suite_run, "01_data_exploration")
    assert data["rows_loaded"] == 7473 and data["test_rows"] == 1319  # the shipped GSM8K copy, whole
    assert data["shared_questions"] == 0
    rewards = _headline(suite_run, "02_reward_design")
    assert rewards["reward_on_gold"] == pytest.approx(2.75)  # every weighted component pays in full on gold
    assert 0.0 <= rewards["zero_spread_combined"] <= rewards["zero_spread_correctness"] <= 1.0
    training = _headline(suite_run, "03_grpo_training")
    assert training["steps"] == 2 and isinstance(training["final_mean_reward"], float)
    evaluation = _headline(suite_run, "04_evaluation_and_plots")
    # held-out scoring at steps 0 and 2 chose step 2, the last, so best and last are one model on the test problems
    assert evaluation["best_step"] == 2 and evaluation["accuracy_best"] == evaluation["accuracy_trained"]


@pytest.mark.slow
def test_nbval_passes_on_the_committed_notebooks(suite_run):
    """nbval re-executes the committed notebooks and compares every checked cell (sanitized) with its committed output.

    It writes into the suite's folder, so notebook 03 resumes the finished run (zero new steps) and notebook 04 reads
    the evaluation records already there: the second execution skips the two expensive parts.
    """
    env = {**os.environ, "MATHRL_OUT": str(suite_run), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "MPLBACKEND": "Agg", "PYTHONPATH": str(NOTEBOOK_DIR.parent)}
    notebooks = [str(NOTEBOOK_DIR / f"{name}.ipynb") for name in NOTEBOOKS]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                           "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE), *notebooks],
                          cwd=NOTEBOOK_DIR.parent, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-6000:]


# stderr lines a user may see in a cell or under `mathrl run`; anything else is noise to silence at its source
# (mathrl.notices) or a real problem. Keep this list short: every entry is something a user should read.
ALLOWED_STDERR = (
    r"executed notebooks and summary\.md in .+; figures in .+",  # mathrl run's closing line, says where outputs are
)


def _noise(lines):
    import re

    lines = (line.strip() for text in lines for line in re.split(r"[\r\n]+", text))
    return [line for line in lines if line and not any(re.fullmatch(p, line) for p in ALLOWED_STDERR)]


@pytest.mark.slow
def test_executed_cells_and_the_suite_command_carry_no_third_party_noise(suite_execution):
    out, stderr = suite_execution
    assert _noise([stderr]) == [], "mathrl run wrote this to stderr"
    for name in NOTEBOOKS:
        for cell in _code(nbformat.read(out / f"{name}.ipynb", as_version=4)):
            streams = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
            assert _noise(streams) == [], f"{name}: stderr in the cell\n{cell.source}"
