"""Config: profiles, YAML round trip, --set overrides and validation messages."""

import pytest

from mathrl.config import FORMATS, PROFILES, Config, ConfigError, apply_overrides, field_help, load_config


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_loads_and_validates(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile


def test_kaggle_profile_fits_kaggles_two_t4s_within_a_session():
    """Kaggle's "GPU T4 x2": two 15 GiB T4s (compute capability 7.5, no native bf16) and a 12-hour session."""
    from mathrl.hardware import gpu_spec
    from mathrl.train.plan import plan_run, resolve_dtype

    cfg = load_config("kaggle-2xt4")
    t4 = gpu_spec("T4")
    assert resolve_dtype(cfg, t4) == "float32"  # fp16 gave unscale errors; bf16 would be emulated
    assert cfg.train.num_processes == 2  # one process per GPU: both T4s train
    plan = plan_run(cfg, gpu="T4")
    assert plan.fits and plan.processes == 2
    assert plan.step_s * cfg.train.max_steps < 12 * 3600
    assert cfg.train.require_gpu  # on the CPU this profile would take days: refuse instead


def test_yaml_round_trip_keeps_every_value(tmp_path):
    cfg = load_config("cpu-learn", overrides=["train.beta=0.04", "train.format_warmup_steps=0",
                                              "rewards.weights.number_reward=0.5"])
    path = cfg.save(tmp_path / "run.yaml")
    again = load_config(config_file=path)
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize("share", ["-0.1", "1.5"])
def test_a_direct_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ConfigError, match=r"format_warmup_direct_share=.* must be at (least 0|most 1)"):
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
        (["train.max_steps=0"], "train.max_steps=0 must be at least 1"),
        (["data.format=latex"], "unknown format 'latex'"),
        (["rewards.weights.wishful_reward=1"], "unknown reward(s) wishful_reward"),
        (["train.nonsense=1"], "unknown setting 'train.nonsense'"),
        (["train.max_steps=ten"], "train.max_steps='ten': expected a whole number"),
        (["model.load_in_4bit=true"], "needs model.lora=true"),
        (["train.max_steps"], "write key=value"),
        (["eval.limit=0"], "eval.limit=0 must be at least 1"),
        (["train.num_generations=1"], "train.num_generations=1 must be at least 2"),  # a group of one has no spread
        (["train.temperature=nan"], "train.temperature='nan': give a finite number"),
        (["train.learning_rate=inf"], "train.learning_rate='inf': give a finite number"),
        (["rewards.weights.number_reward=-inf"], "rewards.weights.number_reward='-inf': give a finite number"),
        (["model.lora_r=0"], "model.lora_r=0 must be at least 1"),  # a rank-0 adapter has no weights
        (["data.limit=-3"], "data.limit=-3 must be at least 1"),  # Python slicing would keep all but the last 3
        (["train.learning_rate=0"], "train.learning_rate=0.0 must be greater than 0"),
        (["train.top_p=1.5"], "train.top_p=1.5 must be at most 1"),
        (["train.max_steps=2.5"], "train.max_steps='2.5': expected a whole number"),
        (["model.lora=maybe"], "model.lora='maybe': expected true or false"),
        (["model.trust_remote_code=2"], "model.trust_remote_code='2': expected true or false"),
        (["rewards.graded_scores=[1, 2]"], "rewards.graded_scores=[1, 2]: expected a list of 4 numbers"),
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


# --------------------------------------------------------------------------- every door is typed the same way


def _yaml_config(tmp_path, text: str):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return load_config(config_file=path)


def test_yaml_strings_are_coerced_like_set_values(tmp_path):
    # PyYAML reads 1e-5 (no dot) as the string "1e-5"; quoted words are strings too.
    cfg = _yaml_config(tmp_path, 'train:\n  learning_rate: 1e-5\n  max_steps: "7"\nmodel:\n  lora: "false"\n'
                                 '  trust_remote_code: "no"\ndata:\n  limit: null\n')
    assert cfg.train.learning_rate == 1e-5 and type(cfg.train.learning_rate) is float
    assert cfg.train.max_steps == 7 and type(cfg.train.max_steps) is int
    assert cfg.model.lora is False and cfg.model.trust_remote_code is False
    assert cfg.data.limit is None


