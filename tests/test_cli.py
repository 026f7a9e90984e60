"""Command line: usage errors are one line with status 2; env and data subcommands work."""

import json
import subprocess
import sys

from mathrl.cli import DATA_COMMANDS, main


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


def test_bad_data_exits_1_naming_the_file(capsys, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text("{oops\n")
    assert main(["data", "stats", "--source", "file", "--path", str(path)]) == 1
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
        assert main(argv) == 1, command  # it read the file named by --path, not the shipped copy
        assert f"{broken}:1: malformed JSON" in capsys.readouterr().err, command


def test_data_field_options_map_a_file_of_another_shape(capsys, tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({"problem": "What is 2 + 3?", "final": "5"}) + "\n")
    argv = ["data", "show", "--source", "file", "--path", str(path), "--question-field", "problem",
            "--answer-field", "final", "--answer-style", "final"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["question"] == "What is 2 + 3?"


def test_env_json_lists_versions_against_pins(capsys):
    assert main(["env", "--json", "--offline"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["precision"] == "float32"  # no GPU here
    assert {v["package"] for v in report["versions"]} >= {"trl", "transformers", "torch"}
    trl = next(v for v in report["versions"] if v["package"] == "trl")
    assert trl["status"] == "ok"


def test_python_dash_m_runs_the_same_cli():
    done = subprocess.run([sys.executable, "-m", "mathrl", "frobnicate"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown command 'frobnicate'" in done.stderr
