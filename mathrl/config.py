"""Typed run configuration: data, model, reward weights, GRPO and evaluation settings, and named profiles.

    mathrl config --profile cpu-smoke --set train.max_steps=10   # the resolved config as YAML
    mathrl config --fields                                       # every setting with its default and help
    mathrl config --write-docs                                   # regenerate docs/config.md

The spine every layer reads: it imports only errors, formats, arithmetic's names and the source registry's names.
Load/save as YAML, override by `key=value`; `validate` checks a config before anything heavy loads.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Literal
from pathlib import Path

import yaml

from mathrl.arithmetic import WORKED_METHODS
from mathrl.data.sources import SOURCES
from mathrl.errors import ConfigError, MathrlError  # noqa: F401  (users catch both as mathrl.config's)
from mathrl.formats import DEFAULT_FORMAT, FORMATS, FormatSpec, get_format

# --------------------------------------------------------------------------- models

OFFLINE_MODEL = "smollm2-135m-instruct"

# --------------------------------------------------------------------------- reward weights

# Correctness must pay more than format: a format reward worth as much as being right taught the offline model to
# drop its reasoning and print bare guesses in perfect format within 11 steps. Weight 0.0 = logged metric only.
# Every reward mathrl.rewards registers has an entry: validation checks names against this table, not the registry.
DEFAULT_REWARD_WEIGHTS: dict[str, float] = {
    "correctness_reward": 2.0,
    "format_reward_soft": 0.25,
    "xml_count_reward": 0.25,
    "consistency_reward": 0.25,
    "format_reward_strict": 0.0,
    "number_reward": 0.0,
    "stepwise_reward": 0.0,
    "reasoning_reward": 0.0,
}


# --------------------------------------------------------------------------- the config tree


def _help(text: str, default=dataclasses.MISSING, factory=dataclasses.MISSING, *, at_least=None, above=None,
          at_most=None, notes: dict[str, str] | None = None, registry: dict | None = None):
    """A field with its help text and the range its value must lie in (checked by `coerce` on every door). A choice
    field's type is a Literal of its choices: `{choices}` in the text shows them, each with its note if it has one.
    A field whose choices can grow is text checked against a `registry` (name -> entry with a `note`), read live."""
    metadata = {"help": text, "notes": notes or {}, "at_least": at_least, "above": above, "at_most": at_most,
                "registry": registry}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    source: str = _help("{choices}", "gsm8k", registry=SOURCES)
    path: str | None = _help("local folder/file; None = the shipped copy for gsm8k, the Hub for 'hub'", None)
    hub_id: str = _help("Hub dataset id for source=gsm8k/hub when no path is given", "openai/gsm8k")
    hub_config: str | None = _help("Hub dataset configuration name", "main")
    split: str = _help("split to train on", "train")
    eval_split: str = _help("split to evaluate on", "test")
    limit: int | None = _help("keep only the first N rows (None = all)", None, at_least=1)
    question_field: str = _help("column holding the problem text", "question")
    answer_field: str = _help("column holding the answer or solution", "answer")
    answer_style: Literal["gsm8k", "final", "boxed"] = _help("how the answer column gives the answer: {choices}", "gsm8k",
                                                             notes={"gsm8k": "#### N"})
    gym_task: str = _help("reasoning-gym dataset for source=reasoning_gym", "gsm_symbolic")
    gym_size: int = _help("how many problems reasoning-gym generates", 500, at_least=1)
    gym_options: dict = _help("extra reasoning-gym dataset options, e.g. {max_digits: 1}", factory=dict)
    worked_method: Literal[WORKED_METHODS] = _help(
        "worked steps written for reasoning-gym sums: {choices}", "tens_first",
        notes={"tens_first": "47 + 30 = 77, 77 + 8 = 85", "place_value": "40 + 30 = 70, 7 + 8 = 15, 70 + 15 = 85"})
    seed: int = _help("seed for generated data and shuffles", 0, at_least=0)
    format: str = _help(f"output format: {' | '.join(FORMATS)}", DEFAULT_FORMAT)
    instruction_in_user_turn: bool = _help("repeat the format instruction in the user turn (small models need it)", True)
    system_prompt: str | None = _help("system prompt in place of the format's own (None = the format's); name its tags", None)
    max_prompt_tokens: int | None = _help("drop prompts longer than this many tokens (None = keep all)", None, at_least=1)


@dataclass
class ModelConfig:
    name: str = _help(f"Hub id, local path, or the built-in {OFFLINE_MODEL!r}", OFFLINE_MODEL)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = _help(
        "{choices}; auto = bf16 on compute capability >= 8.0, else fp32", "auto")
    lora: bool = _help("train LoRA adapters instead of all weights", False)
    lora_r: int = _help("LoRA rank", 16, at_least=1)
    lora_alpha: int = _help("LoRA alpha", 32, at_least=1)
    lora_dropout: float = _help("LoRA dropout", 0.05, at_least=0, at_most=1)
    lora_target_modules: str = _help("comma-separated module names, or all-linear", "all-linear")
    load_in_4bit: bool = _help("load the base weights in 4-bit (bitsandbytes); needs lora", False)
    trust_remote_code: bool = _help("run code shipped with the model repo (off unless you trust it)", False)
    revision: str | None = _help("Hub revision (branch, tag or commit)", None)


@dataclass
class RewardConfig:
    weights: dict[str, float] = _help("reward name -> weight; 0.0 keeps a reward as a logged metric", factory=lambda: dict(DEFAULT_REWARD_WEIGHTS))
    correctness_mode: Literal["binary", "graded"] = _help("{choices}", "binary",
                                                          notes={"graded": "exact / within tolerance / close / wrong"})
    tolerance: float = _help("relative tolerance for a numeric match, applied only to golds that may be rounded "
                             "(decimals, roots); whole numbers and fractions must match exactly", 1e-6, at_least=0)
    rounded_digits: int = _help("a fraction gold with no finite decimal (2/3) also meets its correctly rounded decimal "
                                "of at least this many significant digits (0.6667), graded tolerance; 0 = never", 4,
                                at_least=0)
    percent: Literal["auto", "number", "fraction"] = _help("how P% meets a gold written without %: {choices}", "auto", notes={
        "auto": "P, and P/100 when the other side is not a whole number: GSM8K's whole golds keep their convention, "
                "fraction golds get theirs",
        "number": "P: GSM8K's convention, 50% answers 50",
        "fraction": "P/100: 28% answers 7/25"})
    close_tolerance: float = _help("relative tolerance for 'close' in graded mode", 0.1, at_least=0)
    graded_scores: tuple[float, float, float, float] = _help("graded scores: exact, within tolerance, close, wrong", (3.0, 1.5, 0.5, -0.5))
    math_verify: bool = _help("fall back to math-verify for non-numeric answers (LaTeX, \\boxed{})", True)
    math_verify_timeout: float = _help("seconds before a math-verify check counts as wrong", 2.0, above=0)
    min_reasoning_words: int = _help("reasoning shorter than this earns no reasoning reward", 8, at_least=0)


@dataclass
class TrainConfig:
    output_dir: str = _help("where checkpoints, metrics and the final model go", "runs/default")
    max_steps: int = _help("optimizer steps", 400, at_least=1)
    learning_rate: float = _help("peak learning rate", 5e-6, above=0)
    lr_scheduler_type: str = _help("transformers scheduler name", "constant_with_warmup")
    warmup_steps: int = _help("warm-up steps", 0, at_least=0)
    per_device_train_batch_size: int = _help("completions per device per micro-batch", 8, at_least=1)
    gradient_accumulation_steps: int = _help("micro-batches per optimizer step", 1, at_least=1)
    steps_per_generation: int | None = _help("micro-batches generated per generate call (None = grad accumulation)", None, at_least=1)
    num_generations: int = _help("completions per prompt (the GRPO group)", 8, at_least=2)
    max_completion_length: int = _help("tokens generated per completion", 512, at_least=1)
    max_prompt_length: int = _help("prompt token budget; longer prompts are dropped by the data layer", 256, at_least=1)
    temperature: float = _help("sampling temperature", 1.0, above=0)
    top_p: float = _help("nucleus sampling", 1.0, above=0, at_most=1)
    beta: float = _help("KL coefficient (0 = no reference model)", 0.0, at_least=0)
    epsilon: float = _help("clip range", 0.2, above=0)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = _help("{choices}", "dapo")
    scale_rewards: Literal["group", "batch", "none"] = _help("{choices}", "group")
    mask_truncated_completions: bool = _help("exclude truncated completions from the loss", False)
    gradient_checkpointing: bool = _help("trade compute for activation memory", True)
    max_grad_norm: float = _help("gradient clipping", 1.0, above=0)
    weight_decay: float = _help("AdamW weight decay", 0.0, at_least=0)
    seed: int = _help("training seed", 42, at_least=0)
    logging_steps: int = _help("log every N steps", 1, at_least=1)
    save_steps: int = _help("checkpoint every N steps", 50, at_least=1)
    save_total_limit: int = _help("keep at most this many checkpoints", 2, at_least=1)
    sample_every: int = _help("write sample completions with rewards every N steps (0 = never)", 10, at_least=0)
    report_to: str = _help("none | trackio (local dashboard, no account or network) | wandb | tensorboard", "none")
    run_name: str | None = _help("run name for trackers (None = the output dir's name)", None)
    project: str = _help("trackio project the run is logged under (`trackio show --project NAME`)", "mathrl")
    push_to_hub: bool = _help("once training ends, upload output_dir/final (for LoRA the merged model) to the Hub", False)
    hub_model_id: str | None = _help("Hub repo for push_to_hub (default: the output dir's name, under your account)", None)
    use_vllm: bool = _help("generate with vLLM (needs vllm installed)", False)
    vllm_mode: str = _help("colocate | server", "colocate")
    use_liger_kernel: bool = _help("Liger fused GRPO loss (needs liger-kernel)", False)
    static_cache: bool = _help("static KV cache + compiled decoding during generation", False)
    require_gpu: bool = _help("refuse to start without a CUDA GPU", False)
    num_processes: int = _help("processes to launch (one per GPU); 0 = one per visible GPU", 0, at_least=0)
    format_warmup_steps: int = _help("supervised steps on gold solutions rendered in the format before GRPO (0 = off)", 0, at_least=0)
    format_warmup_lr: float = _help("learning rate of the format warm-up", 1e-5, above=0)
    format_warmup_direct_share: float = _help("share of warm-up answers that give the result in one line, unworked", 0.0, at_least=0, at_most=1)
    dynamic_sampling: bool = _help("drop prompt groups whose rewards have no spread and refill the batch with fresh "
                                   "prompts (DAPO); one process only", False)
    dynamic_sampling_max_extra: int | None = _help("most extra completions generated per generation batch to refill "
                                                   "it (whole groups; None = one batch's worth)", None)
    live_plot: str = _help("auto | live | final | off: redraw reward curves in a notebook cell while training", "auto")
    keep_best: bool = _help("keep the checkpoint with the best held-out validation accuracy through checkpoint rotation "
                            "(needs eval.during_training_every > 0); final/selection.json names it", True)


@dataclass
class EvalConfig:
    limit: int | None = _help("evaluate the first N examples (None = the whole split)", 200, at_least=1)
    batch_size: int = _help("prompts per generate call", 32, at_least=1)
    max_new_tokens: int = _help("tokens generated per answer", 512, at_least=1)
    num_samples: int = _help("samples per question for maj@k/pass@k (1 = greedy only)", 1, at_least=1)
    temperature: float = _help("sampling temperature when num_samples > 1", 0.7, above=0)
    headline_rule: Literal["strict", "flexible"] = _help("{choices}", "strict",
                                                         notes={"strict": "answer field", "flexible": "last number"})
    use_vllm: bool = _help("generate with vLLM when installed", False)
    out: str = _help("folder for records and summary", "runs/eval")
    during_training_every: int = _help("score the validation problems greedily at the start, every N optimizer steps "
                                       "and at the last step while training (0 = off)", 50, at_least=0)
    during_training_limit: int = _help("validation problems scored while training: the last N of data.eval_split "
                                       "outside the test problems (its first eval.limit) and the training problems", 100,
                                       at_least=1)


@dataclass
class Config:
    profile: str = _help("the profile these values started from", "cpu-smoke")
    data: DataConfig = _help("data source and prompt format", factory=DataConfig)
    model: ModelConfig = _help("model and adapters", factory=ModelConfig)
    rewards: RewardConfig = _help("reward weights and scoring rules", factory=RewardConfig)
    train: TrainConfig = _help("GRPO settings", factory=TrainConfig)
    eval: EvalConfig = _help("evaluation settings", factory=EvalConfig)

    @property
    def format(self) -> FormatSpec:
        return get_format(self.data.format)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _plain(self.to_dict())
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_NONE = ("none", "null", "")


def _type_name(hint) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text", dict: "a mapping"}
    return names.get(hint, names.get(typing.get_origin(hint), str(hint)))


def coerce(value, hint, key: str, limits: dict | None = None):
    """`value` as the type `hint` declares, from text (--set, YAML strings) or a Python value (YAML, notebooks, the
    Python API); a value that is not one, or lies outside `limits`, raises a ConfigError naming `key`.

    >>> coerce("1e-5", float, "train.learning_rate"), coerce("false", bool, "model.lora"), coerce("none", int | None, "x")
    (1e-05, False, None)
    """
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if type(None) in typing.get_args(hint):
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        hint = args[0]
    try:
        value = _as_type(value, hint, key)
    except ConfigError:
        raise
    except (ValueError, TypeError, yaml.YAMLError):
        raise ConfigError(f"{_named(key, value)}: expected {_type_name(hint)}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_limits(value, key, limits or {})
    registry = (limits or {}).get("registry")
    if registry is not None and value not in registry:
        raise ConfigError(f"{_named(key, value)}: choose {_either(tuple(registry))}")
    return value


def _as_type(value, hint, key: str):
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{_named(key, value)}: choose {_either(typing.get_args(hint))}")
        return value
    if hint is bool:
        # A bool only from a real boolean or an unambiguous word: bool("false") is True, which once turned
        # model.trust_remote_code: "false" into running a model folder's code.
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        word = value.strip().lower() if isinstance(value, str) else None
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ValueError
    if hint is int or hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError
        number = float(value) if hint is float or not isinstance(value, (int, str)) else _int_text(value)
        if not math.isfinite(number):
            raise ConfigError(f"{_named(key, value)}: give a finite number (not nan or inf)")
        if hint is int and number != int(number):
            raise ValueError
        return hint(number)
    if hint is str:
        if not isinstance(value, str):  # a YAML number, yes/no or list where a name belongs
            quote = "; in YAML put it in quotes" if isinstance(value, (bool, int, float)) else ""
            raise ConfigError(f"{_named(key, value)}: expected text{quote}")
        return value
    if isinstance(value, str):
        value = yaml.safe_load(value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise TypeError
        item = (typing.get_args(hint) or (None, None))[1]
        return {k: coerce(v, item, f"{key}.{k}") if item else v for k, v in value.items()}
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise ConfigError(f"{_named(key, value)}: expected a list of {len(items)} numbers")
        return tuple(coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    raise TypeError


def _either(choices: tuple) -> str:
    """'a, b or c' for a message."""
    return f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0]


def _int_text(value):
    """An int from an int or text: '400' and '4e2' both give 400."""
    if isinstance(value, int):
        return value
    try:
        return int(value.strip())
    except ValueError:
        return float(value)


def _named(key: str, value) -> str:
    """`key=value` as written in messages; the value alone for an option that is no setting."""
    return f"{key}={value!r}" if key else repr(value)


def _check_limits(value, key: str, limits: dict) -> None:
    low, above, high = limits.get("at_least"), limits.get("above"), limits.get("at_most")
    named = _named(key, value)
    if low is not None and value < low:
        raise ConfigError(f"{named} must be at least {low}")
    if above is not None and value <= above:
        raise ConfigError(f"{named} must be greater than {above}")
    if high is not None and value > high:
        raise ConfigError(f"{named} must be at most {high}")


SECTIONS = ("data", "model", "rewards", "train", "eval")


def _setting(section, key: str, name: str):
    """(type, limits) of one field of a section (instance or class), or a ConfigError naming the unknown key."""
    hints = typing.get_type_hints(section if isinstance(section, type) else type(section))
    if name not in hints:
        close = [f for f in hints if f.startswith(name[:4])]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown setting {key!r}{hint}; see `mathrl config --fields`")
    return hints[name], next(f.metadata for f in fields(section) if f.name == name)


def _apply(cfg: Config, key: str, value) -> None:
    section_name, _, name = key.partition(".")
    if not name or section_name not in SECTIONS:
        raise ConfigError(f"unknown setting {key!r}: use section.field with section one of {', '.join(SECTIONS)}")
    section = getattr(cfg, section_name)
    if name.startswith("weights.") and section_name == "rewards":
        section.weights[name.split(".", 1)[1]] = coerce(value, float, key)
        return
    hint, limits = _setting(section, key, name)
    setattr(section, name, coerce(value, hint, key, limits))


def apply_overrides(cfg: Config, overrides: dict | list[str] | None) -> Config:
    """Apply `{"train.max_steps": 3}` or `["train.max_steps=3"]` to cfg in place and return it; every value goes
    through `coerce`, so text and Python values are typed and range-checked alike."""
    if not overrides:
        return cfg
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            if not isinstance(key, str):
                raise ConfigError(f"setting name {key!r}: write it as section.field, e.g. train.max_steps")
            if not key.startswith("_"):
                _apply(cfg, key, value)
        return cfg
    if isinstance(overrides, str):
        overrides = [overrides]
    for item in overrides:
        key, sep, text = str(item).partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: write key=value, e.g. --set train.max_steps=10")
        _apply(cfg, key.strip(), text.strip())
    return cfg


def option_type(setting: str | type, **limits):
    """An argparse `type` that reads an option's text as --set reads a value: `option_type("train.max_steps")` takes
    that field's type and range; `option_type(float, above=0)` a number with its own range.

    >>> option_type("eval.limit")("none"), option_type(float, above=0)("2.5")
    (None, 2.5)
    """
    import argparse

    key = setting if isinstance(setting, str) else ""
    hint = setting
    if key:
        section, _, name = key.partition(".")
        if section not in SECTIONS:
            raise ConfigError(f"unknown setting {key!r}")
        hint, limits = _setting(typing.get_type_hints(Config)[section], key, name)

    def read(text: str):
        try:
            return coerce(text, hint, key, limits)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return read


def load_config(
    profile: str | None = None, config_file: str | Path | None = None, overrides: dict | list[str] | None = None
) -> Config:
    """Profile defaults, then a YAML file, then `key=value` overrides; validated before anything heavy loads."""
    cfg = Config()
    file_data = {}
    if config_file is not None:
        file_data = read_yaml(config_file)
        profile = profile or file_data.get("profile")
    profile = profile or DEFAULT_PROFILE
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    cfg.profile = profile
    try:
        apply_overrides(cfg, PROFILES[profile])
    except ConfigError as err:
        raise ConfigError(f"{PROFILE_DIR / profile}.yaml: {err}") from None
    for section, values in file_data.items():
        if section == "profile":
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{config_file}: section {section!r} must be a mapping of field: value")
        apply_overrides(cfg, {f"{section}.{k}": v for k, v in values.items()})
    apply_overrides(cfg, overrides)
    validate(cfg)
    return cfg


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from a file, or a ConfigError naming the file: missing, unreadable, not UTF-8, not YAML."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; write one with `mathrl config --profile NAME > {path.name}`")
    try:
        data = yaml.safe_load(utf8_text(path)) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: {yaml_problem(err)}") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it ({err.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data, model, rewards, train, eval)")
    return data


def yaml_problem(err: yaml.YAMLError) -> str:
    """One line on what is wrong with a YAML text, and where."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML{where} ({getattr(err, 'problem', None) or ' '.join(str(err).split())})"