@pytest.mark.parametrize("word, expected", [("false", False), ("no", False), ("off", False), ("0", False),
                                            ("False", False), ("true", True), ("yes", True), ("on", True)])
def test_quoted_booleans_in_yaml_mean_what_they_say(tmp_path, word, expected):
    cfg = _yaml_config(tmp_path, f'model:\n  lora: "{word}"\n  trust_remote_code: "{word}"\n')
    assert cfg.model.lora is expected and cfg.model.trust_remote_code is expected


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train:\n  max_steps: abc\n", "train.max_steps='abc': expected a whole number"),
        ("model:\n  name: [a, b]\n", "model.name=['a', 'b']: expected text"),  # a list where a name belongs
        ("train:\n  report_to: no\n", "train.report_to=False: expected text; in YAML put it in quotes"),
        ("model:\n  trust_remote_code: maybe\n", "model.trust_remote_code='maybe': expected true or false"),
        ("model:\n  lora: [true]\n", "model.lora=[True]: expected true or false"),
        ("train:\n  temperature: .nan\n", "train.temperature=nan: give a finite number"),
        ("train:\n  learning_rate: .inf\n", "train.learning_rate=inf: give a finite number"),
        ("model:\n  lora_r: 0\n", "model.lora_r=0 must be at least 1"),
        ("eval:\n  max_new_tokens: -5\n", "eval.max_new_tokens=-5 must be at least 1"),
        ("train:\n  max_steps: true\n", "train.max_steps=True: expected a whole number"),
        ("rewards:\n  weights: [1, 2]\n", "rewards.weights=[1, 2]: expected a mapping"),
        ("rewards:\n  weights: {correctness_reward: x}\n", "rewards.weights.correctness_reward='x': expected a number"),
        ("profile: [cpu-smoke]\n", "unknown profile ['cpu-smoke']"),
    ],
)
def test_bad_yaml_values_name_the_key(tmp_path, yaml_text, message):
    with pytest.raises(ConfigError) as err:
        _yaml_config(tmp_path, yaml_text)
    assert message in str(err.value)


def test_the_python_api_is_typed_at_validation():
    from mathrl.config import validate

    cfg = Config()
    cfg.train.learning_rate, cfg.model.trust_remote_code, cfg.model.lora = "3e-5", "false", "no"
    validate(cfg)
    assert (cfg.train.learning_rate, cfg.model.trust_remote_code, cfg.model.lora) == (3e-5, False, False)
    cfg.train.max_steps = -1
    with pytest.raises(ConfigError, match="train.max_steps=-1 must be at least 1"):
        validate(cfg)


def test_dict_overrides_from_notebooks_go_through_the_same_coercion():
    cfg = load_config("cpu-smoke", overrides={"train.learning_rate": "2e-5", "model.lora": "false",
                                              "train.max_steps": 3.0})
    assert (cfg.train.learning_rate, cfg.model.lora, cfg.train.max_steps) == (2e-5, False, 3)
    assert type(cfg.train.max_steps) is int
    with pytest.raises(ConfigError, match=r"train.max_steps=2.5: expected a whole number"):
        load_config("cpu-smoke", overrides={"train.max_steps": 2.5})


@pytest.mark.parametrize("yaml_text, message", [
    ("model:\n  name: [a, b]\n", "model.name=['a', 'b']: expected text"),  # a list: quotes would not help
    ("model:\n  name: 7\n", "model.name=7: expected text; in YAML put it in quotes"),  # a YAML number
])
def test_text_settings_suggest_quotes_only_where_yaml_read_a_scalar(tmp_path, yaml_text, message):
    with pytest.raises(ConfigError) as err:
        _yaml_config(tmp_path, yaml_text)
    assert str(err.value) == message


@pytest.mark.parametrize("value, expected", [(1, True), (0, False), (True, True)])
def test_the_integers_0_and_1_are_booleans(value, expected):
    assert load_config("cpu-smoke", overrides={"model.lora": value}).model.lora is expected


