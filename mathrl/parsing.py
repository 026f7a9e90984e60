"""The parser: reads numbers, answers, format sections and step equations out of completions; renders gold solutions.

Rewards and evaluation both call `extract_answer`, so what counts as "the answer" exists once. Linear time, never raises.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Iterator, NamedTuple

from mathrl.arithmetic import LITERAL, MAX_NUMBER_CHARS, exact_value, literal_value
from mathrl.arithmetic import equations  # noqa: F401  (the stepwise reward reads worked steps through the parser)
from mathrl.formats import DEFAULT_FORMAT, FORMATS, FormatSpec
from mathrl.gsm8k import MARKER, split_solution, strip_annotations, work_lines

# Every rule `extract_answer` knows, in the order it tries them. Evaluation's strict rule is ("answer_tag",), its
# flexible rule ("last_number",).
RULES = ("answer_tag", "hash", "answer_is", "boxed", "last_number")
STRICT_RULES = ("answer_tag",)
FLEXIBLE_RULES = ("last_number",)

MAX_BLOCKS = 64  # more answer blocks than this is hedging, not answering
_CACHE_CHARS = 16_384  # texts above this are parsed uncached so a hostile batch cannot fill memory

# A number in running text: a sign not glued to a word, a LaTeX fraction or a literal with an optional /denominator.
# The leading lookahead lets the scan skip every other character at once; digits glued to a letter are a name (H2O).
_TOKEN = re.compile(r"(?=[-−\\.\d])(?:(?<![\w)])[-−])?(?:\\[cdt]?frac(?:\{\d+\}|\d)(?:\{\d+\}|\d)|(?<![^\W\d_])(?:" + LITERAL.pattern + r")(?:/\d+)?)")
_FRAC = re.compile(r"\\[cdt]?frac\s*(?:\{\s*(-?\d+)\s*\}|(\d))\s*(?:\{\s*(-?\d+)\s*\}|(\d))")
_LATEX_NOISE = (
    ("−", "-"), ("\\%", "%"), ("\\$", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\left", ""),
    ("\\right", ""), ("\\displaystyle", ""), ("$", ""), ("**", ""), ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", ""),
    ("^\\circ", ""), ("^{\\circ}", ""), ("°", ""), ("€", ""), ("£", ""), ("¥", ""), ("₹", ""),
)
_WRAPPERS = ("\\boxed{", "\\text{", "\\textbf{", "\\textnormal{", "\\mathrm{", "\\mbox{")  # their content is the answer
_SPACED = re.compile(r"[-+]? ?([1-9]\d{0,2}(?: \d{3})+)(?![\d/])")  # `1 234`: a whole answer may group thousands by spaces
# `10,\! 000` (the negative space undoes the space after a thousands comma) and `14{,}916`, `14 {, }916`
_LATEX_THOUSANDS = re.compile(r",\\!\s*|\s*\{\s*,\s*\}\s*")
_SIGN = re.compile(r"([-+]?) ?")  # `- 5`: a sign, then at most one space
_DENOMINATOR = re.compile(r"\s*/\s*")
_MIXED = re.compile(r"(\d+)\s*/\s*(\d+)")
_PERCENT = re.compile(r"\s*(?:%|percent(?:age)?\b|per cent\b|pct\b)", re.IGNORECASE)
_UNIT_POWER = re.compile(r"\^\s*\{?[23]\}?|[²³]")  # cm^2, m³: a unit's power is not a second number
_NOT_A_UNIT = re.compile(r"\d|\\|[+*/^=<>±√π]|\bpi\b")
_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_WORDS.update({w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_BRACES = {"{": 1, "}": -1}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def as_text(value) -> str:
    """Any completion-ish value as text: str as is, bytes decoded, a chat message list as its assistant contents."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        content = value.get("content")
        if isinstance(content, list):  # multimodal parts: keep the text ones
            return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
        return as_text(content) if content is not None else ""
    if isinstance(value, (list, tuple)):
        messages = [m for m in value if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return "\n".join(as_text(m) for m in messages)
    return ""


def _spec(fmt) -> FormatSpec:
    if isinstance(fmt, FormatSpec):
        return fmt
    return FORMATS.get(fmt if isinstance(fmt, str) else DEFAULT_FORMAT) or FORMATS[DEFAULT_FORMAT]


def _compute_layout(spec: FormatSpec) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...], tuple[str, str]]:
    return tuple((s.name, s.open, s.close) for s in spec.sections), spec.tags, (spec.answer.open, spec.answer.close)


