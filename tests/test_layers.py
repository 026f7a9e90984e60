"""The package's layers: no module imports a layer above its own, no import cycle (function-level imports counted),
and the config spine loads no higher layer."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mathrl"

# Bottom first. A name is a module or a sub-package directly under mathrl/; a sub-package's modules share its layer.
# A module may import its own layer and those below it, never one above.
LAYERS = (
    # data/ shares the bottom layer with config: config checks data.source against the source registry, and the
    # sources and loaders read DataConfig; neither side can sit above the other.
    ("core", {"errors", "jsonl", "formats", "gsm8k", "stats", "notices", "arithmetic", "parsing", "verify", "rewards",
              "config", "data", "hardware", "models", "env", "generation"}),
    ("eval", {"eval"}),
    ("train", {"train"}),
    ("report", {"report"}),
    ("command line", {"cli", "__main__"}),
)


def _imports(source: str) -> set[str]:
    """The mathrl modules a module's source imports anywhere in it: at the top and inside functions alike."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mathrl":
                found |= {f"mathrl.{a.name}" for a in node.names}
            elif node.module.startswith("mathrl."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mathrl.")}
    return found


def module_name(path: Path) -> str:
    """mathrl.data.load for mathrl/data/load.py, mathrl.data.sources for mathrl/data/sources/__init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each mathrl module, subpackages' included, and the mathrl modules it imports; the package itself is left out."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py"}
    return {name: (_imports(path.read_text(encoding="utf-8")) & modules.keys()) - {name}
            for name, path in modules.items()}


def layer(module: str) -> int:
    """The rank in LAYERS (0 = bottom) of a mathrl module, by its name or its sub-package's name under mathrl."""
    top = module.split(".")[1]
    return next(rank for rank, (_, names) in enumerate(LAYERS) if top in names)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a module from a layer above its own, as 'importer -> imported'."""
    return [f"{m} ({LAYERS[layer(m)][0]}) -> {d} ({LAYERS[layer(d)][0]})"
            for m, deps in sorted(graph.items()) for d in sorted(deps) if layer(d) > layer(m)]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that returns to its start, or None."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for dep in sorted(graph[node]):
            if cycle := visit(dep):
                return cycle
        path.pop()
        done.add(node)
        return None

    return next((c for c in map(visit, sorted(graph)) if c), None)


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
    assert _imports("def f():\n    from mathrl.config import Config\n") == {"mathrl.config"}
    assert _imports("from mathrl import stats\nimport mathrl.rewards as r\n") == {"mathrl.stats", "mathrl.rewards"}
    assert {"mathrl.gsm8k", "mathrl.data.sources", "mathrl.data.sources.files"} <= import_graph().keys()  # leaf and subpackage
    assert import_graph()["mathrl.gsm8k"] == set()  # the GSM8K solution reader is a leaf


def test_every_module_and_subpackage_has_one_layer():
    names = [n for _, group in LAYERS for n in group]
    assert len(names) == len(set(names)), "a name sits in two layers"
    tops = {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert tops - {"__init__"} == set(names), "place each new module or sub-package in LAYERS; drop moved ones"


def test_the_layer_check_sees_an_upward_import():
    assert upward_imports({"mathrl.eval.evaluate": {"mathrl.train.grpo", "mathrl.config"}}) == [
        "mathrl.eval.evaluate (eval) -> mathrl.train.grpo (train)"]
    assert layer("mathrl.report.plots") > layer("mathrl.train.live") > layer("mathrl.eval.taxonomy") > layer("mathrl.config")


def test_no_module_imports_a_layer_above_its_own():
    upward = upward_imports(import_graph())
    assert upward == [], "move what the lower module needs down to it:\n" + "\n".join(upward)


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}; move what both need into the lower module"


def test_config_and_its_validation_load_no_parser_reward_or_torch():
    code = ("import sys\nfrom mathrl.config import load_config\nfor p in ('cpu-smoke', 'cpu-learn'):\n"
            "    load_config(p)\nprint(' '.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in ("torch", "transformers", "trl")
             or m in ("mathrl.rewards", "mathrl.parsing", "mathrl.verify")]
    assert heavy == [], f"mathrl.config loads {heavy}; config is the bottom layer and must not import them"


def test_config_knows_every_registered_reward_by_name():
    # config checks reward names against its weight table so that it need not import the rewards
    from mathrl.config import DEFAULT_REWARD_WEIGHTS
    from mathrl.rewards import REWARDS

    assert set(DEFAULT_REWARD_WEIGHTS) == set(REWARDS), "give every reward a default weight (0.0 = logged only)"
