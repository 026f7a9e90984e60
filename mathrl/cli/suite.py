"""The notebook suite: runs notebooks/00…04 headless with papermill, sweeps one notebook over parameter sets.

    mathrl run --profile cpu-smoke --out runs/suite                  # all five in order, offline, minutes on 2 cores
    mathrl run --profile kaggle-2xt4 --out /kaggle/working/runs/suite -p max_steps 200 --set train.learning_rate=2e-6
    mathrl run --out runs/sweep --sweep sweep.yaml                   # one executed notebook per parameter set

A sweep file names a notebook and lists parameter sets; out/results.md tabulates each set's headline figures:

    notebook: 03_grpo_training
    runs:
      - {max_steps: 2, overrides: {train.learning_rate: 1.0e-5}}
      - {max_steps: 4, overrides: {train.learning_rate: 3.0e-5}}
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml

from mathrl.config import DEFAULT_PROFILE, PROFILES, Config, apply_overrides, load_config, validate
from mathrl.data.sources import SOURCES, source_module
from mathrl.errors import ConfigError, MathrlError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = ("00_setup", "01_data_exploration", "02_reward_design", "03_grpo_training", "04_evaluation_and_plots")
GITHUB_REPO = "mathrl/mathrl"  # the one place the public repository is named: links, clone URL
REPO_ENV = "MATHRL_REPO"  # a fork's clone URL (or any path git clones), for the hosted first cell to fetch instead
OUT_ENV = "MATHRL_OUT"  # where notebooks write when their out_dir parameter is None (nbval runs set it)

# Each notebook's parameters cell, as (name, default, comment); notebooks/build.py writes the cells from it. Names and
# numbers default to None, the profile's value, so `-p profile X` runs exactly X; the smoke settings CI checks are the
# cpu-smoke profile's. Comments hold no "=" or apostrophe: papermill would drop the line.
_PROFILE = ("profile", DEFAULT_PROFILE, " | ".join(PROFILES))
_CONFIG = ("config_file", None, "a YAML file of settings over the profile, as `mathrl config` prints them")
_MODEL = ("model", None, "None: the model of the profile; a Hub id or a local folder")
_DATA = (("data_source", None, f"None: the profile's; {' | '.join(SOURCES)}"),
         ("data_path", None, "None: the profile's (the shipped GSM8K copy for gsm8k)"))
_OVERRIDES = ("overrides", {}, 'any setting, e.g. {"train.learning_rate": 1e-5}, over all of the above')
_OUT = ("out_dir", None, "None: runs/notebooks, or persistent storage on Colab/Kaggle")
PARAMETERS: dict[str, tuple[tuple, ...]] = {
    "00_setup": (_PROFILE, _CONFIG, _MODEL, _OVERRIDES, _OUT),
    "01_data_exploration": (_PROFILE, _CONFIG, ("model", None, "its tokenizer measures lengths; None: the profile's"),
                            *_DATA, ("rows", None, "explore the first N rows of each split, None for all"),
                            _OVERRIDES, _OUT),
    "02_reward_design": (_PROFILE, _CONFIG, ("model", None, "the base model that is sampled; None: the profile's"),
                         *_DATA, ("num_generations", None, "k: completions per question (the GRPO group)"),
                         ("completion_tokens", None, "tokens per sampled completion"),
                         ("samples", 4, "questions sampled from the base model"), _OVERRIDES, _OUT),
    "03_grpo_training": (_PROFILE, _CONFIG, _MODEL, *_DATA, ("max_steps", None, "optimizer steps"),
                         ("limit", None, "training rows"),
                         ("num_generations", None, "completions per prompt (the group)"),
                         ("completion_tokens", None, "tokens per completion"), _OVERRIDES,
                         ("out_dir", None, "checkpoints, metrics and the final model go to out_dir/train")),
    "04_evaluation_and_plots": (_PROFILE, _CONFIG, ("model", None, "the base model; None: the model of the profile"),
                                ("trained_model", None, "None: out_dir/train/final, as notebook 03 leaves it"),
                                ("metrics_dir", None, "the training log; None: out_dir/train"), *_DATA,
                                ("eval_limit", None, "test questions"),
                                ("completion_tokens", None, "tokens per answer"), _OVERRIDES,
                                ("out_dir", None, "records go to out_dir/eval")),
}
# Parameters that count something: None or a whole number >= 1 (a negative one would slice "all but the last N").
COUNTS = ("rows", "samples", "max_steps", "limit", "eval_limit", "num_generations", "completion_tokens")
# Config key each notebook knob sets (None = the profile's value).
KNOB_KEYS = {
    "max_steps": "train.max_steps",
    "limit": "data.limit",
    "eval_limit": "eval.limit",
    "num_generations": "train.num_generations",
    "completion_tokens": ("train.max_completion_length", "eval.max_new_tokens"),
}


class SuiteError(MathrlError):
    """A notebook failed or a sweep file is malformed; the message names the notebook or the file."""


class ParameterError(ConfigError):
    """A notebook parameter no notebook declares, or a count that is not a whole number >= 1 (a usage error)."""


def colab_url(name: str) -> str:
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/{name}.ipynb"


def kaggle_url(name: str) -> str:
    return f"https://kaggle.com/kernels/welcome?src=https://github.com/{GITHUB_REPO}/blob/main/notebooks/{name}.ipynb"


# --------------------------------------------------------------------------- inside a notebook


def check_counts(values: dict) -> None:
    """Refuse a counting parameter that is not None or a whole number >= 1, naming it.

    >>> check_counts({"rows": 5, "limit": None, "profile": "cpu-smoke"})
    >>> check_counts({"rows": -3})
    Traceback (most recent call last):
    mathrl.cli.suite.ParameterError: rows=-3: give a whole number >= 1, or None for the profile's value (all rows for rows)
    """
    for name in COUNTS:
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ParameterError(f"{name}={value!r}: give a whole number >= 1, or None for the profile's value "
                                 "(all rows for rows)")


_LITERALS = (type(None), bool, int, float, str, list, tuple, dict)
_KERNEL_NAMES = {"In", "Out"}  # IPython's own history lists


def check_parameters(namespace: dict, notebook: str) -> None:
    """Refuse, in a notebook's kernel, a parameter papermill injected that the notebook does not declare, and a bad
    count. Runs once per kernel, where papermill's injected cell has just run: later cells add variables of their own.

    >>> check_parameters({"profile": "cpu-smoke", "rows": 5}, "01_data_exploration")
    >>> check_parameters({"profile": "cpu-smoke", "rowz": 5}, "01_data_exploration")
    Traceback (most recent call last):
    mathrl.cli.suite.ParameterError: 01_data_exploration has no parameter rowz; it takes profile, config_file, model, data_source, data_path, rows, overrides, out_dir
    """
    if namespace.get("_mathrl_parameters_checked"):
        return
    known = [name for name, _, _ in PARAMETERS[notebook]]
    unknown = sorted(name for name, value in namespace.items() if not name.startswith("_") and name not in known
                     and name not in _KERNEL_NAMES and isinstance(value, _LITERALS))
    if unknown:
        raise ParameterError(f"{notebook} has no parameter {', '.join(unknown)}; it takes {', '.join(known)}")
    check_counts(namespace)
    namespace["_mathrl_parameters_checked"] = True


def output_dir(out_dir: str | Path | None = None) -> Path:
    """The folder a notebook writes to: out_dir, else $MATHRL_OUT, else persistent storage (runs/notebooks locally)."""
    from mathrl.env import persistent_dir

    if out_dir is None:
        out_dir = os.environ.get(OUT_ENV) or persistent_dir(str(ROOT / "runs")) / "notebooks"
    path = Path(out_dir).expanduser()
    (path / "figures").mkdir(parents=True, exist_ok=True)
    return path


def notebook_config(profile: str = DEFAULT_PROFILE, model: str | None = None, data_source: str | None = None,
                    data_path: str | None = None, overrides: dict | list | None = None, out: str | Path | None = None,
                    config_file: str | Path | None = None, **knobs) -> Config:
    """The run config of a notebook: its profile, then `config_file` (YAML), then the parameters that are not None,
    then `overrides` (`{"train.learning_rate": 1e-5}` or `["train.learning_rate=1e-5"]`). With `out`, training writes
    to out/train and evaluation to out/eval. Left at None, every parameter keeps the profile's value.

    >>> cfg = notebook_config("cpu-smoke", max_steps=3, completion_tokens=16, eval_limit=None)
    >>> cfg.train.max_steps, cfg.train.max_completion_length, cfg.eval.max_new_tokens, cfg.eval.limit
    (3, 16, 16, 8)
    """
    unknown = sorted(set(knobs) - set(KNOB_KEYS))
    if unknown:
        raise ParameterError(f"unknown notebook parameter {', '.join(map(repr, unknown))}; known: {', '.join(KNOB_KEYS)}")
    check_counts(knobs)
    settings = {"model.name": model, "data.source": data_source, "data.path": data_path}
    for knob, value in knobs.items():
        keys = KNOB_KEYS[knob]
        for key in (keys,) if isinstance(keys, str) else keys:
            settings[key] = value
    if out is not None:
        settings.update({"train.output_dir": str(Path(out) / "train"), "eval.out": str(Path(out) / "eval")})
    settings = {key: value for key, value in settings.items() if value is not None}
    # A smaller group than the profile's must still divide the batch, so the batch follows the group size.
    if "train.num_generations" in settings:
        settings.setdefault("train.per_device_train_batch_size", settings["train.num_generations"])
    cfg = load_config(profile, config_file, overrides=settings)
    return validate(apply_overrides(cfg, overrides))


def record(out_dir: str | Path, notebook: str, outputs: dict | None = None, **headline) -> None:
    """Write the notebook's headline figures (and the paths it hands the next notebook) to out_dir/NOTEBOOK.json,
    and print the headline."""
    headline = {k: _plain_number(v) for k, v in headline.items()}
    data = {"notebook": notebook, "headline": headline, "outputs": {k: str(v) for k, v in (outputs or {}).items()}}
    (Path(out_dir) / f"{notebook}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(headline))


def _plain_number(value):
    """numpy scalars and floats as JSON-ready Python numbers, floats to 4 decimals, inside lists too."""
    if isinstance(value, (list, tuple)):
        return [_plain_number(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    return round(value, 4) if isinstance(value, float) else value


def read_record(out_dir: str | Path, notebook: str) -> dict:
    path = Path(out_dir) / f"{notebook}.json"
    if not path.is_file():
        raise SuiteError(f"{notebook} wrote no {path.name}: its last cell did not run")
    return json.loads(path.read_text())


def describe_config(cfg: Config) -> str:
    """The settings a notebook runs with, one line per section (no paths, so the text is the same on every machine).

    >>> print(describe_config(notebook_config("cpu-smoke", max_steps=2)).splitlines()[2])
    train    2 steps, lr 1e-05, 4 completions per prompt, batch 4 x 1 accumulation, prompt <= 320 and completion <= 32 tokens, loss dapo, beta 0.0
    """
    d, m, t, e = cfg.data, cfg.model, cfg.train, cfg.eval
    adapter = f"LoRA r={m.lora_r}" + (" on 4-bit weights" if m.load_in_4bit else "") if m.lora else "all weights"
    source = source_module(d.source).origin(d)
    weights = ", ".join(f"{name} {weight:g}" for name, weight in cfg.rewards.weights.items() if weight)
    return "\n".join([
        f"model    {m.name} (dtype {m.dtype}, trains {adapter})",
        f"data     {d.source} from {source}, splits {d.split}/{d.eval_split}, "
        f"{'all rows' if d.limit is None else f'first {d.limit} rows'}, format {d.format}",
        f"train    {t.max_steps} steps, lr {t.learning_rate:g}, {t.num_generations} completions per prompt, "
        f"batch {t.per_device_train_batch_size} x {t.gradient_accumulation_steps} accumulation, "
        f"prompt <= {t.max_prompt_length} and completion <= {t.max_completion_length} tokens, "
        f"loss {t.loss_type}, beta {t.beta}",
        f"rewards  {cfg.rewards.correctness_mode} correctness; weights {weights}",
        f"eval     {'all' if e.limit is None else f'first {e.limit}'} {d.eval_split} questions, "
        f"{e.max_new_tokens} new tokens, {e.headline_rule} answer rule",
    ])


# --------------------------------------------------------------------------- headless execution


def notebook_path(name: str) -> Path:
    path = Path(name)
    if path.suffix != ".ipynb":
        path = NOTEBOOK_DIR / f"{name}.ipynb"
    if not path.is_file():
        raise SuiteError(f"no notebook {path}; the suite's notebooks are {', '.join(NOTEBOOKS)}")
    return path


def parameters_of(notebook: str | Path) -> dict:
    """The notebook's parameter names and defaults (as values), read from its `parameters` cell."""
    import ast

    import papermill

    found = papermill.inspect_notebook(str(notebook_path(notebook)))
    return {name: ast.literal_eval(spec["default"]) for name, spec in found.items()}


