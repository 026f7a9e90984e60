"""Start training from a notebook: in-process on one GPU or CPU, else `accelerate launch` / torchrun as a subprocess.

    from mathrl.train.launch import launch_training; result = launch_training(cfg)   # in a notebook cell

The subprocess's output streams into the cell line by line, and its metrics.jsonl is tailed for the live curves.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mathrl.config import Config, load_config
from mathrl.errors import MathrlError

ACCELERATE_CONFIGS = Path(__file__).resolve().parents[1] / "accelerate_configs"
REDRAW_SECONDS = 10.0


def resolve_config(cfg_or_args, overrides: list[str] | dict | None = None) -> Config:
    """A Config from a Config, a profile name, or the command line's argparse namespace."""
    from mathrl.train.grpo import apply_train_arguments

    if isinstance(cfg_or_args, Config):
        return cfg_or_args
    if isinstance(cfg_or_args, str):
        return load_config(cfg_or_args, overrides=overrides)
    args = cfg_or_args
    cfg = load_config(args.profile, getattr(args, "config_file", None), getattr(args, "overrides", None))
    return apply_train_arguments(args, cfg)


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launch_command(config_file: str | Path, num_processes: int, launcher: str = "accelerate",
                   accelerate_config: str | None = None) -> list[str]:
    """The command that runs `mathrl train --config FILE` in `num_processes` processes.

    accelerate_config: None for plain DDP (--multi_gpu), or a file or name in mathrl/accelerate_configs (zero2,
    zero3, fsdp, multi_gpu).
    """
    train = ["-m", "mathrl", "train", "--config", str(config_file)]
    if launcher == "torchrun":
        return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(num_processes), *train]
    if launcher != "accelerate":
        raise MathrlError(f"launcher {launcher!r}: choose accelerate or torchrun")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    if accelerate_config is None:
        command.append("--multi_gpu")
    else:
        command += ["--config_file", str(accelerate_config_path(accelerate_config))]
    return [*command, *train]


def accelerate_config_path(accelerate_config: str | Path) -> Path:
    """A file, or the name of one in mathrl/accelerate_configs (zero2, zero3, fsdp, multi_gpu)."""
    path = Path(accelerate_config)
    if not path.is_file():
        path = ACCELERATE_CONFIGS / f"{str(accelerate_config).removesuffix('.yaml')}.yaml"
    if not path.is_file():
        shipped = ", ".join(p.stem for p in sorted(ACCELERATE_CONFIGS.glob("*.yaml")))
        raise MathrlError(f"accelerate config {accelerate_config!r} not found; shipped: {shipped}")
    return path


def engine_of(accelerate_config: str | Path | None) -> str:
    """The distributed_type an accelerate config asks for (MULTI_GPU, FSDP, DEEPSPEED); None is plain DDP."""
    import yaml

    if accelerate_config is None:
        return "MULTI_GPU"
    return yaml.safe_load(accelerate_config_path(accelerate_config).read_text())["distributed_type"]


def stream(command: list[str], echo=print, on_idle=None) -> int:
    """Run command, passing each output line to echo as it arrives; on_idle() runs between lines. Returns the exit code.

    Interrupting the cell (KeyboardInterrupt) stops the child too, instead of leaving it holding the GPUs.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        for line in process.stdout:
            echo(line.rstrip("\n"))
            if on_idle is not None:
                on_idle()
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=30)
        raise


def _tailer(output_dir: Path, mode: str, title: str):
    """on_idle for stream(): redraws the curves from metrics.jsonl at most every REDRAW_SECONDS while mode is live."""
    from mathrl.train.live import CurveDisplay
    from mathrl.train.metrics import read_metrics

    display = CurveDisplay(title)
    last = {"time": 0.0}

    def redraw(force: bool = False):
        if mode != "live" and not force:
            return
        if force or time.monotonic() - last["time"] > REDRAW_SECONDS:
            last["time"] = time.monotonic()
            display.show(read_metrics(output_dir))

    return redraw


def launch_training(cfg_or_args, num_processes: int | None = None, launcher: str = "accelerate",
                    accelerate_config: str | None = None, overrides: list[str] | dict | None = None, echo=print):
    """Train cfg (a Config, profile name or CLI args): in-process on one device, else one process per GPU.

    num_processes None takes train.num_processes (0: one per visible GPU) capped at the GPUs visible, so the
    kaggle-2xt4 profile on a one-GPU session trains in-process; an explicit num_processes is used as given (2 CPU
    processes in the tests, with launcher="torchrun"). Returns the TrainResult
    in-process, or the output dir after a successful subprocess run; a failed subprocess raises MathrlError.
    """
    from mathrl.train.grpo import check_engine, preflight, save_config, train
    from mathrl.train.live import live_mode

    cfg = resolve_config(cfg_or_args, overrides)
    count = num_processes or min(cfg.train.num_processes or visible_gpus(), visible_gpus())
    if count <= 1:
        return train(cfg)
    check_engine(engine_of(accelerate_config))  # before accelerate's own launcher, which fails with a traceback
    preflight(cfg)  # fail here, in the cell, before two processes each load a model
    config_file = save_config(cfg)
    command = launch_command(config_file, count, launcher, accelerate_config)
    echo("$ " + " ".join(command))
    out = Path(cfg.train.output_dir)
    redraw = _tailer(out, live_mode(cfg.train.live_plot), f"{cfg.profile}: {out.name}")
    code = stream(command, echo=echo, on_idle=redraw)
    if code != 0:
        raise MathrlError(f"training exited with status {code}; the lines above say why. Re-run the same call to "
                          f"resume from the newest checkpoint in {out}")
    if live_mode(cfg.train.live_plot) != "off":
        redraw(force=True)
    return out
