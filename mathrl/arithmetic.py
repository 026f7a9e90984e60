"""Numbers and safe arithmetic: the one number lexer (exact values from the digits), an evaluator without eval(), and
the `a op b = c` steps of worked solutions. The lowest layer: of mathrl it imports only the GSM8K solution syntax.

Also writes worked steps for sums and differences that come without a solution.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from mathrl.gsm8k import write_solution

MAX_NUMBER_CHARS = 120  # longer "numbers" are junk, and the cap keeps every regex on short inputs
MAX_EXPONENT = 64
MAX_BITS = 4096  # a value whose numerator or denominator needs more bits is junk; the cap bounds every power

# The number lexer: one unsigned literal, matched left to right without nested quantifiers (linear). Thousands are
# grouped by commas, or by thin, narrow or no-break spaces, and never start with 0; a comma is a decimal comma where it
# cannot separate thousands (`1,5`, `0,111`, `1000,99`, but `1,500` is 1500); a dot is always a decimal point.
_THIN = "\u2009\u202f\u00a0"
LITERAL = re.compile(
    r"(?:(?P<grouped>[1-9]\d{0,2}(?:,\d{3})+(?![\d]|,\d)(?:\.\d+)?"
    rf"|[1-9]\d{{0,2}}(?:[{_THIN}]\d{{3}})+(?!\d)(?:[.,]\d+)?)"
    r"|(?P<comma>(?<!\d,)\d+,\d+(?!\d|[,.]\d))"
    r"|(?P<plain>\d+(?:\.\d+)?|(?<!\d)\.\d+))"
    r"(?P<exp>[eE][-+]?\d{1,3}(?!\w))?"
)


def literal_digits(match: re.Match) -> tuple[str, str]:
    """(whole digits, decimal digits) of a LITERAL match, separators dropped: `1,234.5` -> ("1234", "5")."""
    body = match.group("grouped") or match.group("comma") or match.group("plain")
    if match.group("grouped") is not None and body.translate(_DROP_THIN) == body:
        body = body.replace(",", "")  # comma groups: the commas separate thousands
    whole, _, decimals = body.translate(_DROP_THIN).replace(",", ".").partition(".")  # else a comma is decimal
    return whole, decimals


def literal_value(match: re.Match) -> int | Fraction:
    """The exact value of a LITERAL match: its digits as an int or a Fraction, never through a float."""
    whole, decimals = literal_digits(match)
    value = Fraction(int(whole or "0") * 10 ** len(decimals) + int(decimals), 10 ** len(decimals)) if decimals \
        else int(whole)
    if match.group("exp"):
        value = _whole(value * Fraction(10) ** int(match.group("exp")[1:]))
    return value


_DROP_THIN = {ord(c): None for c in _THIN}


def read_literal(text: str) -> int | Fraction | None:
    """The exact value of a text that is one unsigned literal, else None.

    >>> read_literal("1,500"), read_literal("1,5"), read_literal("0,111"), read_literal("2.5e3"), read_literal("1,2,3")
    (1500, Fraction(3, 2), Fraction(111, 1000), 2500, None)
    """
    match = LITERAL.fullmatch(text)
    return literal_value(match) if match else None


def _whole(value):
    return value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value


def _checked(value):
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError
        return value
    if isinstance(value, Fraction) and max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise ValueError
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError
    return _whole(value)


def _root(value):
    """A square root, exact when numerator and denominator are perfect squares."""
    if value < 0:
        raise ValueError
    if not isinstance(value, float):
        value = Fraction(value)
        top, bottom = math.isqrt(value.numerator), math.isqrt(value.denominator)
        if top * top == value.numerator and bottom * bottom == value.denominator:
            return Fraction(top, bottom)
    return math.sqrt(value)


def _divide(left, right):
    return left / right if isinstance(left, float) or isinstance(right, float) else Fraction(left) / right


def _power(base, exponent):
    if abs(exponent) > MAX_EXPONENT:
        raise ValueError
    if isinstance(exponent, float) or (isinstance(exponent, Fraction) and exponent.denominator != 1):
        if base < 0:
            raise ValueError
        return float(base) ** float(exponent)
    exponent = int(exponent)
    if not isinstance(base, float):
        base = Fraction(base)
        if max(base.numerator.bit_length(), base.denominator.bit_length()) * abs(exponent) > MAX_BITS:
            raise ValueError
    return base ** exponent


class _Expr:
    """Recursive descent over + - * / ^ √ ( ) and numbers, in exact arithmetic; no eval(), at most 64 operands so
    nesting stays shallow, exponents of at most 64 and values of at most MAX_BITS bits so nothing can blow up."""

    def __init__(self, text: str):
        self.text, self.i, self.operands = text, 0, 0

    def value(self):
        try:
            result = self._sum()
        except (ValueError, ZeroDivisionError, OverflowError, RecursionError):
            return None
        return result if self.i == len(self.text) else None

    def _sum(self):
        value = self._product()
        while self.i < len(self.text) and self.text[self.i] in "+-":
            sign = self.text[self.i]
            self.i += 1
            value = _checked(value + self._product() if sign == "+" else value - self._product())
        return value

    def _product(self):
        value = self._power()
        while self.i < len(self.text) and self.text[self.i] in "*/":
            op = self.text[self.i]
            self.i += 1
            right = self._power()
            value = _checked(value * right if op == "*" else _divide(value, right))
        return value

    def _power(self):
        base = self._atom()
        if self.i < len(self.text) and self.text[self.i] == "^":
            self.i += 1
            return _checked(_power(base, self._power()))
        return base

    def _atom(self):
        self.operands += 1
        if self.operands > 64 or self.i >= len(self.text):
            raise ValueError
        ch = self.text[self.i]
        if ch in "+-":
            self.i += 1
            return -self._atom() if ch == "-" else self._atom()
        if ch == "√":
            self.i += 1
            return _checked(_root(self._atom()))
        if ch == "(":
            self.i += 1
            value = self._sum()
            if self.i >= len(self.text) or self.text[self.i] != ")":
                raise ValueError
            self.i += 1
            return value
        match = LITERAL.match(self.text, self.i)
        if not match:
            raise ValueError
        self.i = match.end()
        return literal_value(match)


_OPERATORS = (("\\left", ""), ("\\right", ""), ("\\cdot", "*"), ("\\times", "*"), ("\\div", "/"),
              ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"), ("\\sqrt", "√"), ("\\!", ""),
              ("\\,", ""), ("$", ""), (" ", ""), ("×", "*"), ("÷", "/"), ("·", "*"), ("−", "-"))
_LIST_OR_GAP = re.compile(r"[\d.]\s+[\d.]|,\s")
_LATEX_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_BARE_FRAC = re.compile(r"\\frac(\d)(\d)")  # \frac13, as LaTeX reads it


def exact_value(expression: str, times_letter: bool = True):
    r"""The exact value of plain arithmetic or arithmetic LaTeX (`11 + 4/9`, `3 x 4`, `\frac{1}{2}`, `2^{3}`, `\sqrt{16}`):
    an int or a Fraction, a float only where a root is irrational; None for anything else (a variable, a command).

    `times_letter` reads a lone x as times, as GSM8K's solutions write it.

    >>> exact_value("11 + 4/9"), exact_value(r"2.5 \times 10^{3}"), exact_value(r"\sqrt{2}") > 1.41, exact_value("x + 1")
    (Fraction(103, 9), 2500, True, None)
    """
    if not isinstance(expression, str) or len(expression) > 4 * MAX_NUMBER_CHARS:
        return None
    if _LIST_OR_GAP.search(expression):
        return None  # `5 6` and `32, 349` name two numbers; only a literal groups thousands
    text = expression
    for old, new in _OPERATORS:
        text = text.replace(old, new)
    text = _BARE_FRAC.sub(r"\\frac{\1}{\2}", text)
    for _ in range(8):  # nested fractions, innermost first
        text, found = _LATEX_FRAC.subn(r"((\1)/(\2))", text)
        if not found:
            break
    if times_letter:
        text = text.replace("x", "*").replace("X", "*")
    text = text.replace("{", "(").replace("}", ")")
    if not text or "\\" in text or any(ch.isalpha() for ch in text):
        return None
    return _Expr(text).value()


def latex_value(text: str) -> float | None:
    r"""The value of LaTeX that is plain arithmetic (`\sqrt{16}`, `2^{3}`, `3 \cdot 4`, `\frac{1}{2}`) as a float, else
    None; exact_value gives it exactly.

    >>> latex_value(r"\sqrt{5184}"), latex_value(r"2^{3} \cdot \frac{1}{2}"), latex_value(r"\pi r^2")
    (72.0, 4.0, None)
    """
    if not isinstance(text, str) or len(text) > 2 * MAX_NUMBER_CHARS:
        return None
    value = exact_value(text, times_letter=False)
    return float(value) if value is not None else None


def evaluate(expression: str) -> float | None:
    """The value of an arithmetic expression (`x`, `×`, `÷` accepted) as a float, or None if it is not one.

    >>> evaluate("100 - 50 - 30 - 15"), evaluate("0.2 x 50"), evaluate("(3+4)*2"), evaluate("__import__('os')")
    (5.0, 10.0, 14.0, None)
    """
    value = exact_value(expression.replace("$", "") if isinstance(expression, str) else expression)
    return float(value) if value is not None else None


_EXPR_CHARS = frozenset("0123456789.+-*/()×÷xX$ −,")


def equations(text, limit: int = 64) -> list[tuple[int | Fraction, int | Fraction, int]]:
    """(left value, stated result, decimals stated) of each `a op b = c` in the text, as exact values: GSM8K
    `<<a*b=c>>` annotations, `@@@@ a * b = c @@@@` steps and plain lines alike.

    >>> equations("She sold 48/2 = <<48/2=24>>24 clips, then 10/3 = 3.33")
    [(24, 24, 0), (Fraction(10, 3), Fraction(333, 100), 2)]
    """
    text, found, pos, seen = text if isinstance(text, str) else "", [], 0, 0
    while len(found) < limit and seen < 4 * limit and (eq := text.find("=", pos)) >= 0:
        pos, seen = eq + 1, seen + 1
        start = eq
        while start > 0 and eq - start < 4 * MAX_NUMBER_CHARS and text[start - 1] in _EXPR_CHARS:
            if text[start - 1] == "," and not (text[start - 2:start - 1].isdigit() and text[start:start + 1].isdigit()):
                break  # a list comma ends the expression; a thousands comma does not
            start -= 1
        left = text[start:eq].strip().lstrip("xX×÷*/,.$ ").strip()
        stated = text[pos:pos + MAX_NUMBER_CHARS].lstrip(" $")
        sign = -1 if stated[:1] in ("-", "−") else 1
        result = LITERAL.match(stated, 1 if stated[:1] in "-−+" and stated else 0)
        if not left or not result:
            continue
        if not any(op in left.lstrip("+-−") for op in "+-*/×÷x−"):
            continue  # "Total = 72" states a value, it does not compute one
        lhs = exact_value(left.replace("$", ""))
        if lhs is not None:
            found.append((lhs, sign * literal_value(result), len(literal_digits(result)[1])))
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
    found = _CHAIN.match(expression if isinstance(expression, str) else "")
    if not found:
        return None
    first, terms = int(found[1]), [(op, int(digits)) for op, digits in _TERM.findall(found[2])]
    lines = _place_value(first, terms) if method == "place_value" else _tens_first(first, terms)
    return write_solution(lines, first + sum(n if op == "+" else -n for op, n in terms))


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
