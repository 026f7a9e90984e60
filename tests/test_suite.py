"""The suite runner: notebook parameters to config, records, parameter hand-over, sweeps, setup helpers, `mathrl run`."""

import ast
import json

import nbformat
import pytest
import yaml

from mathrl.cli import hosted, suite
from mathrl.cli.commands import main
from mathrl.config import PROFILES
from mathrl.report import review


def test_notebook_parameters_override_the_profile_and_none_keeps_it():
    cfg = suite.notebook_config("cpu-smoke", max_steps=3, completion_tokens=16, limit=None, num_generations=2)
    assert cfg.train.max_steps == 3  # given (the profile says 2)
    assert cfg.train.max_completion_length == cfg.eval.max_new_tokens == 16  # one knob, both lengths
    assert cfg.data.limit == 64  # None: the profile's value
    assert cfg.train.per_device_train_batch_size == 2  # follows a smaller group so it still divides


def test_overrides_accept_a_mapping_or_command_line_strings(tmp_path):
    as_dict = suite.notebook_config("cpu-smoke", overrides={"train.learning_rate": 3e-5}, out=tmp_path)
    as_text = suite.notebook_config("cpu-smoke", overrides=["train.learning_rate=3e-5"])
    assert as_dict.train.learning_rate == as_text.train.learning_rate == 3e-5
    assert as_dict.train.output_dir == str(tmp_path / "train") and as_dict.eval.out == str(tmp_path / "eval")


def test_unknown_knob_is_refused():
    with pytest.raises(suite.ParameterError, match="unknown notebook parameter 'steps'"):
        suite.notebook_config("cpu-smoke", steps=3)


@pytest.mark.parametrize("value", [-3, 0, 2.5, True, "8"])
def test_a_count_that_is_not_a_whole_number_from_one_is_refused(value):
    with pytest.raises(suite.ParameterError, match=f"limit={value!r}: give a whole number >= 1"):
        suite.notebook_config("cpu-smoke", limit=value)


def test_config_description_holds_no_paths(tmp_path):
    text = suite.describe_config(suite.notebook_config("cpu-smoke", out=tmp_path))
    assert str(tmp_path) not in text and "smollm2-135m-instruct" in text


def test_output_dir_follows_the_parameter_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(suite.OUT_ENV, str(tmp_path / "env"))
    assert suite.output_dir() == tmp_path / "env"
    assert suite.output_dir(tmp_path / "given") == tmp_path / "given"
    assert (tmp_path / "given" / "figures").is_dir()


def test_record_round_trips_and_prints_the_headline(tmp_path, capsys):
    suite.record(tmp_path, "03_grpo_training", outputs={"trained_model": tmp_path / "final"}, steps=2, reward=0.123456)
    assert json.loads(capsys.readouterr().out) == {"steps": 2, "reward": 0.1235}
    data = suite.read_record(tmp_path, "03_grpo_training")
    assert data["outputs"] == {"trained_model": str(tmp_path / "final")}
    with pytest.raises(suite.SuiteError, match="wrote no 04_evaluation_and_plots.json"):
        suite.read_record(tmp_path, "04_evaluation_and_plots")


def test_every_notebook_declares_profile_and_out_dir_and_leaves_settings_to_the_profile():
    settings = {"config_file", "model", "data_source", "data_path", *suite.KNOB_KEYS}
    for name in suite.NOTEBOOKS:
        params = suite.parameters_of(name)  # as papermill reads the committed notebook
        assert params == {p: default for p, default, _ in suite.PARAMETERS[name]}, name
        assert params["profile"] == "cpu-smoke" and params["out_dir"] is None and params["overrides"] == {}, name
        assert all(params[p] is None for p in settings & set(params)), name  # None: the profile's value


def _config_call(name):
    """The `suite.notebook_config(...)` expression of a committed notebook, as the notebook writes it."""
    nb = nbformat.read(suite.notebook_path(name), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "notebook_config(" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "notebook_config":
                    return compile(ast.Expression(node), name, "eval")
    raise AssertionError(f"{name} never calls suite.notebook_config")


def _notebook_configs(monkeypatch, tmp_path, argv):
    """Each notebook's resolved settings after `mathrl run ARGV`: the parameters the command line hands papermill,
    over the notebook's own defaults, through the notebook's own config call. Only papermill is left out."""
    handed = {}

    def execute(notebook, out, parameters, name=None):
        handed[notebook] = parameters
        suite.record(out, notebook)

    monkeypatch.setattr(suite, "execute", execute)
    assert main(["run", "--out", str(tmp_path / "run"), *argv]) == 0
    resolved = {}
    for name, params in handed.items():
        namespace = {**suite.parameters_of(name), **params, "suite": suite, "out": tmp_path / "run"}
        resolved[name] = _settings(eval(_config_call(name), namespace).to_dict())
    return resolved


def _settings(data):
    """A resolved config without the two paths a run's output folder decides."""
    data = yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(data))))  # as `mathrl config` prints it
    data["train"].pop("output_dir"), data["eval"].pop("out")
    return data


