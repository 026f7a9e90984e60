"""Profiles are data: one YAML file each in mathrl/profiles/, read by config and shipped with the package."""

import fnmatch
import tomllib
from pathlib import Path

import pytest

from mathrl import config
from mathrl.config import PROFILE_DIR, ConfigError, load_config, read_profiles

MINE = """help: "one T4, a shorter run"
model:
  name: Qwen/Qwen2.5-0.5B-Instruct
train:
  max_steps: 50
  learning_rate: 2.0e-6
"""


def test_a_new_profile_is_one_file(tmp_path, monkeypatch):
    (tmp_path / "my-t4.yaml").write_text(MINE)
    profiles = read_profiles(tmp_path)
    assert profiles == {"my-t4": {"_help": "one T4, a shorter run", "model.name": "Qwen/Qwen2.5-0.5B-Instruct",
                                  "train.max_steps": 50, "train.learning_rate": 2e-6}}
    monkeypatch.setattr(config, "PROFILES", profiles)
    cfg = load_config("my-t4", overrides=["train.per_device_train_batch_size=8"])
    assert (cfg.profile, cfg.model.name, cfg.train.max_steps, cfg.train.learning_rate) == ("my-t4", "Qwen/Qwen2.5-0.5B-Instruct", 50, 2e-6)


@pytest.mark.parametrize(("text", "message"), [
    ("train:\n  max_steps: 5\n", "give the profile a one-line `help:`"),
    ("help: short\ntrian:\n  max_steps: 5\n", "'trian' is not a section; use data, model, rewards, train, eval"),
    ("help: short\ntrain: 5\n", "'train' is not a section"),
])
def test_a_broken_profile_file_is_named(tmp_path, text, message):
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        read_profiles(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'broken.yaml'}: {message}")


def test_a_bad_value_in_a_profile_names_its_file(tmp_path, monkeypatch):
    (tmp_path / "typo.yaml").write_text("help: short\ntrain:\n  max_step: 5\n")
    monkeypatch.setattr(config, "PROFILES", read_profiles(tmp_path))
    with pytest.raises(ConfigError, match=r"typo\.yaml: unknown setting 'train.max_step' \(did you mean max_steps"):
        load_config("typo")


def test_every_profile_file_ships_with_the_package():
    pyproject = tomllib.loads((PROFILE_DIR.parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mathrl"]
    files = sorted(PROFILE_DIR.glob("*.yaml"))
    assert files and set(config.PROFILES) == {f.stem for f in files}
    for path in files:
        assert any(fnmatch.fnmatch(path.relative_to(PROFILE_DIR.parent).as_posix(), p) for p in patterns), path


def test_a_profile_extends_another_and_states_only_what_it_changes(tmp_path, monkeypatch):
    (tmp_path / "base.yaml").write_text("help: the base\ntrain:\n  max_steps: 40\n  learning_rate: 5.0e-6\n")
    (tmp_path / "short.yaml").write_text("help: a short variant\nextends: base\ntrain:\n  max_steps: 12\n")
    profiles = read_profiles(tmp_path)
    assert list(profiles) == ["base", "short"]
    assert profiles["short"] == {"_help": "a short variant", "train.max_steps": 12, "train.learning_rate": 5e-6}
    assert profiles["base"]["train.max_steps"] == 40
    monkeypatch.setattr(config, "PROFILES", profiles)
    cfg = load_config("short")
    assert (cfg.train.max_steps, cfg.train.learning_rate) == (12, 5e-6)


@pytest.mark.parametrize(("files", "message"), [
    ({"a.yaml": "help: a\nextends: nowhere\n"}, "a.yaml: extends 'nowhere', which is not a profile; choose one of: a"),
    ({"a.yaml": "help: a\nextends: b\n", "b.yaml": "help: b\nextends: a\n"},
     "b.yaml: extends 'a', which extends it back (a -> b -> a)"),
    ({"a.yaml": "help: a\nextends: a\n"}, "a.yaml: extends 'a', which extends it back (a -> a)"),
])
def test_a_broken_extends_is_named(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as err:
        read_profiles(tmp_path)
    assert message in str(err.value)


def test_the_main_job_profile_is_cpu_learn_with_a_shorter_grpo_stage():
    demo, learn = load_config("cpu-demo"), load_config("cpu-learn")
    assert demo.data == learn.data and demo.model == learn.model and demo.rewards == learn.rewards
    assert demo.train.format_warmup_steps == learn.train.format_warmup_steps > 0
    assert demo.train.max_steps < learn.train.max_steps
    assert demo.eval.during_training_every > 0 and demo.eval.during_training_limit > 0