def test_other_integers_are_not_booleans():
    with pytest.raises(ConfigError, match=r"^model.lora=2: expected true or false$"):
        load_config("cpu-smoke", overrides={"model.lora": 2})


def test_whole_numbers_keep_every_digit_and_read_scientific_notation():
    cfg = load_config("cpu-smoke", overrides=["train.seed=9007199254740993", "train.max_steps=4e2"])
    assert cfg.train.seed == 9007199254740993  # 2**53 + 1: a float would round it to 2**53
    assert cfg.train.max_steps == 400


def test_apply_overrides_types_and_checks_ranges_without_validate():
    cfg = apply_overrides(Config(), "train.max_steps=3")  # one override as a plain string
    assert cfg.train.max_steps == 3
    with pytest.raises(ConfigError, match=r"^train.max_steps=0 must be at least 1$"):
        apply_overrides(Config(), ["train.max_steps=0"])
    with pytest.raises(ConfigError, match=r"^setting name 1: write it as section.field, e.g. train.max_steps$"):
        apply_overrides(Config(), {1: 2})


def test_a_value_may_hold_an_equals_sign():
    cfg = load_config("cpu-smoke", overrides=["data.system_prompt=Write <answer>x=1</answer> last"])
    assert cfg.data.system_prompt == "Write <answer>x=1</answer> last"