def _mathrl_config(capsys, argv):
    capsys.readouterr()
    assert main(["config", *argv]) == 0
    return _settings(yaml.safe_load(capsys.readouterr().out))


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_notebook_runs_the_profile_mathrl_config_prints(profile, monkeypatch, tmp_path, capsys):
    resolved = _notebook_configs(monkeypatch, tmp_path, ["--profile", profile])
    expected = _mathrl_config(capsys, ["--profile", profile])
    assert list(resolved) == list(suite.NOTEBOOKS)
    for name, settings in resolved.items():
        assert settings == expected, name


def test_config_file_and_set_reach_every_notebook(monkeypatch, tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("profile: cpu-learn\ntrain:\n  learning_rate: 3.0e-5\n  max_steps: 7\neval:\n  limit: 5\n")
    argv = ["--config", str(path), "--set", "data.limit=9"]
    resolved = _notebook_configs(monkeypatch, tmp_path, argv)
    expected = _mathrl_config(capsys, argv)
    # the file's values and --set's, over the profile the file names
    assert (expected["train"]["learning_rate"], expected["train"]["max_steps"]) == (3e-5, 7)
    assert (expected["eval"]["limit"], expected["data"]["limit"], expected["data"]["source"]) == (5, 9, "reasoning_gym")
    for name, settings in resolved.items():
        assert settings == expected, name


def test_run_refuses_an_unknown_parameter_before_any_notebook_runs(monkeypatch, capsys):
    monkeypatch.setattr(suite, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["run", "--out", "unused", "-p", "rowz", "5"]) == 2
    err = capsys.readouterr().err
    assert "no notebook of this run has a parameter rowz" in err and "rows" in err and "max_steps" in err
    # a parameter of a notebook left out of the run is unknown too
    assert main(["run", "--out", "unused", "--only", "00_setup", "-p", "rows", "5"]) == 2


@pytest.mark.parametrize("name, value", [("rows", "-3"), ("limit", "0"), ("eval_limit", "2.5"), ("max_steps", "x")])
def test_run_refuses_a_bad_count_before_any_notebook_runs(name, value, monkeypatch, capsys):
    monkeypatch.setattr(suite, "execute", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["run", "--out", "unused", "-p", name, value]) == 2
    assert f"{name}=" in capsys.readouterr().err


def test_a_notebook_refuses_an_injected_parameter_it_does_not_take():
    declared = {p: default for p, default, _ in suite.PARAMETERS["01_data_exploration"]}
    kernel = {"In": [""], "Out": {}, "_i1": "", "os": ast, **declared}  # IPython's names and a module pass
    suite.check_parameters(dict(kernel), "01_data_exploration")
    with pytest.raises(suite.ParameterError, match="has no parameter rowz; it takes profile, config_file"):
        suite.check_parameters({**kernel, "rowz": 5}, "01_data_exploration")
    with pytest.raises(suite.ParameterError, match="rows=-3"):
        suite.check_parameters({**kernel, "rows": -3}, "01_data_exploration")


def test_unknown_parameter_names_the_notebook(tmp_path):
    with pytest.raises(suite.ParameterError, match="00_setup.ipynb has no parameter"):
        suite.execute("00_setup", tmp_path, {"max_stepz": 3})


def _tiny_notebook(path):
    """A notebook with one parameters cell that records its parameter: enough to run papermill in seconds."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1\nout_dir = None")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(
        "from mathrl.cli import suite\nsuite.record(suite.output_dir(out_dir), 'tiny', square=x * x)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_sweep_runs_one_notebook_per_parameter_set_and_tabulates(tmp_path):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    rows = suite.sweep(str(notebook), [{"x": 2}, {"x": 3}], tmp_path / "sweep", echo=lambda _: None)
    assert [r["square"] for r in rows] == [4, 9]
    assert (tmp_path / "sweep" / "tiny-1.ipynb").is_file()
    assert "| run | x | square |" in (tmp_path / "sweep" / "results.md").read_text()


@pytest.mark.slow
def test_run_sweep_from_the_command_line(tmp_path, capsys):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    (tmp_path / "sweep.yaml").write_text(f"notebook: {notebook}\nruns:\n  - {{x: 5}}\n")
    # the profile is handed only to notebooks that declare it
    assert main(["run", "--out", str(tmp_path / "s"), "--sweep", str(tmp_path / "sweep.yaml")]) == 0
    assert json.loads((tmp_path / "s" / "results.json").read_text())[0]["square"] == 25


def test_sweep_file_must_list_parameter_sets(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("notebook: 03_grpo_training\nruns: {max_steps: 2}\n")
    with pytest.raises(suite.SuiteError, match="list of parameter mappings"):
        suite.read_sweep(path)
    path.write_text("notebook: 03_grpo_training\nruns:\n  - {max_steps: 2}\n  - {max_steps: 4}\n")
    assert suite.read_sweep(path) == ("03_grpo_training", [{"max_steps": 2}, {"max_steps": 4}])


def test_run_command_rejects_a_bad_setting_before_any_kernel_starts(capsys):
    assert main(["run", "--out", "unused", "--set", "train.max_stepz=3"]) == 2
    assert "unknown setting 'train.max_stepz'" in capsys.readouterr().err


def test_nothing_to_install_here_and_torch_is_never_planned():
    assert hosted.install_plan() == []


def test_hub_token_from_a_secret_is_never_printed(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hosted, "_secret", lambda platform: "hf_SECRETVALUE")
    message = hosted.hub_login()
    assert "hf_SECRETVALUE" not in message and "secret HF_TOKEN" in message
    import os

    assert os.environ["HF_TOKEN"] == "hf_SECRETVALUE"


def test_no_token_means_public_models_only(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hosted, "_secret", lambda platform: None)
    assert "public models" in hosted.hub_login()


def test_trained_model_says_to_run_notebook_03_first(tmp_path):
    with pytest.raises(review.MathrlError, match="run notebook 03"):
        review.trained_model(None, tmp_path)


@pytest.mark.slow
def test_a_notebook_run_by_papermill_refuses_an_unknown_parameter(tmp_path):
    import papermill

    with pytest.raises(papermill.PapermillExecutionError, match="00_setup has no parameter rowz"):
        papermill.execute_notebook(str(suite.notebook_path("00_setup")), str(tmp_path / "00.ipynb"),
                                   parameters={"rowz": 5, "out_dir": str(tmp_path)}, kernel_name="python3",
                                   cwd=str(suite.NOTEBOOK_DIR), progress_bar=False)


@pytest.mark.slow
def test_a_config_file_reaches_an_executed_notebook(tmp_path):
    (tmp_path / "mine.yaml").write_text("train:\n  learning_rate: 3.0e-5\n")
    assert main(["run", "--only", "00_setup", "--out", str(tmp_path / "run"), "--config", str(tmp_path / "mine.yaml"),
                 "--set", "train.max_steps=7"]) == 0
    printed = nbformat.read(tmp_path / "run" / "00_setup.ipynb", as_version=4).cells
    config_cell = next(c for c in printed if c.cell_type == "code" and "describe_config" in c.source)
    assert "train    7 steps, lr 3e-05," in config_cell.outputs[0]["text"]  # cpu-smoke alone says 2 steps, lr 1e-05


@pytest.mark.parametrize("quiet", [True, False])
def test_kernels_shut_down_without_the_interrupt_that_makes_an_idle_kernel_log_keyboardinterrupt(quiet, monkeypatch):
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    interrupts = []
    real = AsyncKernelManager._async_interrupt_kernel

    async def recorded(self):
        interrupts.append(self.shutting_down)
        await real(self)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", recorded)
    manager = (suite.quiet_shutdown_kernel_manager() if quiet else AsyncKernelManager)(kernel_name="python3")

    async def start_and_stop():
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        client.stop_channels()
        await manager.shutdown_kernel()
        return await manager.is_alive()

    assert asyncio.run(start_and_stop()) is False
    # jupyter_client itself interrupts a kernel it shuts down (the plain manager); the suite's manager does not
    assert interrupts == ([] if quiet else [True])
