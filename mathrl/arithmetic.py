"""Safe arithmetic for checking worked solutions: evaluate `a op b` without eval(), find `a op b = c` in text.

Used by the stepwise reward and the error taxonomy; numbers are read with mathrl.parsing's rules. Also writes worked
steps for sums and differences that come without a solution.
"""

from __future__ import annotations

import math
import re

from mathrl.parsing import _NUMBER, MAX_NUMBER_CHARS, _float, as_text


class _Expr:
    """Recursive descent over + - * / ^ √ ( ) and numbers; no eval(), at most 64 operands so nesting stays shallow,
    and exponents of at most 64 so no power can blow up."""

    def __init__(self, text: str):
        self.text, self.i, self.operands = text, 0, 0

    def value(self) -> float | None:
        try:
            result = self._sum()
        except (ValueError, ZeroDivisionError, OverflowError, RecursionError):
            return None
        return result if self.i == len(self.text) and math.isfinite(result) else None

    def _sum(self) -> float:
        value = self._product()
        while self.i < len(self.text) and self.text[self.i] in "+-":
            sign = self.text[self.i]
            self.i += 1
            value = value + self._product() if sign == "+" else value - self._product()
        return value

    def _product(self) -> float:
        value = self._power()
        while self.i < len(self.text) and self.text[self.i] in "*/":
            op = self.text[self.i]
            self.i += 1
            value = value * self._power() if op == "*" else value / self._power()
        return value

    def _power(self) -> float:
        base = self._atom()
        if self.i < len(self.text) and self.text[self.i] == "^":
            self.i += 1
            exponent = self._power()
            if abs(exponent) > MAX_EXPONENT:
                raise ValueError
            return float(base**exponent) if base >= 0 or exponent.is_integer() else math.nan
        return base

    def _atom(self) -> float:
        self.operands += 1
        if self.operands > 64 or self.i >= len(self.text):
            raise ValueError
        ch = self.text[self.i]
        if ch in "+-":
            self.i += 1
            return -self._atom() if ch == "-" else self._atom()
        if ch == "√":
            self.i += 1
            return math.sqrt(self._atom())
        if ch == "(":
            self.i += 1
            value = self._sum()
            if self.i >= len(self.text) or self.text[self.i] != ")":
                raise ValueError
            self.i += 1
            return value
        match = _NUMBER.match(self.text, self.i)
        if not match or not match.group().strip("+-"):
            raise ValueError
        self.i = match.end()
        return float(match.group().replace(",", ""))


MAX_EXPONENT = 64
_LATEX_OPERATORS = (("\\left", ""), ("\\right", ""), ("\\cdot", "*"), ("\\times", "*"), ("\\div", "/"),
                    ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\sqrt", "√"), ("\\!", ""), ("\\,", ""),
                    ("$", ""), (" ", ""))
_LATEX_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")


def latex_value(text: str) -> float | None:
    r"""The value of LaTeX that is plain arithmetic (`\sqrt{16}`, `2^{3}`, `3 \cdot 4`, `\frac{1}{2}`), else None.

    Evaluated here rather than by math-verify: exact for these forms and a thousand times cheaper; anything with a
    variable or another command is left to math-verify.

    >>> latex_value(r"\sqrt{5184}"), latex_value(r"2^{3} \cdot \frac{1}{2}"), latex_value(r"\pi r^2")
    (72.0, 4.0, None)
    """
    text = as_text(text)
    if len(text) > 2 * MAX_NUMBER_CHARS:
        return None
    for old, new in _LATEX_OPERATORS:
        text = text.replace(old, new)
    for _ in range(8):  # nested fractions, innermost first
        text, found = _LATEX_FRAC.subn(r"((\1)/(\2))", text)
        if not found:
            break
    text = text.replace("{", "(").replace("}", ")")
    if not text or any(ch.isalpha() or ch == "\\" for ch in text):
        return None
    return _Expr(text).value()


def evaluate(expression: str) -> float | None:
    """The value of an arithmetic expression (`x`, `×`, `÷` accepted), or None if it is not one.

    >>> evaluate("100 - 50 - 30 - 15"), evaluate("0.2 x 50"), evaluate("(3+4)*2"), evaluate("__import__('os')")
    (5.0, 10.0, 14.0, None)
    """
    text = as_text(expression)
    if len(text) > 4 * MAX_NUMBER_CHARS:
        return None
    for old, new in (("×", "*"), ("÷", "/"), ("x", "*"), ("X", "*"), ("$", ""), (" ", ""), ("−", "-")):
        text = text.replace(old, new)
    return _Expr(text).value() if text else None


