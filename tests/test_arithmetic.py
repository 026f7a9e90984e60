"""Tests for mathrl.arithmetic: the safe evaluator and the equations it finds in worked solutions."""

import pytest

from mathrl.arithmetic import equations, evaluate


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
