"""Tests for mathrl.arithmetic: the safe evaluator and the equations it finds in worked solutions."""

import pytest

from mathrl.arithmetic import WORKED_METHODS, equations, evaluate, latex_value, worked_sum


@pytest.mark.parametrize(
    "expression, value",
    [
        ("100 - 50 - 30 - 15", 5.0),  # left to right
        ("2 + 3 * 4", 14.0),  # precedence
        ("(2 + 3) * 4", 20.0),  # parentheses
        ("12 x 2", 24.0),  # GSM8K's x for times
        ("10 ÷ 4", 2.5),  # division sign
        ("-3 + 5", 2.0),  # unary minus
        ("$1,200 / 4", 300.0),  # currency and separators
        ("1/0", None),  # division by zero
        ("2 ** 3", None),  # no powers: nothing can blow up
        ("__import__('os').system('true')", None),  # never eval
        ("(" * 500 + "1" + ")" * 500, None),  # too deep
        ("", None),  # empty
    ],
)
def test_evaluate(expression, value):
    assert evaluate(expression) == value


def test_equations_finds_annotations_steps_and_plain_lines():
    text = "48/2 = <<48/2=24>>24. @@@@ 24 * 3 = 72 @@@@\n2+2 = 5\nTotal = 72\nIn a list, 3, 4+5 = 9"
    assert equations(text) == [(24.0, 24.0, 0), (72.0, 72.0, 0), (4.0, 5.0, 0), (9.0, 9.0, 0)]


@pytest.mark.parametrize(
    "latex, value",
    [
        (r"\sqrt{5184}", 72.0),  # square root
        (r"2^{3}", 8.0),  # power in braces
        (r"3 \cdot 4", 12.0),  # centred dot
        (r"6 \times 7", 42.0),  # times sign
        (r"\dfrac{3}{4}", 0.75),  # display fraction
        (r"\frac{\frac{1}{2}}{4}", 0.125),  # nested fractions, innermost first
        (r"\left(1+2\right)^2", 9.0),  # sizing commands vanish
        (r"2^{1000}", None),  # exponent above the cap: nothing can blow up
        (r"\sqrt{-1}", None),  # not a real number
        (r"\pi r^2", None),  # a constant and a variable: math-verify's job
        (r"\text{72}", None),  # another command
    ],
)
def test_latex_value(latex, value):
    assert latex_value(latex) == value


@pytest.mark.parametrize("method", WORKED_METHODS)
@pytest.mark.parametrize("expression", ["47 + 38", "82 - 47", "5 - 33", "-25 - 38", "34 - 6 + 120", "100 - 96", "7 + 0"])
def test_worked_steps_check_out_and_reach_the_value(method, expression):
    text = worked_sum(expression, method)
    steps, value = equations(text), evaluate(expression)
    assert steps and all(lhs == rhs for lhs, rhs, _ in steps)
    assert text.endswith(f"#### {value:g}") and steps[-1][1] == value


def test_place_value_steps_are_one_digit_facts_every_problem_shares():
    tens, ones, joined = worked_sum("47 - 38 + 6", "place_value").splitlines()[:3]
    assert tens == "40 - 30 + 0 = 10" and ones == "7 - 8 + 6 = 5" and joined == "10 + 5 = 15"
    assert worked_sum("-25 - 38", "place_value").splitlines()[2] == "-50 - 13 = -63"  # a negative ones sum is subtracted


def test_an_unknown_worked_method_is_refused():
    with pytest.raises(ValueError, match="choose tens_first or place_value"):
        worked_sum("1 + 2", "columns")
