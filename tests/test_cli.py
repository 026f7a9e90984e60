"""Command line: every failure is one line (status 2 for usage and input, 1 for the unexpected) and changes no file;
env and data subcommands work."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mathrl.cli.commands import DATA_COMMANDS, main


def test_data_stats_on_the_test_split(capsys, gsm8k_dir):
    assert main(["data", "stats", "--source", "gsm8k", "--path", str(gsm8k_dir), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "gsm8k test: 1319 rows" in out and "question_words" in out


def test_data_stats_json(capsys):
    assert main(["data", "stats", "--split", "train", "--limit", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 10


def test_usage_errors_exit_2_with_one_line(capsys):
    cases = [
        ["frobnicate"],  # unknown command
        ["data", "stats", "--profile", "nope"],  # unknown profile
        ["data", "stats", "--set", "train.max_steps=-1"],  # invalid value
        ["data", "stats", "--bogus"],  # unknown flag
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, (argv, err)


def test_bad_data_exits_2_naming_the_file(capsys, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{oops\n")
    assert main(["data", "stats", "--source", "file", "--path", str(path)]) == 2
    assert f"{path}:1: malformed JSON" in capsys.readouterr().err


def test_every_command_that_reads_problems_takes_the_data_options(capsys, tmp_path, tiny_model_dir):
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{oops\n")
    data = ["--source", "file", "--path", str(broken)]
    runs = {
        "data": ["data", "stats", *data],
        "eval": ["eval", *data, "--model", str(tiny_model_dir), "--limit", "1", "--out", str(tmp_path / "eval")],
        "train": ["train", *data, "--set", f"model.name={tiny_model_dir}", "--output-dir", str(tmp_path / "train")],
    }
    assert set(runs) == set(DATA_COMMANDS)
    for command, argv in runs.items():
        assert main(argv) == 2, command  # it read the file named by --path, not the shipped copy
        assert f"{broken}:1: malformed JSON" in capsys.readouterr().err, command


def test_data_field_options_map_a_file_of_another_shape(capsys, tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"problem": "What is 2 + 3?", "final": "5"}) + "\n")
    argv = ["data", "show", "--source", "file", "--path", str(path), "--question-field", "problem",
            "--answer-field", "final", "--answer-style", "final"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["question"] == "What is 2 + 3?"


def test_env_json_lists_versions_against_pins(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    assert main(["env", "--json", "--offline"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "float32"  # no GPU: training runs in fp32
    assert {v["package"] for v in report["versions"]} >= {"trl", "transformers", "torch"}
    trl = next(v for v in report["versions"] if v["package"] == "trl")
    assert trl["status"] == "ok"


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run([sys.executable, "-m", "mathrl", "frobnicate"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown command 'frobnicate'" in done.stderr


# --------------------------------------------------------------------------- every door: one line, status 2, no harm


def _tree(root: Path) -> dict:
    """Every file and folder under root with its bytes (None for a folder)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _refused(capsys, folder: Path, argv: list[str], *named: str, status: int = 2) -> str:
    """Run the command; it must exit with `status`, end in one `error:` line naming each of `named`, print no
    traceback, and leave every file under `folder` (the user's, and any it should not have written) as it was."""
    before = _tree(folder)
    assert main(argv) == status, argv
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("error:") and sum(line.startswith("error:") for line in lines) == 1, err
    for text in named:
        assert text in lines[-1], (text, lines[-1])
    assert _tree(folder) == before, "a refused command changed files"
    return lines[-1]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # relative default outputs (runs/...) would land here, where _refused sees them
    return tmp_path


def test_yaml_values_reach_the_run_typed(capsys, in_tmp):
    path = in_tmp / "run.yaml"
    path.write_text('train:\n  learning_rate: 1e-5\nmodel:\n  lora: "false"\n  trust_remote_code: "false"\n')
    assert main(["config", "--config", str(path)]) == 0
    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["train"]["learning_rate"] == 1e-5  # a string to PyYAML, a float in the run
    assert resolved["model"]["lora"] is False and resolved["model"]["trust_remote_code"] is False


@pytest.mark.parametrize(
    "text, named",
    [
        (b"train:\n  max_steps: abc\n", "train.max_steps='abc': expected a whole number"),
        (b"model:\n  name: [a, b]\n", "model.name=['a', 'b']: expected text"),  # a list where a name belongs
        (b"train:\n  temperature: .nan\n", "train.temperature=nan: give a finite number"),
        (b"train:\n  learning_rate: .inf\n", "train.learning_rate=inf: give a finite number"),
        (b"model:\n  lora: true\n  lora_r: 0\n", "model.lora_r=0 must be at least 1"),
        (b"data:\n  limit: -5\n", "data.limit=-5 must be at least 1"),
        (b"model:\n  trust_remote_code: maybe\n", "model.trust_remote_code='maybe': expected true or false"),
        (b"train: [1, 2\n", "not valid YAML at line 2"),
        (b"data:\n  system_prompt: 'caf\xe9 <answer>'\n", "line 2 is not UTF-8 text (byte 0xe9)"),  # Latin-1 bytes
    ],
)
def test_a_bad_yaml_config_is_one_line_naming_the_key(capsys, in_tmp, text, named):
    path = in_tmp / "run.yaml"
    path.write_bytes(text)
    line = _refused(capsys, in_tmp, ["train", "--config", str(path), "--output-dir", "out"], named)
    assert str(path) in line or "=" in named  # file problems name the file, value problems the key