def not_utf8(data: bytes, err: UnicodeDecodeError) -> str:
    """Where a file's bytes stop being UTF-8, worded for a message that starts with the file's name."""
    line = data[: err.start].count(b"\n") + 1
    return f"line {line} is not UTF-8 text (byte {data[err.start]:#04x}); save the file as UTF-8"


def utf8_text(path: str | Path) -> str:
    """A file's text, or a ConfigError naming the file and the line whose bytes are not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: {not_utf8(data, err)}") from None


# --------------------------------------------------------------------------- profiles

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


def read_profiles(folder: str | Path = PROFILE_DIR) -> dict[str, dict]:
    """Every `NAME.yaml` in folder, by name: its `help` as "_help", then its settings as `section.field` keys in
    file order. A profile file is a config file (`mathrl config` prints one) with a one-line `help`, and may start
    from another profile (`extends: NAME`), so a variant states only what it changes."""
    files = {path.stem: read_yaml(path) for path in sorted(Path(folder).glob("*.yaml"))}
    profiles: dict[str, dict] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict:
        if name in profiles:
            return profiles[name]
        path, data = Path(folder) / f"{name}.yaml", dict(files[name])
        help_text = data.pop("help", None)
        if not isinstance(help_text, str) or not help_text.strip():
            raise ConfigError(f"{path}: give the profile a one-line `help:` saying what it is for")
        parent = data.pop("extends", None)
        if parent is not None and parent not in files:
            raise ConfigError(f"{path}: extends {parent!r}, which is not a profile; choose one of: {', '.join(files)}")
        if parent in chain:
            raise ConfigError(f"{path}: extends {parent!r}, which extends it back ({' -> '.join((*chain, parent))})")
        settings = {k: v for k, v in resolve(parent, (*chain, parent)).items() if k != "_help"} if parent else {}
        for section, values in data.items():
            if section not in SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"{path}: {section!r} is not a section; use {', '.join(SECTIONS)}, each a mapping "
                                  "of field: value")
            settings.update({f"{section}.{k}": v for k, v in values.items()})
        profiles[name] = {"_help": help_text, **settings}
        return profiles[name]

    return {name: resolve(name, (name,)) for name in files}


PROFILES: dict[str, dict] = read_profiles()
DEFAULT_PROFILE = "cpu-smoke"


def _typed(cfg: Config) -> None:
    """Coerce every field in place, so values set as attributes (the Python API) are typed and checked too."""
    for section_name in SECTIONS:
        section = getattr(cfg, section_name)
        for f in fields(section):
            hint, limits = _setting(section, f"{section_name}.{f.name}", f.name)
            setattr(section, f.name, coerce(getattr(section, f.name), hint, f"{section_name}.{f.name}", limits))


def validate(cfg: Config) -> Config:
    """Cheap checks that catch a bad config before a model loads; each message says how to fix it. Every field is
    first coerced to its type in place, so a config edited as attributes is checked like one read from YAML."""
    _typed(cfg)
    get_format(cfg.data.format)
    t = cfg.train
    answer_tag, d = get_format(cfg.data.format).answer.open, cfg.data
    if d.system_prompt is not None and answer_tag not in d.system_prompt and not d.instruction_in_user_turn:
        raise ConfigError(f"data.system_prompt never names the answer tag {answer_tag!r} and the user turn does not "
                          "either, so nothing asks for the format: name the tags in the prompt, or set "
                          "data.instruction_in_user_turn=true")
    generation_batch = t.per_device_train_batch_size * (t.steps_per_generation or t.gradient_accumulation_steps)
    if generation_batch % t.num_generations:
        raise ConfigError(
            f"train.num_generations={t.num_generations} must divide the completions per generation batch "
            f"(per_device_train_batch_size x steps_per_generation = {generation_batch}); "
            f"e.g. --set train.per_device_train_batch_size={t.num_generations}"
        )
    if t.dynamic_sampling_max_extra is not None and t.dynamic_sampling_max_extra < t.num_generations:
        raise ConfigError(f"train.dynamic_sampling_max_extra={t.dynamic_sampling_max_extra} is less than one group "
                          f"(train.num_generations={t.num_generations}), so nothing could be refilled: give at least "
                          f"{t.num_generations}, or none for one generation batch's worth")
    if t.dynamic_sampling and t.num_processes > 1:
        raise ConfigError("train.dynamic_sampling runs in one process only: set train.num_processes=1 or "
                          "train.dynamic_sampling=false")
    if t.beta > 0 and t.format_warmup_steps > 0 and cfg.model.lora:
        # With LoRA, TRL's KL reference is the model with its adapters switched off: the model before the warm-up, so
        # the KL term would pull the policy back towards not writing the format.
        raise ConfigError(
            f"train.beta={t.beta} with train.format_warmup_steps={t.format_warmup_steps} and model.lora: the KL "
            "reference would be the model before the format warm-up; set train.beta=0, train.format_warmup_steps=0 "
            "or model.lora=false"
        )
    unknown = sorted(set(cfg.rewards.weights) - set(DEFAULT_REWARD_WEIGHTS))
    if unknown:
        raise ConfigError(f"unknown reward(s) {', '.join(unknown)}; known rewards: {', '.join(DEFAULT_REWARD_WEIGHTS)}")
    if not any(w != 0 for w in cfg.rewards.weights.values()):
        raise ConfigError("rewards.weights: at least one reward needs a non-zero weight")
    if cfg.model.load_in_4bit and not cfg.model.lora:
        raise ConfigError("model.load_in_4bit needs model.lora=true: 4-bit weights cannot be trained directly")
    return cfg


def field_help() -> list[tuple[str, str, str]]:
    """(key, default, help) for every setting: the source of the docs' settings table."""
    rows = []
    for section in fields(Config):
        if section.name == "profile":
            continue
        for f in fields(section.default_factory()):
            default = getattr(section.default_factory(), f.name)
            rows.append((f"{section.name}.{f.name}", repr(default),
                         setting_help(section.default_factory, f.name) + _range_text(f.metadata)))
    return rows


