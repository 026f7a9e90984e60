"""Choice settings: one Literal type gives the values a setting accepts, its refusal message and its help text."""

from dataclasses import fields

import pytest

from mathrl.arithmetic import WORKED_METHODS
from mathrl.config import Config, ConfigError, choices, field_help, load_config, setting_help

SECTIONS = {f"{section.name}.{f.name}": section.default_factory
            for section in fields(Config) if section.name != "profile" for f in fields(section.default_factory)}
CHOICE_KEYS = sorted(key for key, section in SECTIONS.items() if choices(section, key.split(".")[1]))


def test_the_settings_with_a_fixed_set_of_values_are_typed_as_choices():
    assert CHOICE_KEYS == ["data.answer_style", "data.source", "data.worked_method", "eval.headline_rule",
                           "model.dtype", "rewards.correctness_mode", "rewards.percent", "train.loss_type",
                           "train.scale_rewards"]
    assert choices(SECTIONS["data.worked_method"], "worked_method") == WORKED_METHODS  # what data can write


@pytest.mark.parametrize("key", CHOICE_KEYS)
def test_a_choice_setting_takes_each_choice_refuses_others_and_its_help_names_them(key):
    section, name = SECTIONS[key], key.split(".")[1]
    options = choices(section, name)
    for value in options:
        assert getattr(getattr(load_config("cpu-smoke", overrides=[f"{key}={value}"]), key.split(".")[0]), name) == value
    with pytest.raises(ConfigError) as err:
        load_config("cpu-smoke", overrides=[f"{key}=nope"])
    assert str(err.value) == f"{key}='nope': choose {', '.join(options[:-1])} or {options[-1]}"
    shown = setting_help(section, name)
    assert "{choices}" not in shown and shown.count(" | ") >= len(options) - 1
    assert all(option in shown for option in options)
    assert dict((k, h) for k, _, h in field_help())[key].startswith(shown)  # the docs table shows the same text
