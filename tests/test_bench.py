"""bench/: docs/benchmarks.md is generated from bench/results/*.json, and the scripts use mathrl's public API only."""

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_doc_is_the_table_of_the_committed_results():
    done = subprocess.run([sys.executable, "bench/run_all.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mathrl_names(tree: ast.Module) -> set[str]:
    """Names a script binds to mathrl modules (`from mathrl import parsing`, `import mathrl.train.grpo as t`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == "mathrl"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mathrl"):
            names |= {a.asname or a.name for a in node.names}
    return names


def _public_api_breaches(source: str) -> list[str]:
    tree = ast.parse(source)
    mathrl = _mathrl_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) == ("sys", "path"):
                found.append(f"line {node.lineno}: edits sys.path (mathrl is installed; run scripts from the repo root)")
            elif node.value.id in mathrl and node.attr.startswith("_") and not node.attr.startswith("__"):
                found.append(f"line {node.lineno}: reads the private {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mathrl"):
            found += [f"line {node.lineno}: imports the private {node.module}.{a.name}" for a in node.names
                      if a.name.startswith("_")]
    return found


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("*.py")))
def test_bench_scripts_use_public_apis_only(script):
    assert _public_api_breaches((ROOT / "bench" / script).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "import sys\nsys.path.insert(0, 'x')",  # a path edit
    "from mathrl import parsing\nparsing._answer_value.cache_clear()",  # a private function of a mathrl module
    "import mathrl.rewards as r\nr._gold('1')",  # the same through an aliased import
    "from mathrl.parsing import _TOKEN",  # a private name imported directly
])
def test_the_public_api_check_sees_each_breach(source):
    assert len(_public_api_breaches(source)) == 1


def test_run_all_lists_only_results_that_exist(tmp_path, monkeypatch):
    run_all = _bench_module("run_all")
    monkeypatch.setattr(run_all, "RESULTS", tmp_path)
    (tmp_path / "eval_throughput.json").write_text(json.dumps({"ratio_wall": 7.0}))
    assert run_all.table(run_all.BENCHMARKS) == [("batched / naive generate, tokens/s", 7.0, ">= 6")]
    markdown = run_all.benchmarks_markdown()
    missing = [file for file, *_ in run_all.BENCHMARKS if file != "eval_throughput.json"]
    assert [file for file in missing if file in markdown] == []
    assert "- `python bench/reward_throughput.py`" in markdown.split("## Not run yet")[1]