_LAYOUTS = {name: _compute_layout(spec) for name, spec in FORMATS.items()}


def _layout(spec: FormatSpec) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...], tuple[str, str]]:
    """(sections as (name, open, close), tags, answer's (open, close)): FormatSpec's properties recompute each call."""
    return _LAYOUTS[spec.name] if FORMATS.get(spec.name) is spec else _compute_layout(spec)


# --------------------------------------------------------------------------- numbers


def _words_to_number(text: str) -> int | None:
    total, current, seen = 0, 0, False
    for word in text.lower().replace("-", " ").split():
        if word in _WORDS:
            current += _WORDS[word]
        elif word in _SCALES and seen:
            total, current = (total + current * _SCALES[word], 0) if word != "hundred" else (total, current * 100)
        elif word == "and" and seen:
            continue
        elif seen and not any(ch.isdigit() for ch in word):
            break  # a unit word ends the number: "twelve apples"
        else:
            return None
        seen = True
    return total + current if seen else None


class Value(NamedTuple):
    """The number an answer states, exactly (an int or a Fraction; a float only for an irrational root), and whether
    it was written as a percentage (`28%`, `28 percent`): rewards.grade applies the percent policy."""

    number: int | Fraction | float
    percent: bool = False


def answer_value(text) -> Value | None:
    r"""The number a short answer states, exactly, or None.

    Reads `1,000`, `1 234` (spaces between thousands groups), `1,5` (a decimal comma: the comma cannot separate
    thousands), `$5.00`, `5 €`, `−3`, `- 5`, `3/4`, `1 1/2`, `\frac13`, `\boxed{\frac{2}{3}}`, `2.5e3`,
    `2.5 \times 10^{3}`, `28%`, `12 apples`, `15\text{ cm}^2`, `twenty-five`, and plain arithmetic (`11 + 4/9`,
    `3 * 4`). A second number that is not arithmetic (`5 or 6`, `1 23`) gives None.

    >>> [answer_value(s).number for s in ("1 234", "- 5", "1,5", "1,500", r"\frac{2}{3}", "11 + 4/9", "28%")]
    [1234, -5, Fraction(3, 2), 1500, Fraction(2, 3), Fraction(103, 9), 28]
    >>> answer_value("5 or 6") is None, answer_value("28 percent").percent
    (True, True)
    """
    s = as_text(text).strip()
    return _answer_value(s) if s and len(s) <= MAX_NUMBER_CHARS else None


@lru_cache(maxsize=65_536)
def _answer_value(s: str) -> Value | None:
    if s.isascii() and s.isdigit():  # the common case, without the normalizing below
        return Value(int(s))
    s = _normalize(s)
    found = _stated_number(s)
    if found is None and s:
        number = exact_value(s)  # plain arithmetic: "11 + 4/9", "3 * 4", "2.5 × 10^3"
        words = _words_to_number(s) if number is None else None
        found = Value(number) if number is not None else Value(words) if words is not None else None
    return found


