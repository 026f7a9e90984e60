"""Math-Verify's own test cases about numbers, fractions, percentages and simple LaTeX (tests/data/math_verify_cases.json):
mathrl's verdicts against the expected ones, counted beside math-verify 0.9.0's own on the same cases."""

import json
from pathlib import Path

import pytest

from mathrl.parsing import extract_answer
from mathrl.rewards import DOCS_PATH, grade

TABLE = json.loads((Path(__file__).parent / "data" / "math_verify_cases.json").read_text())
CASES = TABLE["cases"]


def mathrl_verdict(case: dict) -> int:
    """The correctness reward's judgement: the completion's answer by extract_answer, graded by rewards.grade.

    A gold holding a `\\boxed{}` solution is read as `data.answer_style=boxed` reads it."""
    gold = case["gold"]
    if "\\boxed" in gold:
        gold = extract_answer(gold, rules=("boxed",)).value or gold
    return int(grade(extract_answer(case["pred"]).value, gold) in ("exact", "tolerance"))


def math_verify_verdict(case: dict, tuned: bool) -> int:
    """math-verify as a reward calls it (parse and verify with their defaults), or with the extraction targets and
    precision its own test gives the case."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    if not tuned:
        return int(verify(parse(case["gold"]), parse(case["pred"])))
    targets = [LatexExtractionConfig(boxed_match_priority=0) if kind == "latex" else ExprExtractionConfig()
               for kind in case["config"].get("match_types", ["latex", "expr"])]
    gold, pred = parse(case["gold"], targets), parse(case["pred"], targets)
    return int(verify(gold, pred, float_rounding=case["config"].get("precision", 6)))


@pytest.fixture(scope="module")
def verdicts():
    return [(mathrl_verdict(c), math_verify_verdict(c, False), math_verify_verdict(c, True)) for c in CASES]


def test_mathrl_agrees_with_math_verifys_cases_at_least_as_often_as_math_verify(verdicts):
    ours, default, tuned = (sum(v[i] == c["expected"] for v, c in zip(verdicts, CASES)) for i in range(3))
    print(f"\nMath-Verify's {len(CASES)} grade-school cases: mathrl agrees with the expected verdict on {ours}; "
          f"math-verify 0.9.0 on {default} as a reward calls it, on {tuned} with each test's own settings")
    assert len(CASES) == 101
    assert ours >= default, (ours, default)


def test_every_case_mathrl_gets_wrong_carries_its_documented_convention(verdicts):
    docs = DOCS_PATH.read_text()
    for case, (ours, _, _) in zip(CASES, verdicts):
        assert (ours != case["expected"]) == bool(case["convention"]), (case["test"], case["gold"], case["pred"][-80:])
        if case["convention"]:
            assert case["convention"] in docs and json.dumps(case["pred"]) in docs