def execute(notebook: str | Path, out: str | Path, parameters: dict, name: str | None = None) -> Path:
    """Execute one notebook with papermill into out/NAME.ipynb (kernel started in notebooks/, like JupyterLab)."""
    import papermill

    source = notebook_path(notebook)
    target = Path(out) / f"{name or source.stem}.ipynb"
    known = parameters_of(source)
    # papermill injects any name it is given; passing only declared ones keeps a typo from being silently ignored
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ParameterError(f"{source.name} has no parameter(s) {', '.join(unknown)}; it takes {', '.join(known)}")
    check_counts(parameters)
    try:
        papermill.execute_notebook(str(source), str(target), parameters=parameters, kernel_name="python3",
                                   cwd=str(source.parent), progress_bar=False, log_output=False,
                                   config=_kernel_transport(), kernel_manager_class=quiet_shutdown_kernel_manager())
    except papermill.PapermillExecutionError as err:
        raise SuiteError(f"{source.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue} "
                         f"(the executed notebook is {target})") from None
    return target


def _kernel_transport():
    """Kernels talk to papermill over local sockets where the OS has them: not over unencrypted TCP, and without the
    kernel's warning about it in every run."""
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets.config import Config as TraitletsConfig

    if os.name != "posix":
        return TraitletsConfig()
    # the socket files go beside the kernel's connection file, not into the kernel's working folder (notebooks/)
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    return TraitletsConfig({"KernelManager": {"transport": "ipc", "ip": str(runtime / f"mathrl-{os.getpid()}-ipc")}})