def _normalize(s: str) -> str:
    for wrapper in _WRAPPERS:
        s = _unwrap(s, wrapper)
    s = _LATEX_THOUSANDS.sub(",", s)
    for noise, replacement in _LATEX_NOISE:
        s = s.replace(noise, replacement)
    s = _FRAC.sub(lambda m: f" {m[1] or m[2]}/{m[3] or m[4]}", s)  # `2\frac{1}{2}` -> `2 1/2`, a mixed number
    s = s.strip().rstrip(".").strip()
    while (s[:1], s[-1:]) in (("(", ")"), ("{", "}")) and not any(c in s[1:-1] for c in "(){}"):
        s = s[1:-1].strip()
    spaced = _SPACED.match(s)
    if spaced:  # only the leading number's spaces, which the lexer reads like thin ones
        s = s[:spaced.start(1)] + spaced[1].replace(" ", "\u2009") + s[spaced.end(1):]
    return s


def _unwrap(s: str, command: str) -> str:
    """`\\text{ cm}` -> ` cm `: the command gone, its braces' content kept."""
    while (start := s.find(command)) >= 0:
        depth, i = 1, start + len(command)
        while i < len(s) and depth:
            depth += _BRACES.get(s[i], 0)
            i += 1
        s = f"{s[:start]} {s[start + len(command):i - 1 if depth == 0 else i]} {s[i:]}"
    return s


def _stated_number(s: str) -> Value | None:
    """A signed literal, a fraction or mixed number, then maybe a percent sign, then nothing but unit words."""
    sign = _SIGN.match(s)
    match = LITERAL.match(s, sign.end())
    if not match:
        return None
    value, pos = literal_value(match), match.end()
    slash = _DENOMINATOR.match(s, pos)
    mixed = _MIXED.match(s, pos + 1) if s[pos:pos + 1] == " " else None
    if slash and (denominator := LITERAL.match(s, slash.end())):
        if not literal_value(denominator):
            return None
        value, pos = Fraction(value) / literal_value(denominator), denominator.end()
    elif mixed and int(mixed[2]) and not isinstance(value, Fraction):
        value, pos = value + Fraction(int(mixed[1]), int(mixed[2])), mixed.end()
    percent = _PERCENT.match(s, pos)
    rest = _UNIT_POWER.sub("", s[percent.end() if percent else pos:])
    if _NOT_A_UNIT.search(rest):
        return None
    value = -value if sign[1] == "-" else value
    return Value(value.numerator if isinstance(value, Fraction) and value.denominator == 1 else value, bool(percent))


def to_number(text) -> float | None:
    """The number a short answer string states as a float, or None; answer_value gives it exactly.

    >>> [to_number(s) for s in ("1,000", "$5.00", "−3", "3/4", "1 1/2", "12 apples", "twenty-five", "5 or 6")]
    [1000.0, 5.0, -3.0, 0.75, 1.5, 12.0, 25.0, None]
    """
    value = answer_value(text)
    try:
        return float(value.number) if value is not None else None
    except OverflowError:
        return None


def format_number(value: float) -> str:
    """A float as the shortest plain decimal: 72.0 -> "72", 12.50 -> "12.5", 0.75 -> "0.75"."""
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else repr(value)


