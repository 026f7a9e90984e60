"""Mutation testing of the modules where a silent error costs users most: mutmut, one module at a time, each against its
own fast test file; results to bench/results/mutation.json and the survivors' table to docs/mutation.md.

    python bench/mutation.py                    # every module below (tens of minutes on 2 cores)
    python bench/mutation.py stats metrics      # only these
    python bench/mutation.py --named            # the NAMED one-line bugs, each against the test that must catch it
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
    "metrics": ("mathrl/train/metrics.py", "tests/test_metrics.py", [
        "_clean", "append_jsonl", "truncate_after", "_warning_step",
        "read_metrics", "metrics_frame", "read_samples", "_last_user_text", "_completion_text", "sample_rows",
        "MetricsCallback.__init__", "MetricsCallback.on_train_begin", "MetricsCallback.on_log", "MetricsCallback._row",
        "MetricsCallback._warn"]),
    "jsonl": ("mathrl/jsonl.py", "tests/test_jsonl.py", None),
    "hosted": ("mathrl/cli/hosted.py", "tests/test_hosted.py", ["install_plan", "install_missing"]),
    "rewards": ("mathrl/rewards.py", "tests/test_rewards.py", None),
    # answer extraction: which answer a completion is graded on, and when hedging pays nothing
    "parsing": ("mathrl/parsing.py", "tests/test_parsing.py", [
        "_blocks", "_stated", "_last_side", "_agree", "_boxed", "_tokens_backwards", "_last_number", "_math_span",
        "_answer_is", "extract_answer", "_extract"]),
    # validation and coercion (see SCOPE)
    "config": ("mathrl/config.py", "tests/test_config.py", [
        "validate", "_typed", "coerce", "_as_type", "_int_text", "_check_limits", "_apply", "apply_overrides"]),
    # checkpoint finding and resume: which folder a rerun resumes from, what it deletes, whether it is finished
    "train": ("mathrl/train/grpo.py", "tests/test_train.py", [
        "_step", "is_ours", "is_complete", "mark_complete", "checkpoint_problem", "find_checkpoint", "checkpoint_step",
        "rotate_checkpoints", "remove_stale", "finished_step"]),
}

# Why a module's run covers only some of its functions, for the docs.
SCOPE = {
    "rewards": "every function, the rewards themselves included: mutmut leaves decorated functions alone, so the "
               "rewards are registered and the caches built by plain calls",
    "config": "validation and the coercion that every door (YAML, --set, dict overrides, the Python API) puts a "
              "value through; not loading, profiles or the docs",
}

# Tests left out of a module's mutation run, with why: each costs most of the run on every surviving mutant, and checks
# only that hostile input never raises or goes quadratic, which the module's other tests also exercise.
LEFT_OUT = {
    "parsing": {"tests/test_parsing.py::test_parser_never_raises":
                "hypothesis fuzzing for exceptions: 90 s of the 117 s a surviving mutant costs"},
    "rewards": {"tests/test_rewards.py::test_rewards_never_raise_and_stay_in_range":
                "hypothesis fuzzing for exceptions and ranges",
                "tests/test_rewards.py::test_every_gsm8k_gold_solution_scores_full_marks":
                "grades all 8,792 GSM8K golds five times: half the module's test time"},
}

# One-line bugs that once went unnoticed, each with the test that must now catch it: (what breaks, module, the code as
# written, the same code broken, the test). `--named` applies each in a scratch copy and runs its test on the original
# (must pass) and on the broken code (must fail). A removed block takes the next line's indentation with it.
NAMED = [
    ("paired-difference variance with its sign flipped", "mathrl/stats.py",
     "(better + worse) / n**2 - (better - worse) ** 2 / n**3", "(better + worse) / n**2 + (better - worse) ** 2 / n**3",
     "tests/test_stats.py::test_paired_difference_matches_agrestis_presidential_approval_example"),
    ("McNemar's switch from exact to chi-square moved by one discordant pair", "mathrl/stats.py",
     "if b + c < EXACT_MCNEMAR_BELOW:", "if b + c <= EXACT_MCNEMAR_BELOW:",
     "tests/test_stats.py::test_mcnemar_switches_to_chi_square_at_exactly_25_discordant_pairs"),
    ("resume trimming warnings.log at `< step` instead of `<= step`", "mathrl/train/metrics.py",
     "if _warning_step(line) <= step]", "if _warning_step(line) < step]",
     "tests/test_metrics.py::test_truncate_keeps_the_resumed_step_itself_in_every_log"),
    ("the hosted installer's never-install-torch rule removed", "mathrl/cli/hosted.py",
     'if name == "torch":\n            continue\n        ', "",
     "tests/test_hosted.py::test_plan_never_installs_torch_even_when_it_is_missing"),
    ("find_checkpoint ordering checkpoints by name (checkpoint-950 after checkpoint-1000)", "mathrl/train/grpo.py",
     "sorted(marked, key=_step, reverse=True)", "sorted(marked, key=lambda p: p.name, reverse=True)",
     "tests/test_train.py::test_the_newest_checkpoint_is_found_by_step_number_not_by_name"),
    ("the answer parser's hedge check removed (`18 or 19` paid as 18)", "mathrl/parsing.py",
     "if len({format_value(v) if (v := answer_value(t)) else t for t in tokens}) > 1:\n        return _HEDGE\n    ", "",
     "tests/test_parsing.py::test_an_answer_naming_two_values_is_a_hedge_everywhere"),
]
NAMED_RESULTS = ROOT / "bench" / "results" / "mutation_named.json"

# Survivors no test can kill, keyed by "function | original line | mutated line" (stable when mutmut renumbers), with
# the reason no input can tell them from the original.
EQUIVALENT = json.loads((ROOT / "bench" / "mutation_equivalent.json").read_text(encoding="utf-8"))


# mutmut forks each mutant's test run from a process that already ran the tests with the original code: an answer the
# parser cached there would hide the mutant, so every functools cache in mathrl is emptied before each test.
FRESH_CACHES = """

