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

Every failure prints one line, `error: ...`, naming the file or setting and what to do. Exit status: 0 done, 2 a
problem with what was given (usage, settings, files, folders), 1 an unexpected error (a bug: rerun with --traceback or
MATHRL_TRACEBACK=1 for the traceback, and report it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import sys
import traceback
from dataclasses import fields

from mathrl.config import (PROFILES, DataConfig, apply_overrides, load_config, setting_help, utf8_text, validate,
                           yaml_problem)
from mathrl.errors import ConfigError, MathrlError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "env": ("mathrl.env", "report the environment: platform, GPUs, precision, installed versions"),
    "data": ("mathrl.data.load", "inspect a data source: counts and length statistics"),
    "config": ("mathrl.config", "print the resolved config as YAML, or the table of settings"),
    "plan": ("mathrl.train.plan", "estimate GPU memory and step time for a profile before training"),
    "train": ("mathrl.train.grpo", "run GRPO training (works under accelerate launch / torchrun)"),
    "eval": ("mathrl.eval.evaluate", "score a model on a split: accuracy with intervals, records, summary"),
    "ask": ("mathrl.eval.evaluate", "show a model's reasoning and extracted answer for one problem"),
    "run": ("mathrl.cli.suite", "execute the five notebooks in order with papermill"),
}


# Subcommands that read problems take the same data options, each a shortcut for --set data.FIELD=VALUE (plan reads
# no problems: its lengths come from train.max_prompt_length and train.max_completion_length).
DATA_COMMANDS = ("data", "eval", "train")
DATA_OPTIONS = ("source", "path", "hub_id", "hub_config", "question_field", "answer_field", "answer_style")


TRACEBACK_ENV = "MATHRL_TRACEBACK"


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
    _traceback_option(parser)


def _traceback_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--traceback", action="store_true",
                        help=f"on an error, show the Python traceback (for bug reports); or set {TRACEBACK_ENV}=1")


def _data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data", "where the problems come from; each option sets data.FIELD")
    helps = {f.name: setting_help(DataConfig, f.name) for f in fields(DataConfig)}
    for name in DATA_OPTIONS:
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"data_{name}", metavar=name.split("_")[-1].upper(),
                           help=f"{helps[name]} (data.{name})")


def apply_data_options(args: argparse.Namespace, cfg):
    """The data options given on the command line, applied over the profile, --config and --set, then validated."""
    given = {f"data.{name}": getattr(args, f"data_{name}", None) for name in DATA_OPTIONS}
    return validate(apply_overrides(cfg, {key: value for key, value in given.items() if value is not None}))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="mathrl", description="GRPO on grade-school math.")
    _traceback_option(parser)
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
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if "--traceback" in argv or os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
            raise
        message, status = explain(err)
        print("error: " + " ".join(message.split()), file=sys.stderr)
        return status


def _run(argv: list[str]) -> int:
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is not None and command not in SUBCOMMANDS:
        raise UsageError(f"mathrl: unknown command {command!r}; choose one of: {', '.join(SUBCOMMANDS)}")
    args = build_parser(command).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    cfg = apply_data_options(args, load_config(args.profile, args.config_file, args.overrides))
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(getattr(module, f"run_{args.command}")(args, cfg) or 0)


# --------------------------------------------------------------------------- errors as one line

_OS_ADVICE = {
    errno.EACCES: "no permission: choose a path you may write to, or change its permissions",
    errno.EPERM: "no permission: choose a path you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only: choose a folder on a writable disk",
    errno.EEXIST: "it exists and is not a folder: choose another path, or move the file away",
    errno.ENOTDIR: "part of the path is a file, not a folder: choose another path, or move the file away",
    errno.EISDIR: "it is a folder, where a file is needed: give the file's path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENOSPC: "the disk is full: free space, or choose a folder on another disk",
}


def explain(err: Exception) -> tuple[str, int]:
    """(message, exit status) for an error: mathrl's own say what to fix; file-system, encoding, YAML, JSON and
    safetensors errors name the file; anything else is a bug, reported with how to get its traceback."""
    if isinstance(err, (UsageError, MathrlError)):
        return str(err), 2
    if isinstance(err, OSError) and err.errno in _OS_ADVICE:
        name = err.filename or _file_in(err) or ""
        return f"{name}{': ' if name else ''}{err.strerror}; {_OS_ADVICE[err.errno]}", 2
    path = _file_in(err)
    where = f"{path}: " if path else ""
    if isinstance(err, UnicodeDecodeError):
        if path:
            try:
                utf8_text(path)
            except ConfigError as named:
                return str(named), 2
        return f"{where}not UTF-8 text ({err.reason}); save the file as UTF-8", 2
    if type(err).__module__.startswith("yaml"):
        return f"{where}{yaml_problem(err)}; fix the file's YAML", 2
    if isinstance(err, json.JSONDecodeError):
        return f"{where}not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); fix or replace the file", 2
    if type(err).__name__ == "SafetensorError":
        return (f"{where}not a readable safetensors file ({err}): the download or save was cut short or the file is "
                "damaged; download or save the model again"), 2
    if isinstance(err, OSError):  # e.g. transformers' "does not appear to have a file named config.json"
        return f"{where}{err}", 2
    return (f"{where}{type(err).__name__}: {err}. This is unexpected: rerun with --traceback (or {TRACEBACK_ENV}=1) "
            "and report the traceback"), 1


def _file_in(err: Exception) -> str | None:
    """The file an error was raised while reading: a local variable naming an existing file in the innermost frame
    that has one (mathrl's readers and the libraries it calls hold the path they read in a local)."""
    for frame, _ in reversed(list(traceback.walk_tb(err.__traceback__))):
        for name, value in frame.f_locals.items():
            if name.startswith("__") or not isinstance(value, (str, os.PathLike)):
                continue
            text = os.fspath(value)
            if isinstance(text, str) and len(text) < 4096 and not text.endswith(".py") and os.path.isfile(text):
                return text
    return None


if __name__ == "__main__":
    raise SystemExit(main())