def format_value(value: Value) -> str:
    """An exact value as one string: whole numbers and finite decimals in digits, other fractions as p/q.

    >>> [format_value(Value(v)) for v in (72, Fraction(3, 4), Fraction(2, 3), Fraction(-1, 8))], format_value(Value(28, True))
    (['72', '0.75', '2/3', '-0.125'], '28%')
    """
    number = value.number
    if isinstance(number, float):
        text = format_number(number)
    elif isinstance(number, int):
        text = str(number)
    elif (places := _decimal_places(number.denominator)) is None:
        text = f"{number.numerator}/{number.denominator}"
    else:  # a finite decimal, written out digit by digit
        digits = str(abs(number.numerator) * 10 ** places // number.denominator).rjust(places + 1, "0")
        text = f"{'-' if number < 0 else ''}{digits[:-places]}.{digits[-places:]}".rstrip("0")
    return text + ("%" if value.percent else "")


def _decimal_places(denominator: int) -> int | None:
    """How many decimal places 1/denominator needs, or None when its decimal never ends (a factor other than 2, 5)."""
    twos = fives = 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    return max(twos, fives) if denominator == 1 else None


def canonical_answer(text) -> str:
    """The normalized form of a gold or predicted answer: one string per value when it is a number, else the text.

    Finite decimals stay decimals ("3/4" -> "0.75"), other fractions stay exact ("2/3"), never a rounded decimal.

    >>> [canonical_answer(s) for s in ("1,000", "$5.00", "−3", "+7", "12.50", "3/4", "2/3", " forty ", "x + 1")]
    ['1000', '5', '-3', '7', '12.5', '0.75', '2/3', '40', 'x + 1']
    """
    text = as_text(text)
    value = answer_value(text)
    return format_value(value) if value is not None else text.strip()


def gold_answer(text) -> str:
    """The canonical gold answer of a dataset row: after the last `####` when there is one, else the whole string."""
    text = as_text(text)
    final = split_solution(text)[1]
    return canonical_answer(text if final is None else final)


# --------------------------------------------------------------------------- answers


class Extraction(NamedTuple):
    """The answer a completion gives, and the rule that found it ("none": no answer; "conflict": answers disagree)."""

    value: str | None
    rule: str


def _blocks(text: str, open_tag: str, close_tag: str) -> list[str] | None:
    """Contents of every complete open..close block (close "" = end of line); None when there are too many."""
    found, pos = [], 0
    while (start := text.find(open_tag, pos)) >= 0:
        begin = start + len(open_tag)
        end = text.find(close_tag, begin) if close_tag else text.find("\n", begin)
        if end < 0:
            if close_tag:
                break
            end = len(text)
        # Nested opens: the innermost block holds the answer. Searched from just after this open, so a longer run of a
        # self-overlapping tag (`#####` for `####`) is one open, and its content starts after the whole run.
        inner = text.rfind(open_tag, start + 1, end)
        found.append(text[(inner + len(open_tag)) if inner >= 0 else begin:end])
        if len(found) > MAX_BLOCKS:
            return None
        pos = end + len(close_tag) if close_tag else end
    return found


_HEDGE = "\x00hedge"  # what a span that names two different values reads as: a conflict, never paid


def _stated(raw: str) -> str | None:
    """A stated answer (a tag's field, a box, a `####` line, the clause after "the answer is") as its answer text:
    the number when it states one, the last side of an `=` (`x = 72` -> `72`), _HEDGE when it names two different
    values (`18 or 19`), LaTeX it cannot read whole (for math-verify), None when empty.
    """
    text = raw.strip()
    if not text or len(text) > MAX_NUMBER_CHARS or _answer_value(text) is not None:
        return text or None
    side = _last_side(text)
    if side != text and answer_value(side) is not None:
        return side
    if "\\" in _normalize(side):
        return text  # LaTeX beyond plain numbers: math-verify's job
    tokens = [m.group() for m in _TOKEN.finditer(_normalize(side))]
    if len({format_value(v) if (v := answer_value(t)) else t for t in tokens}) > 1:
        return _HEDGE
    return tokens[0] if tokens else text


def _last_side(text: str) -> str:
    """What follows the last `=` that is not part of `<=`, `>=` or `!=`."""
    at = text.rfind("=")
    while at > 0 and text[at - 1] in "<>!":
        at = text.rfind("=", 0, at - 1)
    return text[at + 1:].strip() if at >= 0 else text


def _agree(values: list[str | None], rule: str) -> Extraction | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    if _HEDGE in values or (len(values) > 1 and len({canonical_answer(v) for v in values}) > 1):
        return Extraction(None, "conflict")  # hedging, in one answer or between answers, never pays
    return Extraction(values[-1], rule)


def _boxed(text: str) -> list[str] | None:
    """Contents of every `\\boxed{...}` that closes within 4 * MAX_NUMBER_CHARS characters; one that does not is
    unclosed, so a brace far later is not its end. None when there are too many."""
    found, pos = [], 0
    while (start := text.find("\\boxed{", pos)) >= 0:
        depth, i = 1, start + 7
        stop = min(len(text), i + 4 * MAX_NUMBER_CHARS)
        while i < stop and depth:
            depth += _BRACES.get(text[i], 0)
            i += 1
        if depth:  # unclosed within reach: resume after the part already read, so each character is read once
            pos = i
            continue
        found.append(text[start + 7:i - 1])
        if len(found) > MAX_BLOCKS:
            return None
        pos = i
    return found


def _tokens_backwards(text: str) -> Iterator[re.Match]:
    """The text's number tokens, last first: those a scan of the whole text finds, read window by window from the end
    so that the last ones cost no scan of the rest. Each window starts just after a space, which no token holds (thin
    spaces between thousands are not spaces), so it never cuts a token in half; with no space in the 256 characters
    before its nominal start, it starts at the text's start and reads the rest at once. The next window ends where
    this one starts, so each character is read once."""
    end = len(text)
    while end > 0:
        low = max(0, end - 1024)
        start = text.rfind(" ", max(0, low - 256), low) + 1  # just after the space, or 0 when there is none
        yield from reversed(list(_TOKEN.finditer(text, start, end)))
        end = start


def _last_number(text: str) -> str | None:
    """The last number in the text; the whole text when it is one short answer (`1 000`, `\\sqrt{17}`), and the whole
    math span (`\\( (9+1) \\)`, `$k = \\frac{1}{3}$`) when the last number closes one."""
    whole = text.strip()
    if len(whole) <= MAX_NUMBER_CHARS and _answer_value(whole) is not None:
        return whole
    tokens = _tokens_backwards(text)
    last = next(tokens, None)
    if last is None:
        return None
    before = next(tokens, None)
    if before is not None and _OR.fullmatch(text, before.end(), last.start()) and \
            canonical_answer(before.group()) != canonical_answer(last.group()):
        return _HEDGE  # "18 or 19"
    return _math_span(text, last) or last.group()


_SPANS = (("\\(", "\\)"), ("\\[", "\\]"), ("$", "$"))


def _math_span(text: str, token: re.Match) -> str | None:
    """The stated answer of the inline or display math span that the last number ends, if it ends one."""
    for open_mark, close_mark in _SPANS:
        close = text.find(close_mark, token.end())
        if close < 0 or text[token.end():close].strip(" {}().") or text[close + len(close_mark):].strip(" .\n$"):
            continue
        begin = text.rfind(open_mark, max(0, token.start() - MAX_NUMBER_CHARS), token.start())
        if begin >= 0 and (open_mark != "$" or text.count("$", begin + 1, close) == 0):
            return _stated(text[begin + len(open_mark):close])
    return None


_OR = re.compile(r"\s+or\s+")
_WORD_REST = re.compile(rf"\S{{0,{MAX_NUMBER_CHARS}}}")  # at most a number's length: a longer run is junk
_CLAUSE_END = re.compile(r"(?<!\\)[;!?]|\n|\.(?!\d)|,\s+(?![-−\d])|\s(?:since|because|as|so|which|from|given|for|when|if|but)\b")


def _answer_is(text: str) -> str | None:
    """The answer stated after the last "answer is": its clause, read for MAX_NUMBER_CHARS characters and to the end of
    the word they cut, up to the first clause end."""
    cut = max(text.rfind(phrase) for phrase in ("answer is", "Answer is", "ANSWER IS"))  # lower() can shift indices
    if cut < 0:
        return None
    # The clause's first MAX_NUMBER_CHARS characters, and the rest of the word they cut: never a number's prefix
    stop = _WORD_REST.match(text, cut + 9 + MAX_NUMBER_CHARS).end()
    said = _LATEX_THOUSANDS.sub(",", text[cut + 9:stop]).lstrip(" :")
    if "\\boxed{" in said:
        return None  # the boxed rule reads it whole
    end = _CLAUSE_END.search(said)
    return _stated(said[:end.start()] if end else said)


def extract_answer(text, fmt=DEFAULT_FORMAT, rules: tuple[str, ...] = RULES) -> Extraction:
    """The completion's final answer by the first rule in `rules` that finds one (see RULES).

    answer_tag: the format's answer field (every block must agree); hash: `#### N`; answer_is: "the answer is N";
    boxed: `\\boxed{...}`; last_number: the last number in the text. Evaluation passes STRICT_RULES or FLEXIBLE_RULES.

    >>> extract_answer("<reasoning>6*12=72</reasoning><answer>72</answer>")
    Extraction(value='72', rule='answer_tag')
    >>> extract_answer("so she has 5 + 7 = 12 apples", rules=STRICT_RULES)
    Extraction(value=None, rule='none')
    >>> extract_answer("<answer>5</answer><answer>7</answer>")
    Extraction(value=None, rule='conflict')
    """
    if type(text) is str and type(fmt) is str and fmt in FORMATS and rules is RULES and len(text) <= _CACHE_CHARS:
        return _extract_cached(text, fmt, RULES)  # the rewards' path: skip the checks below
    text, spec = as_text(text), _spec(fmt)
    rules = (rules,) if isinstance(rules, str) else tuple(rules)
    if not set(rules) <= set(RULES):
        raise ValueError(f"unknown extraction rule(s) {sorted(set(rules) - set(RULES))}; known: {', '.join(RULES)}")
    if len(text) > _CACHE_CHARS or FORMATS.get(spec.name) is not spec:
        return _extract(text, spec, rules)
    return _extract_cached(text, spec.name, rules)


def _extract(text: str, spec: FormatSpec, rules: tuple[str, ...]) -> Extraction:
    for rule in rules:
        if rule in ("answer_tag", "hash"):
            blocks = _blocks(text, *(_layout(spec)[2] if rule == "answer_tag" else (MARKER, "")))
            if blocks is None:
                return Extraction(None, "conflict")
            found = _agree([_stated(b) for b in blocks], rule)
        elif rule == "boxed":
            boxes = _boxed(text)
            found = Extraction(None, "conflict") if boxes is None else _agree([_stated(b) for b in boxes], rule)
        else:
            value = _answer_is(text) if rule == "answer_is" else _last_number(text) if rule == "last_number" else None
            found = None if value is None else Extraction(None, "conflict") if value == _HEDGE else Extraction(value, rule)
        if found is not None:
            return found
    return Extraction(None, "none")


@lru_cache(maxsize=4096)
def _extract_cached(text: str, name: str, rules: tuple[str, ...]) -> Extraction:
    return _extract(text, FORMATS[name], rules)  # keyed by name: hashing a FormatSpec costs more than the parse


# --------------------------------------------------------------------------- format sections


class Sections(NamedTuple):
    """The format sections read in order: contents of those found, and whether the layout is soft/strict valid."""

    contents: tuple[tuple[str, str], ...]
    in_order: bool  # every section present, in the format's order (text elsewhere allowed)
    strict: bool  # nothing but whitespace outside the sections, each tag once, every section non-empty
    trailing: int  # non-whitespace characters after the last section ends (-1 when it never ends)
    counts: tuple[int, ...]  # occurrences of each of the format's tags (FormatSpec.tags order)
    firsts: tuple[int, ...]  # where each tag stands when it occurs exactly once, else -1

    def get(self, name: str) -> str | None:
        return next((c for n, c in self.contents if n == name), None)


def parse_sections(text, fmt=DEFAULT_FORMAT) -> Sections:
    """Read the format's sections in order.

    >>> s = parse_sections("<reasoning>\\n6*12=72\\n</reasoning>\\n<answer>\\n72\\n</answer>\\n")
    >>> s.get("answer").strip(), s.in_order, s.strict, s.trailing
    ('72', True, True, 0)
    """
    if type(text) is str and type(fmt) is str and fmt in FORMATS and len(text) <= _CACHE_CHARS:
        return _sections_cached(text, fmt)
    text, spec = as_text(text), _spec(fmt)
    if len(text) > _CACHE_CHARS or FORMATS.get(spec.name) is not spec:
        return _sections(text, spec)
    return _sections_cached(text, spec.name)


def _sections(text: str, spec: FormatSpec) -> Sections:
    sections, tags, _ = _layout(spec)
    contents, pos, gaps_blank = [], 0, True
    for name, open_tag, close_tag in sections:
        start = text.find(open_tag, pos)
        if start < 0:
            break
        gaps_blank = gaps_blank and not text[pos:start].strip()
        begin = start + len(open_tag)
        end = text.find(close_tag, begin) if close_tag else text.find("\n", begin)
        if end < 0 and not close_tag:
            end = len(text)
        if end < 0:
            break
        contents.append((name, text[begin:end]))
        pos = end + len(close_tag)
    counts = tuple(map(text.count, tags))
    firsts = tuple(text.find(tag) if count == 1 else -1 for tag, count in zip(tags, counts))
    in_order = len(contents) == len(sections)
    trailing = len(text[pos:].strip()) if in_order else -1
    strict = in_order and gaps_blank and not trailing and all(c == 1 for c in counts) and all(c.strip() for _, c in contents)
    return Sections(tuple(contents), in_order, strict, trailing, counts, firsts)


@lru_cache(maxsize=4096)
def _sections_cached(text: str, name: str) -> Sections:
    return _sections(text, FORMATS[name])


def clear_caches() -> None:
    """Forget every parsed answer and section, as a fresh process would (benchmarks time cold parsing this way)."""
    for cached in (_answer_value, _extract_cached, _sections_cached):
        cached.cache_clear()


# --------------------------------------------------------------------------- gold rendering


def render_gold(solution, fmt=DEFAULT_FORMAT) -> str:
    """A GSM8K worked solution (`...<<48/2=24>>24...` lines, then `#### N`) written in the given output format.

    >>> print(render_gold("Half of 48 is 48/2 = <<48/2=24>>24.\\n#### 24", "stepwise"))
    <begin_steps>
    <STEP 1> Half of 48 is 48/2 = 24. @@@@ 48/2 = 24 @@@@ </STEP>
    </end_steps>
    #### 24
    """
    text, spec = as_text(solution), _spec(fmt)
    answer = canonical_answer(split_solution(text)[1] or "")
    lines = [(line, notes) for line, notes in map(strip_annotations, work_lines(text)) if line.strip()]
    if spec.name == "stepwise":
        steps = [
            f"<STEP {n}> {line}" + "".join(f" @@@@ {a.replace('=', ' = ', 1)} @@@@" for a in notes) + " </STEP>"
            for n, (line, notes) in enumerate(lines, 1)
        ]
        reasoning = "\n".join(steps)
    else:
        reasoning = "\n".join(line for line, _ in lines)
    bodies = {"reasoning": reasoning, "output": f"The answer is {answer}.", "answer": answer}
    inner = "" if spec.separator == "" else "\n"
    parts = []
    for section in spec.sections:
        body = bodies[section.name]
        if section.close:
            # As in each system prompt's example: think's <answer> and working_out's <SOLUTION> hug their content.
            pad = "" if section.name == "answer" and spec.name in ("think", "working_out") else inner
            parts.append(f"{section.open}{pad}{body}{pad}{section.close}")
        else:
            parts.append(f"{section.open} {body}")
    return spec.separator.join(parts)