def test_a_non_utf8_config_file_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("data:\n  system_prompt: 'caf\xe9 <answer>'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"{path}: line 2 is not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        load_config(config_file=path)


@pytest.mark.parametrize("written", ['"false"', '"no"', "false", '"0"'])
def test_a_quoted_false_never_runs_a_model_folders_code(remote_code_model, tmp_path, written):
    from mathrl.models import load_model

    folder, marker = remote_code_model
    cfg = _yaml_config(tmp_path, f"model:\n  name: {folder}\n  trust_remote_code: {written}\n")
    model, _, _ = load_model(cfg.model)
    assert not marker.exists(), "the model folder's code ran"
    assert type(model).__name__ == "LlamaForCausalLM"


# --------------------------------------------------------------------------- every validate() error, word for word

SECTION_NAMES = "data, model, rewards, train, eval"
# Settings that make the generation batch exactly 4 completions (4 prompts x 1 step), whatever the profile says.
BATCH_OF_4 = ["train.per_device_train_batch_size=4", "train.steps_per_generation=1", "train.num_generations=4"]


@pytest.mark.parametrize("override, message", [
    (["data.source=ftp"], "data.source='ftp': choose gsm8k, hub, file or reasoning_gym"),
    (["data.answer_style=latex"], "data.answer_style='latex': choose gsm8k, final or boxed"),
    (["data.worked_method=abacus"], "data.worked_method='abacus': choose tens_first or place_value"),
    (["data.system_prompt=Solve it.", "data.instruction_in_user_turn=false"],
     "data.system_prompt never names the answer tag '<answer>' and the user turn does not either, so nothing asks "
     "for the format: name the tags in the prompt, or set data.instruction_in_user_turn=true"),
    ([*BATCH_OF_4, "train.num_generations=3"],
     "train.num_generations=3 must divide the completions per generation batch (per_device_train_batch_size x "
     "steps_per_generation = 4); e.g. --set train.per_device_train_batch_size=3"),
    ([*BATCH_OF_4, "train.steps_per_generation=3", "train.num_generations=8"],  # 4 x 3 = 12 completions
     "train.num_generations=8 must divide the completions per generation batch (per_device_train_batch_size x "
     "steps_per_generation = 12); e.g. --set train.per_device_train_batch_size=8"),
    (["train.loss_type=ppo"], "train.loss_type='ppo': choose grpo, dapo, dr_grpo or bnpo"),
    (["train.scale_rewards=std"], "train.scale_rewards='std': choose group, batch or none"),
    ([*BATCH_OF_4, "train.dynamic_sampling_max_extra=3"],
     "train.dynamic_sampling_max_extra=3 is less than one group (train.num_generations=4), so nothing could be "
     "refilled: give at least 4, or none for one generation batch's worth"),
    (["train.dynamic_sampling=true", "train.num_processes=2"],
     "train.dynamic_sampling runs in one process only: set train.num_processes=1 or train.dynamic_sampling=false"),
    (["train.beta=0.04", "train.format_warmup_steps=5", "model.lora=true"],
     "train.beta=0.04 with train.format_warmup_steps=5 and model.lora: the KL reference would be the model before "
     "the format warm-up; set train.beta=0, train.format_warmup_steps=0 or model.lora=false"),
    (["rewards.weights={correctness_reward: 1, wishful_reward: 1, hopeful_reward: 0}"],
     "unknown reward(s) hopeful_reward, wishful_reward; known rewards: correctness_reward, format_reward_soft, "
     "xml_count_reward, consistency_reward, format_reward_strict, number_reward, stepwise_reward, reasoning_reward"),
    (["rewards.weights={correctness_reward: 0, format_reward_soft: 0}"],
     "rewards.weights: at least one reward needs a non-zero weight"),
    (["rewards.correctness_mode=fuzzy"], "rewards.correctness_mode='fuzzy': choose binary or graded"),
    (["model.dtype=int8"], "model.dtype='int8': choose auto, float32, bfloat16 or float16"),
    (["model.load_in_4bit=true", "model.lora=false"],
     "model.load_in_4bit needs model.lora=true: 4-bit weights cannot be trained directly"),
    (["eval.headline_rule=loose"], "eval.headline_rule='loose': choose strict or flexible"),
    (["train.beta=0.04", "train.format_warmup_steps=1", "model.lora=true"],  # a single warm-up step is a warm-up
     "train.beta=0.04 with train.format_warmup_steps=1 and model.lora: the KL reference would be the model before "
     "the format warm-up; set train.beta=0, train.format_warmup_steps=0 or model.lora=false"),
    (["foo.bar=1"], "unknown setting 'foo.bar': use section.field with section one of " + SECTION_NAMES),
    (["train=1"], "unknown setting 'train': use section.field with section one of " + SECTION_NAMES),
    (["rewards.weights.format_reward.soft=1"],  # the reward's name is everything after `weights.`
     "unknown reward(s) format_reward.soft; known rewards: correctness_reward, format_reward_soft, xml_count_reward, "
     "consistency_reward, format_reward_strict, number_reward, stepwise_reward, reasoning_reward"),
    (["rewards.graded_scores=[1, x, 0, 0]"], "rewards.graded_scores[1]='x': expected a number"),  # the item is named
])
def test_every_validation_error_says_what_is_wrong_and_how_to_fix_it(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("cpu-smoke", overrides=override)
    assert str(err.value) == message


@pytest.mark.parametrize("override", [
    [*BATCH_OF_4, "train.num_generations=2"],  # 2 divides 4
    [*BATCH_OF_4, "train.steps_per_generation=2", "train.num_generations=8"],  # 4 x 2 = 8: one group
    [*BATCH_OF_4, "train.dynamic_sampling_max_extra=4"],  # exactly one group may be refilled
    ["train.dynamic_sampling=true", "train.num_processes=1"],
    ["train.beta=0.04", "train.format_warmup_steps=0", "model.lora=true"],  # no warm-up: the reference is right
    ["train.beta=0", "train.format_warmup_steps=5", "model.lora=true"],  # no KL term at all
    ["rewards.weights={correctness_reward: 0, number_reward: -0.5}"],  # a negative weight is still a weight
    ["model.load_in_4bit=true", "model.lora=true"],
    ["data.source=reasoning_gym", "data.answer_style=boxed", "data.worked_method=place_value",
     "train.loss_type=bnpo", "train.scale_rewards=none", "rewards.correctness_mode=graded", "model.dtype=bfloat16",
     "eval.headline_rule=flexible"],
])
def test_the_edges_of_each_rule_are_accepted(override):
    load_config("cpu-smoke", overrides=override)