def choices(section, name: str) -> tuple:
    """The values a choice field of a section (class or instance) accepts, from its Literal type or its registry as it
    is now; () for others."""
    hint, meta = _setting(section, name, name)
    if meta["registry"] is not None:
        return tuple(meta["registry"])
    return typing.get_args(hint) if typing.get_origin(hint) is Literal else ()


def setting_help(section, name: str) -> str:
    """A setting's help text with a choice field's choices written in where it says `{choices}`."""
    meta = _setting(section, name, name)[1]
    notes = {k: entry.note for k, entry in (meta["registry"] or {}).items()} | meta["notes"]
    shown = " | ".join(f"{c} ({notes[c]})" if c in notes else c for c in choices(section, name))
    return meta["help"].replace("{choices}", shown)


def _range_text(limits: dict) -> str:
    """' (>= 1)', ' (> 0, <= 1)' or '' for a field's limits, as shown in the settings table."""
    parts = [f"{sign} {limits[name]}" for name, sign in (("at_least", ">="), ("above", ">"), ("at_most", "<="))
             if limits.get(name) is not None]
    return f" ({', '.join(parts)})" if parts else ""


DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def config_markdown() -> str:
    """docs/config.md: the profiles and every setting, generated from this module so the docs cannot drift."""
    lines = ["# Configuration", "", "Generated by `mathrl config --write-docs` from `mathrl/config.py` and the profile "
             "files in `mathrl/profiles/`; a test fails when this file drifts.", "", "## Profiles", "",
             "| profile | for | settings |", "| --- | --- | --- |"]
    for name, values in PROFILES.items():
        settings = ", ".join(f"`{k}={_cell(v)}`" for k, v in values.items() if not k.startswith("_"))
        lines.append(f"| `{name}` | {_cell(values['_help'])} | {settings} |")
    lines += ["", "## Settings", "", "Set with `--set section.field=value`, a YAML file (`--config`), or in a notebook's "
              "parameters.", "", "| setting | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{key}` | `{_cell(default)}` | {_cell(text)} |" for key, default, text in field_help()]
    lines += ["", "## Output formats", "", "| format | layout |", "| --- | --- |"]
    lines += [f"| `{spec.name}` | {spec.description} |" for spec in FORMATS.values()]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    return str(value).replace("|", "\\|")  # a bare | would split the table cell


def add_config_arguments(parser) -> None:
    parser.add_argument("--fields", action="store_true", help="print every setting with its default and help")
    parser.add_argument("--write-docs", action="store_true", help=f"regenerate {DOCS_PATH.name} in docs/")


def run_config(args, cfg: Config) -> int:
    if args.write_docs:
        DOCS_PATH.parent.mkdir(exist_ok=True)
        DOCS_PATH.write_text(config_markdown())
        print(f"wrote {DOCS_PATH}")
    elif args.fields:
        for key, default, text in field_help():
            print(f"{key} = {default}    # {text}")
    else:
        print(yaml.safe_dump(_plain(cfg.to_dict()), sort_keys=False), end="")
    return 0
