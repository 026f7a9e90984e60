"""The `gsm8k` source: the GSM8K copy shipped in data/gsm8k (no network needed), data.path when one is given, or
data.hub_id on the Hub when the copy is absent.
"""

from __future__ import annotations

from pathlib import Path

from mathrl.config import DataConfig
from mathrl.data.sources import Records
from mathrl.data.sources.files import read_split
from mathrl.data.sources.hub import from_hub

SHIPPED = Path(__file__).resolve().parents[3] / "data" / "gsm8k"


def load(cfg: DataConfig, split: str) -> Records:
    if cfg.path is None and not SHIPPED.is_dir():
        return from_hub(cfg, split)
    return read_split(cfg.path or SHIPPED, split, prefix="gsm8k")


def origin(cfg: DataConfig) -> str:
    if cfg.path is not None:
        return cfg.path
    return "the shipped copy" if SHIPPED.is_dir() else cfg.hub_id
