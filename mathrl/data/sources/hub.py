"""The `hub` source: a dataset on the Hugging Face Hub (data.hub_id, data.hub_config), or data.path when one is given.
"""

from __future__ import annotations

from mathrl.config import DataConfig
from mathrl.data.sources import Records
from mathrl.data.sources.files import read_split
from mathrl.errors import DataError


def load(cfg: DataConfig, split: str) -> Records:
    return read_split(cfg.path, split) if cfg.path is not None else from_hub(cfg, split)


def origin(cfg: DataConfig) -> str:
    return cfg.path or cfg.hub_id


def from_hub(cfg: DataConfig, split: str) -> Records:
    """The records of data.hub_id's split, each without an id given `name-split-index`."""
    records = read_hub(cfg.hub_id, cfg.hub_config, split)
    for i, record in enumerate(records):
        record.setdefault("id", f"{cfg.hub_id.split('/')[-1]}-{split}-{i}")
    return Records(records, f"{cfg.hub_id} ({split})")


def read_hub(hub_id: str, hub_config: str | None, split: str) -> list[dict]:
    from datasets import load_dataset

    try:
        return list(load_dataset(hub_id, hub_config, split=split))
    except Exception as err:  # datasets wraps network and lookup failures in many types
        raise DataError(
            f"could not load {hub_id!r} ({hub_config}) split {split!r} from the Hub: {err}. "
            "Offline, use data.source=gsm8k (the shipped copy) or data.path=FOLDER"
        ) from None