@pytest.fixture(autouse=True)
def _fresh_mathrl_caches():
    for name, module in list(sys.modules.items()):
        if name == "mathrl" or name.startswith("mathrl."):
            for value in list(vars(module).values()):
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
"""


def _scratch_copy(module: str, test_file: str, where: Path, left_out=()) -> None:
    """The package, the tests and pytest's settings; data/ and docs/ linked (read only), since some tests read GSM8K
    or compare generated docs."""
    shutil.copytree(ROOT / "mathrl", where / "mathrl", ignore=shutil.ignore_patterns("__pycache__"))
    # every test file, since one may import another's helpers (test_metrics reads test_plots'); mutmut runs only test_file
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    with open(where / "tests" / "conftest.py", "a", encoding="utf-8") as conftest:
        conftest.write(FRESH_CACHES)
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    for linked in ("data", "docs"):
        (where / linked).symlink_to(ROOT / linked)
    (where / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = mathrl/\n"
        f"only_mutate = {module}\n"
        "also_copy =\n    data\n    docs\n"  # mutmut runs the tests in mutants/, a copy of the scratch copy
        # a fixed hypothesis seed: a mutant is killed or not the same way on every run
        "pytest_add_cli_args =\n    -x\n    -q\n    -m\n    not slow\n    -p\n    no:cacheprovider\n"
        "    --hypothesis-seed\n    0\n"
        + "".join(f"    --deselect\n    {test}\n" for test in left_out)
        + f"pytest_add_cli_args_test_selection = {test_file}\n"
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
        _scratch_copy(module, test_file, where, LEFT_OUT.get(name, {}))
        run = subprocess.run(["mutmut", "run", "--max-children", "1", *patterns], cwd=where, env=env,
                             capture_output=True, text=True)
        meta = where / "mutants" / (module + ".meta")
        if not meta.exists():
            sys.exit(f"mutmut gave no results for {name}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        selected = {k: v for k, v in codes.items() if not functions or _function_of(k) in functions}
        if all(code is None for code in selected.values()):  # e.g. the tests failed on the unmutated code
            sys.exit(f"mutmut ran no mutant of {name}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
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
            "functions": functions or "all", "left_out": LEFT_OUT.get(name, {}), "mutants": len(selected),
            "killed": len(killed), "survived": len(survivors), "not_run": other,
            "minutes": round((time.time() - started) / 60, 1), "survivors": survivors}


def run_named() -> list[dict]:
    """Each NAMED bug applied by hand to a scratch copy: its test's exit status on the original and on the bug."""
    env = dict(os.environ, PYTHONPATH="", TOKENIZERS_PARALLELISM="false", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
    checks = []
    with tempfile.TemporaryDirectory(prefix="mutation-named-") as tmp:
        where = Path(tmp)
        for what, module, written, broken, test in NAMED:
            for path in ("mathrl", "tests"):
                shutil.rmtree(where / path, ignore_errors=True)
                shutil.copytree(ROOT / path, where / path, ignore=shutil.ignore_patterns("__pycache__"))
            if not (where / "pyproject.toml").exists():
                shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
                (where / "data").symlink_to(ROOT / "data")
            source = (where / module).read_text(encoding="utf-8")
            if source.count(written) != 1:
                sys.exit(f"{module} no longer holds `{written}` exactly once: update NAMED")
            command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test]
            original = subprocess.run(command, cwd=where, env=env, capture_output=True).returncode
            try:  # a bug that does not compile fails every test and proves nothing
                compile(source.replace(written, broken), module, "exec")
            except SyntaxError as err:
                sys.exit(f"the bug `{what}` does not compile ({err}): update NAMED")
            (where / module).write_text(source.replace(written, broken), encoding="utf-8")
            mutated = subprocess.run(command, cwd=where, env=env, capture_output=True).returncode
            checks.append({"bug": what, "module": module, "written": written.strip(), "broken": broken.strip(),
                           "test": test, "passes_on_original": original == 0, "fails_on_bug": mutated == 1})
            print(f"{what}: {test} {'passes' if original == 0 else 'FAILS'} on the original, "
                  f"{'fails' if mutated == 1 else 'does NOT fail'} on the bug", flush=True)
    return checks


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


