"""Mutation testing of the modules where a silent error costs users most: mutmut, one module at a time, each against its
own fast test file; results to bench/results/mutation.json and the survivors' table to docs/mutation.md.

    python bench/mutation.py                    # every module below (tens of minutes on 2 cores)
    python bench/mutation.py stats metrics      # only these
    python bench/mutation.py --docs             # rewrite docs/mutation.md from the committed results

Needs `pip install -e ".[mutation]"`. Not run in CI (too slow); run it after changing one of these modules or its
tests. Each module is mutated in a scratch copy of the repository (mutmut writes a mutants/ folder beside the code),
with only its own test file, `-x` and `-m "not slow"`, so a mutant costs one short pytest run. A survivor is either killed by a new test or listed in
EQUIVALENT with the reason no test can tell it from the original.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "mutation.json"
DOCS = ROOT / "docs" / "mutation.md"
TARGET = 0.80  # share of non-equivalent mutants to kill in each module

# name -> (module, its fast test file, functions to mutate ("Class.method" for a method) or None for all of them)
MODULES = {
    "stats": ("mathrl/stats.py", "tests/test_stats.py", None),
    # all but _gpu_memory_gib, which returns None without a GPU
    "metrics": ("mathrl/metrics.py", "tests/test_metrics.py", [
        "_clean", "append_jsonl", "read_jsonl_rows", "_rewrite_atomically", "truncate_after", "_warning_step",
        "read_metrics", "metrics_frame", "read_samples", "_last_user_text", "_completion_text", "sample_rows",
        "MetricsCallback.__init__", "MetricsCallback.on_train_begin", "MetricsCallback.on_log", "MetricsCallback._row",
        "MetricsCallback._warn"]),
    "hosted": ("mathrl/hosted.py", "tests/test_hosted.py", ["install_plan", "install_missing"]),
    "rewards": ("mathrl/rewards.py", "tests/test_rewards.py", None),
    "parsing": ("mathrl/parsing.py", "tests/test_parsing.py", None),
    "config": ("mathrl/config.py", "tests/test_config.py", ["validate"]),
    "train": ("mathrl/train.py", "tests/test_train.py", ["find_checkpoint", "is_complete", "checkpoint_step"]),
}

# Survivors no test can kill, keyed by "function | original line | mutated line" (stable when mutmut renumbers), with
# the reason no input can tell them from the original.
EQUIVALENT = json.loads((ROOT / "bench" / "mutation_equivalent.json").read_text(encoding="utf-8"))


def _scratch_copy(module: str, test_file: str, where: Path) -> None:
    """The package, one test file, conftest and pytest's settings; data/ linked, since some tests read GSM8K."""
    shutil.copytree(ROOT / "mathrl", where / "mathrl", ignore=shutil.ignore_patterns("__pycache__"))
    (where / "tests").mkdir()
    for name in ("conftest.py", Path(test_file).name):
        shutil.copy(ROOT / "tests" / name, where / "tests" / name)
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    (where / "data").symlink_to(ROOT / "data")
    (where / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = mathrl/\n"
        f"only_mutate = {module}\n"
        "pytest_add_cli_args =\n    -x\n    -q\n    -m\n    not slow\n    -p\n    no:cacheprovider\n"
        f"pytest_add_cli_args_test_selection = {test_file}\n"
    )


# `mutmut show` for many mutants in one process (one `mutmut show` each costs an interpreter start)
SHOW_DIFFS = ("import json, sys; from mutmut.mutation.diff_apply import get_diff_for_mutant; "
              "print(json.dumps({name: get_diff_for_mutant(name) for name in sys.argv[1:]}))")


