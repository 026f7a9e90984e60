"""JSON Lines on disk: fsynced appends, readers that survive a torn last line, atomic replacement."""

import os

import pytest

from mathrl import jsonl


def test_appended_records_read_back_with_text_as_written(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    path = tmp_path / "log.jsonl"
    jsonl.append(path, [{"step": 1, "completion": "½ × 3"}])
    jsonl.append(path, [{"step": 2}, {"step": 3}])
    assert len(synced) == 2  # one fsync per append: a batch on disk survives a kill
    assert "½ × 3" in path.read_text(encoding="utf-8")  # not escaped to \u00bd
    assert jsonl.read(path) == [{"step": 1, "completion": "½ × 3"}, {"step": 2}, {"step": 3}]


def test_read_skips_torn_lines_and_non_objects(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1}\n[1, 2]\n\n{"step": 2}\n{"step": 3, "rew')  # a list, a blank line, a torn line
    assert jsonl.read(path) == [{"step": 1}, {"step": 2}]
    assert jsonl.read(tmp_path / "missing.jsonl") == []


def test_read_keeps_reading_after_a_bad_line_in_the_middle(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "rew\n{"step": 3}\n')  # a torn append that a later run continued
    assert jsonl.read(path) == [{"step": 1}, {"step": 3}]


def test_read_repairing_cuts_a_torn_last_line_off_the_file(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", "compl')
    assert jsonl.read_repairing(path) == [{"id": "a"}, {"id": "b"}]
    assert path.read_text() == '{"id": "a"}\n{"id": "b"}\n'  # the next append starts on a clean line
    jsonl.append(path, [{"id": "c"}])
    assert [r["id"] for r in jsonl.read_repairing(path)] == ["a", "b", "c"]


def test_read_repairing_refuses_damage_before_the_last_line(tmp_path):
    path = tmp_path / "records.jsonl"
    text = '{"id": "a"}\nnot json\n{"id": "b"}\n'
    path.write_text(text)
    with pytest.raises(jsonl.Malformed, match=r"records.jsonl:2: malformed JSON \(Expecting value at column 1\)$"):
        jsonl.read_repairing(path)
    assert path.read_text() == text  # nothing cut


@pytest.mark.parametrize("text, message", [
    ('{"a": 1}\n{"a": }\n', r"^data\.jsonl:2: malformed JSON \(Expecting value at column 7\)$"),  # the fault's column
    ('{"a": 1}\n"just a string"\n', r"^data\.jsonl:2: expected a JSON object, got str$"),
])
def test_parse_names_the_file_the_line_and_what_is_wrong(text, message):
    with pytest.raises(jsonl.Malformed, match=message) as caught:
        list(jsonl.parse(text.splitlines(), "data.jsonl"))
    assert (caught.value.path, caught.value.number) == ("data.jsonl", 2)
    assert caught.value.line == text.splitlines()[1]  # the bad line itself, for the caller's message


def test_parse_without_a_path_names_the_lines_as_such():
    with pytest.raises(jsonl.Malformed, match=r"^<lines>:1: expected a JSON object, got list$"):
        list(jsonl.parse(["[1]"]))


def test_write_atomically_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "marker.json"
    jsonl.write_atomically(path, "first")
    jsonl.write_atomically(path, "second")
    assert path.read_text() == "second" and [p.name for p in tmp_path.iterdir()] == ["marker.json"]

    def crash(*args):
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        jsonl.write_atomically(path, "third")
    assert path.read_text() == "second"  # a crash leaves the old file, never a half-written one