def write_docs(results: dict, named: list[dict]) -> None:
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
    lines += ["", "Functions mutated, where not the whole module, and what a run leaves out:", ""]
    for name, r in results.items():
        note = "; ".join(n for n in (SCOPE.get(name), r.get("note")) if n)
        if r["functions"] != "all":
            lines.append(f"- {r['module']}: {', '.join(f'`{f}`' for f in r['functions'])}" + (f" ({note})" if note else ""))
        elif note:
            lines.append(f"- {r['module']}: {note}")
    left_out = [(r["module"], test, why) for r in results.values() for test, why in r.get("left_out", {}).items()]
    if left_out:
        lines += ["", "Tests left out of a module's run:", ""] + [f"- {m}: `{t}` ({why})" for m, t, why in left_out]
    if named:
        lines += ["", "## Named bugs", "",
                  "One-line bugs that once went unnoticed, applied by hand (`python bench/mutation.py --named`); each",
                  "must leave its test green on the original code and turn it red.", "",
                  "| bug | module | test | green on the original | red on the bug |", "| --- | --- | --- | --- | --- |"]
        for c in named:
            cells = [c["bug"], c["module"], f"`{c['test'].split('::')[-1]}`", "yes" if c["passes_on_original"] else "NO",
                     "yes" if c["fails_on_bug"] else "NO"]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
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


def _stored_results() -> dict:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    return {name: judged(r) for name, r in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate, of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--docs", action="store_true", help="only rewrite docs/mutation.md from the results")
    parser.add_argument("--named", action="store_true", help="only check that each NAMED bug turns its test red")
    args = parser.parse_args()
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    results = _stored_results()
    named = json.loads(NAMED_RESULTS.read_text()) if NAMED_RESULTS.exists() else []
    if args.named:
        named = run_named()
        NAMED_RESULTS.write_text(json.dumps(named, indent=1) + "\n")
        write_docs(results, named)
        return
    if not args.docs:
        for name in args.modules or MODULES:  # one at a time: the machine has two shared cores
            r = judged(run_module(name))
            results = {**_stored_results(), name: r}  # re-read: another module's run may have finished meanwhile
            print(f"{name}: {r['killed']} killed, {r['survived']} survived ({r['equivalent']} equivalent) of "
                  f"{r['mutants']}; {r['killed_share_of_non_equivalent']:.0%} of non-equivalent killed, "
                  f"{r['minutes']} min", flush=True)
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    write_docs(results, named)


if __name__ == "__main__":
    main()
