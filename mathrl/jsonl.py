"""JSON Lines and atomic writes: how every log, record and data file of mathrl is read, appended and replaced.

A leaf module (it imports nothing of mathrl): appends are fsynced and replacements atomic, so a killed run leaves
at most one torn last line, which the readers below skip or cut off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


class Malformed(ValueError):
    """A line that is not a JSON object; `number` is its 1-based line number, `reason` says what is wrong."""

    def __init__(self, path, number: int, reason: str, line: str):
        super().__init__(f"{path}:{number}: {reason}")
        self.path, self.number, self.reason, self.line = path, number, reason, line


def line(record: dict) -> str:
    """One record as a JSON line, non-ASCII text kept as is.

    >>> line({"completion": "½ × 3"})
    '{"completion": "½ × 3"}\\n'
    """
    return json.dumps(record, ensure_ascii=False) + "\n"


def parse(lines: Iterable[str | bytes], path="<lines>", skip_bad: bool = False) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each line; blank lines are passed over. A line that is not a JSON object raises
    Malformed, or with skip_bad is passed over too.

    >>> list(parse(['{"id": "a"}', '', '[1]', '{"id"'], skip_bad=True))
    [(1, {'id': 'a'})]
    """
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            if skip_bad:
                continue
            raise Malformed(path, number, f"malformed JSON ({err.msg} at column {err.colno})", text) from None
        if isinstance(record, dict):
            yield number, record
        elif not skip_bad:
            raise Malformed(path, number, f"expected a JSON object, got {type(record).__name__}", text)


def read(path: str | Path) -> list[dict]:
    """The objects of a log that a killed writer may have torn: lines that are not JSON objects are skipped, and a
    missing file is an empty log."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [record for _, record in parse(handle, path, skip_bad=True)]


def read_repairing(path: str | Path) -> list[dict]:
    """The objects of an append-only file; a torn last line (an interrupted append) is cut off the file so the next
    append starts on a clean line. A bad line before the last raises Malformed: that is damage, not an interruption."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        lines = handle.readlines()
    try:
        return [record for _, record in parse(lines, path)]
    except Malformed as err:
        if err.number < len(lines):
            raise
    with path.open("r+b") as handle:
        handle.truncate(sum(len(text) for text in lines[:-1]))
    return [record for _, record in parse(lines[:-1], path)]


def append(path: str | Path, records: Iterable[dict]) -> None:
    """Append records as JSON lines and fsync them: a killed process loses at most the line being written."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.writelines(line(record) for record in records)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: str | Path, text: str) -> None:
    """Replace a file by rename from a fsynced staging copy, so a reader (or a crash) never sees it half-written.
    The staging name carries the process id: two processes writing one file do not share a staging copy."""
    path = Path(path)
    staging = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(staging, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)