_EXPR_CHARS = frozenset("0123456789.+-*/()×÷xX$ −,")


def equations(text, limit: int = 64) -> list[tuple[float, float, int]]:
    """(left value, stated result, decimals stated) of each `a op b = c` in the text: GSM8K `<<a*b=c>>` annotations,
    `@@@@ a * b = c @@@@` steps and plain lines alike.

    >>> equations("She sold 48/2 = <<48/2=24>>24 clips, then 2+2 = 5.")
    [(24.0, 24.0, 0), (4.0, 5.0, 0)]
    """
    text, found, pos, seen = as_text(text), [], 0, 0
    while len(found) < limit and seen < 4 * limit and (eq := text.find("=", pos)) >= 0:
        pos, seen = eq + 1, seen + 1
        start = eq
        while start > 0 and eq - start < 4 * MAX_NUMBER_CHARS and text[start - 1] in _EXPR_CHARS:
            if text[start - 1] == "," and not (text[start - 2:start - 1].isdigit() and text[start:start + 1].isdigit()):
                break  # a list comma ends the expression; a thousands comma does not
            start -= 1
        left = text[start:eq].strip().lstrip("xX×÷*/,.$ ").strip()
        result = _NUMBER.match(text[pos:pos + MAX_NUMBER_CHARS].lstrip(" $"))
        if not left or not result or not any(ch.isdigit() for ch in result.group()):
            continue
        if not any(op in left.lstrip("+-−") for op in "+-*/×÷x−"):
            continue  # "Total = 72" states a value, it does not compute one
        lhs, rhs = evaluate(left), _float(result.group())
        if lhs is not None and rhs is not None:
            digits = result.group().partition(".")[2].partition("e")[0]
            found.append((lhs, rhs, len(digits)))
    return found


_CHAIN = re.compile(r"^\s*(-?\d+)((?:\s*[+-]\s*\d+)+)\s*$")
_TERM = re.compile(r"([+-])\s*(\d+)")


WORKED_METHODS = ("tens_first", "place_value")


def worked_sum(expression: str, method: str = "tens_first") -> str | None:
    """Whole numbers added and subtracted, worked step by step; None for anything else.

    `tens_first` works left to right, each term tens first, then ones. `place_value` adds the tens of every term, then
    the ones, then the two: each step is a one-digit fact (times ten) that every problem shares, where tens first
    writes facts about the problem's own numbers.

    >>> print(worked_sum("47 + 38"))
    47 + 30 = 77
    77 + 8 = 85
    #### 85
    >>> print(worked_sum("34 - 6 + 120"))
    34 - 6 = 28
    28 + 120 = 148
    #### 148
    >>> print(worked_sum("-25 - 38", "place_value"))
    -20 - 30 = -50
    -5 - 8 = -13
    -50 - 13 = -63
    #### -63
    >>> worked_sum("2 * 3") is None
    True
    """
    if method not in WORKED_METHODS:
        raise ValueError(f"worked method {method!r}: choose {' or '.join(WORKED_METHODS)}")
    found = _CHAIN.match(as_text(expression))
    if not found:
        return None
    first, terms = int(found[1]), [(op, int(digits)) for op, digits in _TERM.findall(found[2])]
    lines = _place_value(first, terms) if method == "place_value" else _tens_first(first, terms)
    return "\n".join([*lines, f"#### {first + sum(n if op == '+' else -n for op, n in terms)}"])


def _tens_first(total: int, terms: list[tuple[str, int]]) -> list[str]:
    lines = []
    for op, term in terms:
        sign, tens, ones = (1 if op == "+" else -1), term - term % 10, term % 10
        for part in ([term] if tens == 0 or ones == 0 else [tens, ones]):
            lines.append(f"{total} {op} {part} = {total + sign * part}")
            total += sign * part
    return lines


def _place_value(first: int, terms: list[tuple[str, int]]) -> list[str]:
    ones_first = -(abs(first) % 10) if first < 0 else first % 10
    tens_first = first - ones_first
    tens = f"{tens_first}" + "".join(f" {op} {n - n % 10}" for op, n in terms)
    ones = f"{ones_first}" + "".join(f" {op} {n % 10}" for op, n in terms)
    tens_total = tens_first + sum(n - n % 10 if op == "+" else n % 10 - n for op, n in terms)
    ones_total = ones_first + sum(n % 10 if op == "+" else -(n % 10) for op, n in terms)
    joined = f"{tens_total} {'-' if ones_total < 0 else '+'} {abs(ones_total)}"
    return [f"{tens} = {tens_total}", f"{ones} = {ones_total}", f"{joined} = {tens_total + ones_total}"]