def quiet_shutdown_kernel_manager():
    """jupyter_client's kernel manager, less the SIGINT it sends every kernel as it shuts it down: an idle kernel that
    the interrupt reaches between two messages logs "KeyboardInterrupt caught in kernel" into the user's terminal.
    A kernel that is still busy gets the shutdown request, then SIGTERM and SIGKILL, as before."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietShutdownKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def suite_parameters(profile: str, given: dict, known: dict) -> dict:
    """What one notebook gets: the profile and the given values it declares. Every other parameter keeps its default,
    None, which is the profile's value."""
    params = {k: v for k, v in given.items() if k in known}
    if "profile" in known:
        params["profile"] = profile
    return params


def check_given(given: dict, notebooks) -> None:
    """Refuse, before any kernel starts, a parameter that none of `notebooks` declares, and a bad count."""
    known = list(dict.fromkeys(name for notebook in notebooks for name in parameters_of(notebook)))
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ParameterError(f"no notebook of this run has a parameter {', '.join(unknown)}; the parameters are "
                             f"{', '.join(known)}")
    check_counts(given)


def run_suite(out: str | Path, profile: str = DEFAULT_PROFILE, parameters: dict | None = None,
              notebooks=NOTEBOOKS, echo=print) -> dict:
    """Execute the notebooks in order into `out`, handing each the outputs the earlier ones recorded; write
    out/summary.json and out/summary.md and return the summary."""
    check_given(parameters or {}, notebooks)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    given = {**(parameters or {}), "out_dir": str(out)}
    summary = {"profile": profile, "out": str(out), "notebooks": {}}
    for name in notebooks:
        known = parameters_of(name)
        params = suite_parameters(profile, given, known)
        start = time.perf_counter()
        execute(name, out, params)
        result = read_record(out, name)
        seconds = round(time.perf_counter() - start, 1)
        summary["notebooks"][name] = {"seconds": seconds, **result["headline"]}
        given.update({k: v for k, v in result["outputs"].items() if k not in (parameters or {})})
        echo(f"{name:<26} {seconds:7.1f} s  {_headline_text(result['headline'])}")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    return summary


