"""The suite runner: notebook parameters to config, records, parameter hand-over, sweeps, setup helpers, `mathrl run`."""

import json

import nbformat
import pytest

from mathrl import hosted, review, suite
from mathrl.cli import main


def test_notebook_parameters_override_the_profile_and_none_keeps_it():
    cfg = suite.notebook_config("cpu-smoke", max_steps=2, completion_tokens=16, limit=None, num_generations=2)
    assert cfg.train.max_steps == 2  # given
    assert cfg.train.max_completion_length == cfg.eval.max_new_tokens == 16  # one knob, both lengths
    assert cfg.data.limit == 64  # None: the profile's value
    assert cfg.train.per_device_train_batch_size == 2  # follows a smaller group so it still divides


def test_overrides_accept_a_mapping_or_command_line_strings(tmp_path):
    as_dict = suite.notebook_config("cpu-smoke", overrides={"train.learning_rate": 3e-5}, out=tmp_path)
    as_text = suite.notebook_config("cpu-smoke", overrides=["train.learning_rate=3e-5"])
    assert as_dict.train.learning_rate == as_text.train.learning_rate == 3e-5
    assert as_dict.train.output_dir == str(tmp_path / "train") and as_dict.eval.out == str(tmp_path / "eval")


def test_unknown_knob_is_refused():
    with pytest.raises(suite.SuiteError, match="unknown notebook parameter 'steps'"):
        suite.notebook_config("cpu-smoke", steps=3)


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


def test_every_notebook_declares_profile_and_out_dir_with_smoke_defaults():
    for name in suite.NOTEBOOKS:
        params = suite.parameters_of(name)
        assert params["profile"] == "cpu-smoke" and params["out_dir"] is None, name


def test_a_gpu_profile_takes_its_own_values_for_the_smoke_knobs():
    known = suite.parameters_of("03_grpo_training")
    smoke = suite.suite_parameters("cpu-smoke", {"out_dir": "x"}, known)
    assert smoke == {"out_dir": "x", "profile": "cpu-smoke"}  # the notebook's tiny defaults apply
    gpu = suite.suite_parameters("kaggle-2xt4", {"out_dir": "x", "max_steps": 50}, known)
    assert gpu["max_steps"] == 50 and gpu["limit"] is None and gpu["completion_tokens"] is None


def test_unknown_parameter_names_the_notebook(tmp_path):
    with pytest.raises(suite.SuiteError, match="00_setup.ipynb has no parameter"):
        suite.execute("00_setup", tmp_path, {"max_stepz": 3})


def _tiny_notebook(path):
    """A notebook with one parameters cell that records its parameter: enough to run papermill in seconds."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x = 1\nout_dir = None")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(
        "from mathrl import suite\nsuite.record(suite.output_dir(out_dir), 'tiny', square=x * x)")]
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
