"""The examples in mathrl's docstrings: each module's `>>>` lines run and print what the docstring says they print."""

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import mathrl

WITH_EXAMPLES = sorted(
    info.name for info in pkgutil.walk_packages(mathrl.__path__, "mathrl.")
    if ">>> " in (importlib.util.find_spec(info.name).loader.get_source(info.name) or "")
)


def test_the_examples_are_found():
    assert {"mathrl.parsing", "mathrl.rewards", "mathrl.stats", "mathrl.arithmetic"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_every_docstring_example_holds(name):
    outcome = doctest.testmod(importlib.import_module(name))
    assert outcome.attempted > 0 and outcome.failed == 0