def _headline_text(headline: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in headline.items() if not isinstance(v, (dict, list)))


def summary_markdown(summary: dict) -> str:
    lines = [f"# mathrl suite: profile {summary['profile']}", "", "| notebook | seconds | headline |", "|---|---|---|"]
    for name, result in summary["notebooks"].items():
        rest = {k: v for k, v in result.items() if k != "seconds"}
        lines.append(f"| {name} | {result['seconds']} | {_headline_text(rest)} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- sweeps


def read_sweep(path: str | Path) -> tuple[str, list[dict]]:
    """(notebook, parameter sets) from a YAML file `{notebook: 03_grpo_training, runs: [{...}, ...]}`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SuiteError(f"{path}: cannot read the sweep file ({err})") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise SuiteError(f"{path}: expected `notebook: NAME` and `runs:` as a list of parameter mappings")
    return str(data.get("notebook", "03_grpo_training")), runs


def sweep(notebook: str, param_sets: list[dict], out: str | Path, base: dict | None = None, echo=print) -> list[dict]:
    """Execute `notebook` once per parameter set into out/NAME-i.ipynb (each writing to out/run-i) and return the
    results table: one row per set, its parameters then its headline figures. Also writes out/results.md/.json."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stem = notebook_path(notebook).stem
    known = parameters_of(notebook)
    shared = {k: v for k, v in (base or {}).items() if k in known}  # e.g. the profile, for notebooks that take one
    rows = []
    for i, params in enumerate(param_sets):
        run_dir = out / f"run-{i}"
        execute(notebook, out, {**shared, **params, "out_dir": str(run_dir)}, name=f"{stem}-{i}")
        headline = read_record(run_dir, stem)["headline"]
        rows.append({"run": i, **params, **{k: v for k, v in headline.items() if not isinstance(v, (dict, list))}})
        echo(f"{stem}-{i}: {_headline_text(rows[-1])}")
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    (out / "results.md").write_text(results_markdown(rows))
    return rows


def results_markdown(rows: list[dict]) -> str:
    """A markdown table of sweep rows (columns in first-seen order).

    >>> print(results_markdown([{"run": 0, "max_steps": 2, "accuracy": 0.25}, {"run": 1, "max_steps": 4}]))
    | run | max_steps | accuracy |
    |---|---|---|
    | 0 | 2 | 0.25 |
    | 1 | 4 |  |
    <BLANKLINE>
    """
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command line


def add_run_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/suite", help="folder for executed notebooks, records and figures")
    parser.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="notebook parameter, e.g. -p max_steps 10 (YAML value)")
    parser.add_argument("--sweep", help="YAML file: `notebook: NAME` and `runs: [{param: value}, ...]`")
    parser.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="run only these notebooks, in suite order")