def test_a_quoted_false_in_yaml_never_runs_the_model_folders_code(capsys, in_tmp, remote_code_model):
    folder, marker = remote_code_model
    path = in_tmp / "ask.yaml"
    path.write_text(f'model:\n  name: {folder}\n  trust_remote_code: "false"\n')
    assert main(["ask", "--config", str(path), "--max-new-tokens", "2", "What is 2 + 3?"]) == 0
    assert not marker.exists(), "the model folder's code ran"


def test_non_utf8_data_and_sweep_files_are_named(capsys, in_tmp):
    data = in_tmp / "problems.jsonl"
    data.write_bytes(b'{"question": "caf\xe9?", "answer": "#### 1"}\n')
    _refused(capsys, in_tmp, ["data", "stats", "--source", "file", "--path", str(data)], str(data), "UTF-8")
    sweep = in_tmp / "sweep.yaml"
    sweep.write_bytes(b"notebook: 03_grpo_training\nruns:\n  - {run_name: caf\xe9}\n")
    _refused(capsys, in_tmp, ["run", "--sweep", str(sweep), "--out", "sweep-out"], str(sweep),
             "line 3 is not UTF-8 text (byte 0xe9)")


def test_an_output_dir_that_is_a_regular_file_is_named(capsys, in_tmp, tiny_model_dir):
    taken = in_tmp / "notes.txt"
    taken.write_text("my notes\n")
    _refused(capsys, in_tmp, ["train", "--set", f"model.name={tiny_model_dir}", "--output-dir", str(taken)], str(taken),
             "--output-dir")
    _refused(capsys, in_tmp, ["train", "--set", f"model.name={tiny_model_dir}", "--output-dir", str(taken / "run")],
             str(taken), "--output-dir")


def test_an_output_dir_mathrl_may_not_write_is_named(capsys, in_tmp, tiny_model_dir, monkeypatch):
    # Tests run as root here, which chmod cannot stop; the OS's answer for a read-only folder is raised instead.
    locked = in_tmp / "locked"
    locked.mkdir()
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if Path(path).is_relative_to(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    line = _refused(capsys, in_tmp, ["train", "--set", f"model.name={tiny_model_dir}", "--output-dir",
                                     str(locked / "run")], str(locked / "run"), "choose a path you may write to")
    assert "permission" in line.lower()


def test_a_broken_config_yaml_in_the_output_dir_is_named(capsys, in_tmp, tiny_model_dir):
    out = in_tmp / "run"
    out.mkdir()
    (out / "config.yaml").write_text("model: [\n")
    _refused(capsys, in_tmp, ["train", "--set", f"model.name={tiny_model_dir}", "--output-dir", str(out)],
             str(out / "config.yaml"), "--output-dir")


def test_a_truncated_safetensors_file_is_named(capsys, in_tmp, tiny_model_dir):
    model = in_tmp / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a download cut short
    _refused(capsys, in_tmp, ["ask", "--model", str(model), "What is 2 + 3?"], "model.safetensors")


@pytest.mark.parametrize(
    "argv, named",
    [
        (["plan", "--memory-gib", "-3"], "argument --memory-gib: -3.0 must be greater than 0"),
        (["plan", "--memory-gib", "inf"], "argument --memory-gib: 'inf': give a finite number"),
        (["data", "stats", "--limit", "-2"], "argument --limit: data.limit=-2 must be at least 1"),
        (["eval", "--limit", "-1"], "argument --limit: eval.limit=-1 must be at least 1"),
        (["train", "--max-steps", "0"], "argument --max-steps: train.max_steps=0 must be at least 1"),
        (["ask", "--max-new-tokens", "0", "What is 2 + 3?"],
         "argument --max-new-tokens: eval.max_new_tokens=0 must be at least 1"),
        (["eval", "--k", "0"], "argument --k: 0 must be at least 1"),
        (["eval", "--samples", "two"], "argument --samples: eval.num_samples='two': expected a whole number"),
    ],
)
def test_bad_option_values_are_refused_naming_the_option(capsys, in_tmp, argv, named):
    _refused(capsys, in_tmp, argv, named)


def test_an_unexpected_error_is_one_line_unless_the_traceback_is_asked_for(capsys, in_tmp, monkeypatch):
    import mathrl.env

    def broken(args, cfg):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(mathrl.env, "run_env", broken)
    _refused(capsys, in_tmp, ["env"], "ZeroDivisionError: division by zero", "--traceback", status=1)
    for argv in (["--traceback", "env"], ["env", "--traceback"]):
        with pytest.raises(ZeroDivisionError):
            main(argv)
    monkeypatch.setenv("MATHRL_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["env"])


def test_the_console_command_shows_the_traceback_only_when_asked(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("train:\n  max_steps: abc\n")
    command = [sys.executable, "-m", "mathrl", "config", "--config", str(path)]
    plain = subprocess.run(command, capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.strip() == "error: train.max_steps='abc': expected a whole number"
    shown = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MATHRL_TRACEBACK": "1"})
    assert "Traceback" in shown.stderr and "ConfigError: train.max_steps='abc'" in shown.stderr
