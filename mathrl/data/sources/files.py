"""The `file` source: problems from a local .jsonl, .json, .csv or .parquet file, or a folder with one file per split.

Also the reader the other sources use for a data.path they are given.
"""

from __future__ import annotations

import json
from pathlib import Path

from mathrl import jsonl
from mathrl.config import DataConfig, not_utf8
from mathrl.data.sources import Records
from mathrl.errors import DataError

FILE_TYPES = (".jsonl", ".json", ".csv", ".parquet")


def load(cfg: DataConfig, split: str) -> Records:
    if cfg.path is None:
        raise DataError("data.source=file needs a file or folder: pass --path FILE (or --set data.path=FILE)")
    return read_split(cfg.path, split)


def origin(cfg: DataConfig) -> str:
    return str(cfg.path)


def read_split(path: str | Path, split: str, prefix: str | None = None) -> Records:
    """The records of `split` under path (a folder's `split` file, or the file itself); a record without an id gets
    `prefix-split-index`, prefix defaulting to the file's name."""
    records, file = _read_local(path, split)
    for i, record in enumerate(records):
        record.setdefault("id", f"{prefix or file.stem}-{split}-{i}")
    return Records(records, str(file))


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: {not_utf8(data, err)}") from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a JSONL file; a malformed line raises DataError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return [record for _, record in jsonl.parse(_text(path).splitlines(), path)]
    except jsonl.Malformed as err:
        looks_csv = err.number == 1 and "," in err.line and not err.line.lstrip().startswith(("{", "["))
        raise DataError(f"{err}{'; it looks like CSV: name the file .csv' if looks_csv else ''}") from None


def _read_json(path: Path) -> list[dict]:
    """A .json file: one array of objects, or (as many datasets ship) JSON Lines under a .json name."""
    text = _text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return read_jsonl(path)  # several objects, one a line
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected an array of objects, got a JSON {type(data).__name__}")
    bad = next((i for i, record in enumerate(data) if not isinstance(record, dict)), None)
    if bad is not None:
        raise DataError(f"{path}: item {bad + 1} of the array is a {type(data[bad]).__name__}, not an object")
    return data


def _read_csv(path: Path) -> list[dict]:
    import csv

    try:
        return [dict(record) for record in csv.DictReader(_text(path).splitlines())]
    except csv.Error as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None


def _read_parquet(path: Path) -> list[dict]:
    import pandas as pd

    try:
        return pd.read_parquet(path).to_dict("records")
    except Exception as err:  # pyarrow raises several unrelated types for a broken file
        raise DataError(f"{path}: not a readable parquet file ({err})") from None


def _read_table(path: Path) -> list[dict]:
    """Records of a .jsonl, .json (array or lines), .csv or .parquet file; any other suffix is refused by name."""
    readers = {".jsonl": read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: {path.suffix or 'a file without a suffix'} is not a data format mathrl reads; "
                        f"give {', '.join(FILE_TYPES)}")
    records = reader(path)
    if not records:
        raise DataError(f"{path}: the file holds no rows")
    return records


def _split_file(folder: Path, split: str) -> Path:
    for suffix in FILE_TYPES:
        candidate = folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    found = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
    raise DataError(f"{folder}: no {split}.jsonl, .json, .csv or .parquet (found: {found}); pick a split that exists")


def _read_local(path: str | Path, split: str) -> tuple[list[dict], Path]:
    path = Path(path).expanduser()
    if path.is_dir():
        path = _split_file(path, split)
    elif not path.exists():
        raise DataError(f"{path}: no such file or folder; give a folder with {split}.jsonl or a "
                        f"{', '.join(FILE_TYPES)} file")
    return _read_table(path), path