def parameter_value(text: str):
    """A `-p NAME VALUE` value: YAML, with None/none also meaning None as in the notebooks.

    >>> [parameter_value(t) for t in ("10", "None", "1.0e-5", "kaggle-2xt4", "[2, 4]")]
    [10, None, 1e-05, 'kaggle-2xt4', [2, 4]]
    """
    return None if text.strip().lower() == "none" else yaml.safe_load(text)


def given_parameters(args) -> dict:
    """The parameters `mathrl run` hands the notebooks: `-p` values, then --config (as an absolute path, since a
    kernel starts in notebooks/) and --set, which every notebook takes."""
    given = {name: parameter_value(value) for name, value in args.parameters}
    if args.config_file:
        given["config_file"] = str(Path(args.config_file).resolve())
    if args.overrides:  # already checked by load_config in the command line, before any kernel starts
        if "overrides" in given:
            raise ParameterError("give settings with --set or with -p overrides, not both")
        given["overrides"] = list(args.overrides)
    return given


def run_run(args, cfg: Config) -> int:
    given = given_parameters(args)
    if args.sweep:
        notebook, runs = read_sweep(args.sweep)
        sweep(notebook, runs, args.out, base={"profile": cfg.profile, **given})
        print(f"results: {Path(args.out) / 'results.md'}")
        return 0
    notebooks = [n for n in NOTEBOOKS if not args.only or n in args.only]
    summary = run_suite(args.out, cfg.profile, given, notebooks)
    print(f"executed notebooks and summary.md in {summary['out']}; figures in {Path(summary['out']) / 'figures'}",
          file=sys.stderr)
    return 0
