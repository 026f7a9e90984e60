"""The source registry is the one place a data source is named: the worked example in docs/extending.md, registered at
run time, loads through mathrl.data.load, passes config validation, shows in the help and the notebooks' description."""

import importlib
import re
import sys
from pathlib import Path

import pytest

from mathrl.cli import suite
from mathrl.cli.commands import main
from mathrl.config import ConfigError, DataConfig, field_help, load_config, setting_help
from mathrl.data.load import DataError, load_rows
from mathrl.data.sources import SOURCES, Source

EXTENDING = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def docs_example() -> tuple[str, str, Source]:
    """(module code, source name, registry entry) from docs/extending.md's data-source section."""
    section = EXTENDING.read_text(encoding="utf-8").split("## A data source", 1)[1]
    code, line = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    name, module, note = re.fullmatch(r'\s*"(\w+)": Source\("([\w.]+)", "([^"]+)"\),\s*', line).groups()
    return code, name, Source(module, note)


@pytest.fixture
def times(tmp_path, monkeypatch):
    """The docs' example written as a module of its own and registered under the docs' name, for this test only."""
    code, name, entry = docs_example()
    (tmp_path / "times_example.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "times_example", raising=False)
    monkeypatch.setitem(SOURCES, name, entry._replace(module="times_example"))
    return name


def test_the_docs_example_is_one_module_and_one_registry_line_under_mathrl_data_sources():
    code, name, entry = docs_example()
    assert (name, entry.module) == ("times", "mathrl.data.sources.times")
    assert "def load(cfg: DataConfig, split: str) -> Records:" in code and "def origin(cfg: DataConfig)" in code


def test_a_source_registered_at_run_time_loads_through_load_rows(times):
    cfg = load_config("cpu-smoke", overrides=[f"data.source={times}", "data.limit=none"])
    train, test = load_rows(cfg.data, "train"), load_rows(cfg.data, "test")
    assert (len(train), len(test)) == (33, 33)  # the 66 products of 2..12, halved
    assert not {r["question"] for r in train} & {r["question"] for r in test}
    for row in train + test:
        a, b = map(int, re.fullmatch(r"What is (\d+) times (\d+)\?", row["question"]).groups())
        assert row["answer"] == str(a * b)  # its answer_style=final was used, not the profile's gsm8k
        assert row["prompt"][-1]["content"].startswith(row["question"])
    assert load_rows(DataConfig(source=times, limit=5), "train") == train[:5]


def test_config_validation_help_and_docs_read_the_registry_as_it_is_now(times):
    assert load_config("cpu-smoke", overrides=[f"data.source={times}"]).data.source == times
    with pytest.raises(ConfigError, match=r"data.source='nope': choose gsm8k, hub, file, reasoning_gym or times$"):
        load_config("cpu-smoke", overrides=["data.source=nope"])
    shown = "times (products of two numbers from 2 to 12)"
    assert shown in setting_help(DataConfig, "source")
    assert shown in dict((k, h) for k, _, h in field_help())["data.source"]


def test_a_source_registered_at_run_time_is_a_command_line_choice(times, capsys):
    assert main(["data", "show", "--source", times, "--split", "test"]) == 0
    assert capsys.readouterr().out.count('"id": "times-test-') == 5


def test_the_notebooks_describe_a_source_by_its_origin(times):
    lines = suite.describe_config(suite.notebook_config("cpu-smoke", data_source=times)).splitlines()
    assert lines[1].startswith("data     times from the times tables, ")


def test_without_its_registry_line_the_source_is_refused_everywhere(times, monkeypatch):
    monkeypatch.delitem(SOURCES, times)
    with pytest.raises(ConfigError, match="choose gsm8k, hub, file or reasoning_gym"):
        load_config("cpu-smoke", overrides=[f"data.source={times}"])
    assert "times" not in setting_help(DataConfig, "source")
    with pytest.raises(DataError, match="data.source='times' is not a source"):
        load_rows(DataConfig(source=times))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_registered_source_has_the_two_functions(name):
    module = importlib.import_module(SOURCES[name].module)
    assert callable(module.load) and callable(module.origin)
    assert isinstance(module.origin(DataConfig(source=name, path="problems.jsonl")), str)
