"""The `mathrl` command line: one subcommand per job, each taking --profile, --config and --set the same way.

    mathrl env                                          # where am I running, what is installed, which GPUs
    mathrl data stats --source gsm8k --path data/gsm8k --split test
    mathrl plan --profile kaggle-2xt4 --gpu T4           # will it fit, how long will a step take
    mathrl train --profile cpu-smoke --output-dir runs/smoke --max-steps 2
    accelerate launch --multi_gpu --num_processes 2 -m mathrl train --profile kaggle-2xt4 --output-dir DIR
    mathrl eval --model runs/smoke/final --split test --limit 50 --out runs/smoke/eval
    mathrl eval --model runs/smoke/final --source file --path problems.jsonl --answer-style final
    mathrl ask --model smollm2-135m-instruct "Tom has 3 apples and buys 4 more. How many now?"
    mathrl run --profile cpu-smoke --out runs/suite       # execute the five notebooks with papermill

Subcommand NAME lives in the module named in SUBCOMMANDS, which provides `add_NAME_arguments(parser)` and
`run_NAME(args, cfg) -> int`; a module is imported only when its subcommand runs, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dataclasses import fields

from mathrl.config import PROFILES, ConfigError, DataConfig, MathrlError, apply_overrides, load_config, validate

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "env": ("mathrl.env", "report the environment: platform, GPUs, precision, installed versions"),
    "data": ("mathrl.data", "inspect a data source: counts and length statistics"),
    "config": ("mathrl.config", "print the resolved config as YAML, or the table of settings"),
    "plan": ("mathrl.plan", "estimate GPU memory and step time for a profile before training"),
    "train": ("mathrl.train", "run GRPO training (works under accelerate launch / torchrun)"),
    "eval": ("mathrl.evaluate", "score a model on a split: accuracy with intervals, records, summary"),
    "ask": ("mathrl.evaluate", "show a model's reasoning and extracted answer for one problem"),
    "run": ("mathrl.suite", "execute the five notebooks in order with papermill"),
}


# Subcommands that read problems take the same data options, each a shortcut for --set data.FIELD=VALUE (plan reads
# no problems: its lengths come from train.max_prompt_length and train.max_completion_length).
DATA_COMMANDS = ("data", "eval", "train")
DATA_OPTIONS = ("source", "path", "hub_id", "hub_config", "question_field", "answer_field", "answer_style")


class UsageError(Exception):
    """Raised by a subcommand for a usage problem; reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=sorted(PROFILES), help="named profile to start from")
    parser.add_argument("--config", dest="config_file", help="YAML file with section: {field: value} settings")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set train.max_steps=10 (repeatable)")


def _data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data", "where the problems come from; each option sets data.FIELD")
    helps = {f.name: f.metadata.get("help", "") for f in fields(DataConfig)}
    for name in DATA_OPTIONS:
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"data_{name}", metavar=name.split("_")[-1].upper(),
                           help=f"{helps[name]} (data.{name})")


def apply_data_options(args: argparse.Namespace, cfg):
    """The data options given on the command line, applied over the profile, --config and --set, then validated."""
    given = {f"data.{name}": getattr(args, f"data_{name}", None) for name in DATA_OPTIONS}
    return validate(apply_overrides(cfg, {key: value for key, value in given.items() if value is not None}))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="mathrl", description="GRPO on grade-school math.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        _common(sub)
        if name in DATA_COMMANDS:
            _data_options(sub)
        if name == command:
            getattr(importlib.import_module(module_name), f"add_{name}_arguments")(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        if command is not None and command not in SUBCOMMANDS:
            raise UsageError(f"mathrl: unknown command {command!r}; choose one of: {', '.join(SUBCOMMANDS)}")
        args = build_parser(command).parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 2
        cfg = apply_data_options(args, load_config(args.profile, args.config_file, args.overrides))
        module = importlib.import_module(SUBCOMMANDS[args.command][0])
        return int(getattr(module, f"run_{args.command}")(args, cfg) or 0)
    except (UsageError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except MathrlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