def _changed_lines(diff: str) -> tuple[str, str]:
    removed = " / ".join(line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    added = " / ".join(line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return removed, added


def _mangled(function: str) -> str:
    """mutmut's name for a function (x_name) or a method (xǁClassǁmethod)."""
    return "xǁ" + function.replace(".", "ǁ") if "." in function else "x_" + function


def _function_of(mutant: str) -> str:
    mangled = mutant.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
    return mangled[2:].replace("ǁ", ".")


def run_module(name: str) -> dict:
    module, test_file, functions = MODULES[name]
    dotted = module.removesuffix(".py").replace("/", ".")
    patterns = [f"{dotted}.{_mangled(f)}__mutmut_*" for f in functions] if functions else [f"{dotted}.*"]
    env = dict(os.environ, PYTHONPATH="", TOKENIZERS_PARALLELISM="false", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mutation-{name}-") as tmp:
        where = Path(tmp)
        _scratch_copy(module, test_file, where)
        run = subprocess.run(["mutmut", "run", "--max-children", "1", *patterns], cwd=where, env=env,
                             capture_output=True, text=True)
        meta = where / "mutants" / (module + ".meta")
        if not meta.exists():
            sys.exit(f"mutmut gave no results for {name}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        selected = {k: v for k, v in codes.items() if not functions or _function_of(k) in functions}
        killed, survivors, other = [], [], {}
        for key, code in sorted(selected.items()):
            if code in (1, 3, 36, 24, -24, 152, 255):  # a failing test, pytest's internal error, or a timeout
                killed.append(key)
            elif code == 0 or code in (5, 33):  # ran and passed, or no test touched the function
                survivors.append({"mutant": key, "function": _function_of(key), "no_tests": code != 0})
            else:
                other[key] = code
        diffs = json.loads(subprocess.run([sys.executable, "-c", SHOW_DIFFS, *(s["mutant"] for s in survivors)],
                                          cwd=where, env=env, capture_output=True, text=True, check=True).stdout)
        for s in survivors:
            s["original"], s["mutated"] = _changed_lines(diffs[s["mutant"]])
    return {"module": module, "tests": test_file, "tool": f"mutmut {version('mutmut')}",
            "functions": functions or "all", "mutants": len(selected),
            "killed": len(killed), "survived": len(survivors), "not_run": other,
            "minutes": round((time.time() - started) / 60, 1), "survivors": survivors}


def judged(result: dict) -> dict:
    """The result with EQUIVALENT's reasons applied to its survivors and the share killed of the rest."""
    for s in result["survivors"]:
        reason = EQUIVALENT.get(f"{s['function']} | {s['original']} | {s['mutated']}")
        s.pop("equivalent", None)
        if reason:
            s["equivalent"] = reason
    equivalent = sum(1 for s in result["survivors"] if "equivalent" in s)
    live = result["killed"] + result["survived"] - equivalent
    score = result["killed"] / live if live else 1.0
    return {**result, "equivalent": equivalent, "killed_share_of_non_equivalent": round(score, 4),
            "meets_target": score >= TARGET}


def write_docs(results: dict) -> None:
    lines = ["# Mutation testing", "",
             "Generated by `python bench/mutation.py --docs` from bench/results/mutation.json; do not edit by hand.",
             "",
             "mutmut changes one thing at a time in the modules where a silent error costs users most (a flipped",
             "comparison, a changed constant, a dropped argument) and runs the module's own fast tests against each",
             f"change. Target: at least {TARGET:.0%} of the non-equivalent mutants killed in each module.", "",
             "| module | tests | mutants | killed | survived | equivalent | killed / non-equivalent |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results.values():
        lines.append(f"| {r['module']} | {r['tests']} | {r['mutants']} | {r['killed']} | {r['survived']} | "
                     f"{r['equivalent']} | {r['killed_share_of_non_equivalent']:.0%} |")
    lines += ["", "## Survivors", "",
              "Each surviving mutant: the line as written, the line as mutated, and why it is equivalent (no input",
              "can tell them apart) or that it is a gap still open.", ""]
    for r in results.values():
        if not r["survivors"]:
            continue
        lines += [f"### {r['module']}", "", "| function | original | mutated | why it survives |", "| --- | --- | --- | --- |"]
        for s in r["survivors"]:
            why = s.get("equivalent") or ("not equivalent: no fast test calls it" if s["no_tests"]
                                          else "not equivalent: a gap in the tests")
            cells = [s["function"], f"`{s['original']}`", f"`{s['mutated']}`", why]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    DOCS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate, of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--docs", action="store_true", help="only rewrite docs/mutation.md from the results")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = {name: judged(r) for name, r in results.items()}
    if not args.docs:
        for name in args.modules or MODULES:  # one at a time: the machine has two shared cores
            results[name] = judged(run_module(name))
            r = results[name]
            print(f"{name}: {r['killed']} killed, {r['survived']} survived ({r['equivalent']} equivalent) of "
                  f"{r['mutants']}; {r['killed_share_of_non_equivalent']:.0%} of non-equivalent killed, "
                  f"{r['minutes']} min", flush=True)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    write_docs(results)


if __name__ == "__main__":
    main()
