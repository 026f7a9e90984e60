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
