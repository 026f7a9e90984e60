"""Config: profiles, YAML round trip, --set overrides and validation messages."""

import pytest

from mathrl.config import FORMATS, PROFILES, Config, ConfigError, apply_overrides, field_help, load_config


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_loads_and_validates(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile


def test_kaggle_profile_is_fp32_on_two_gpus_with_reference_settings():
    cfg = load_config("kaggle-2xt4")
    assert cfg.model.dtype == "float32"  # a T4 has no bf16, and fp16 gave unscale errors
    assert cfg.train.num_processes == 2
    assert cfg.train.learning_rate == 5e-6
    assert (cfg.train.per_device_train_batch_size, cfg.train.max_prompt_length, cfg.train.max_completion_length) == (8, 256, 512)
    assert cfg.train.max_steps == 400


def test_yaml_round_trip_keeps_every_value(tmp_path):
    cfg = load_config("cpu-learn", overrides=["train.beta=0.04", "train.format_warmup_steps=0",
                                              "rewards.weights.number_reward=0.5"])
    path = cfg.save(tmp_path / "run.yaml")
    again = load_config(config_file=path)
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("share", ["-0.1", "1.5"])
def test_a_direct_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ConfigError, match="format_warmup_direct_share.*give a share from 0 to 1"):
        load_config("cpu-learn", overrides=[f"train.format_warmup_direct_share={share}"])


def test_kl_against_a_lora_reference_that_missed_the_format_warmup_is_refused():
    with pytest.raises(ConfigError, match="model before the format warm-up; set train.beta=0"):
        load_config("cpu-learn", overrides=["train.beta=0.04", "model.lora=true"])
    assert load_config("cpu-learn", overrides=["train.beta=0.04"]).train.beta == 0.04


def test_a_system_prompt_that_never_asks_for_the_format_is_refused():
    quiet = ["data.system_prompt=Solve the problem.", "data.instruction_in_user_turn=false"]
    with pytest.raises(ConfigError, match="never names the answer tag '<answer>'"):
        load_config("cpu-smoke", overrides=quiet)
    assert load_config("cpu-smoke", overrides=quiet[:1]).data.system_prompt == "Solve the problem."


def test_overrides_are_typed():
    cfg = load_config("cpu-smoke", overrides=["train.max_steps=7", "model.lora=true", "data.limit=none",
                                              "train.learning_rate=3e-5", "data.gym_options={max_digits: 1}"])
    assert cfg.train.max_steps == 7 and cfg.model.lora is True and cfg.data.limit is None
    assert cfg.train.learning_rate == 3e-5
    assert cfg.data.gym_options == {"max_digits": 1}


@pytest.mark.parametrize(
    "override, message",
    [
        (["train.num_generations=3"], "must divide"),  # 4 completions per batch cannot form groups of 3
        (["train.max_steps=0"], "must be positive"),
        (["data.format=latex"], "unknown format 'latex'"),
        (["rewards.weights.wishful_reward=1"], "unknown reward(s) wishful_reward"),
        (["train.nonsense=1"], "unknown setting 'train.nonsense'"),
        (["train.max_steps=ten"], "expected a value of type int"),
        (["model.load_in_4bit=true"], "needs model.lora=true"),
        (["train.max_steps"], "write key=value"),
        (["eval.limit=0"], "must be positive"),
    ],
)
def test_bad_settings_say_what_to_fix(override, message):
    with pytest.raises(ConfigError, match=None) as err:
        load_config("cpu-smoke", overrides=override)
    assert message in str(err.value)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match="cpu-smoke"):
        load_config("tpu-pod")


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(config_file=bad)
    flat = tmp_path / "flat.yaml"
    flat.write_text("train: 3\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(config_file=flat)


def test_correctness_outweighs_format_by_default():
    weights = Config().rewards.weights
    format_total = sum(w for name, w in weights.items() if name != "correctness_reward")
    assert weights["correctness_reward"] > format_total


def test_every_format_has_an_answer_section_and_a_prompt_naming_its_tags():
    for spec in FORMATS.values():
        assert spec.answer is not None
        for tag in spec.tags:
            assert tag in spec.system_prompt, (spec.name, tag)


def test_field_help_covers_every_setting():
    keys = {key for key, _, help_text in field_help() if help_text}
    assert {"train.beta", "model.lora", "data.format", "eval.headline_rule"} <= keys
    assert len(keys) == len(field_help())


def test_dict_overrides_apply_in_place():
    cfg = apply_overrides(Config(), {"train.beta": 0.1})
    assert cfg.train.beta == 0.1


def test_docs_config_md_is_generated_from_the_code():
    from mathrl.config import DOCS_PATH, config_markdown

    assert DOCS_PATH.read_text() == config_markdown(), "run `mathrl config --write-docs`"
    assert "`kaggle-2xt4`" in DOCS_PATH.read_text() and "`train.beta`" in DOCS_PATH.read_text()


def test_an_unknown_worked_method_is_refused_before_anything_loads():
    with pytest.raises(ConfigError, match="data.worked_method='columns': choose tens_first or place_value"):
        load_config("cpu-learn", overrides=["data.worked_method=columns"])
