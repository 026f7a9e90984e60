"""Safe arithmetic for checking worked solutions: evaluate `a op b` without eval(), find `a op b = c` in text.

Used by the stepwise reward and the error taxonomy; numbers are read with mathrl.parsing's rules.
"""

from __future__ import annotations

import math

from mathrl.parsing import _NUMBER, MAX_NUMBER_CHARS, _float, as_text


class _Expr:
    """Recursive descent over + - * / ( ) and numbers; no eval(), and at most 64 operands so nesting stays shallow."""

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
        value = self._atom()
        while self.i < len(self.text) and self.text[self.i] in "*/":
            op = self.text[self.i]
            self.i += 1
            value = value * self._atom() if op == "*" else value / self._atom()
        return value

    def _atom(self) -> float:
        self.operands += 1
        if self.operands > 64 or self.i >= len(self.text):
            raise ValueError
        ch = self.text[self.i]
        if ch in "+-":
            self.i += 1
            return -self._atom() if ch == "-" else self._atom()
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
