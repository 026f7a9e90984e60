"""The parser: reads numbers, answers, format sections and step equations out of completions; renders gold solutions.

Rewards and evaluation both call `extract_answer`, so what counts as "the answer" exists once. Linear time, never raises.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import NamedTuple

from mathrl.config import DEFAULT_FORMAT, FORMATS, FormatSpec

# Every rule `extract_answer` knows, in the order it tries them. Evaluation's strict rule is ("answer_tag",), its
# flexible rule ("last_number",).
RULES = ("answer_tag", "hash", "answer_is", "boxed", "last_number")
STRICT_RULES = ("answer_tag",)
FLEXIBLE_RULES = ("last_number",)

MAX_NUMBER_CHARS = 120  # longer "numbers" are junk, and the cap keeps every regex below on short inputs
MAX_BLOCKS = 64  # more answer blocks than this is hedging, not answering
_CACHE_CHARS = 16_384  # texts above this are parsed uncached so a hostile batch cannot fill memory

# Anchored and free of nested quantifiers over the same characters, so matching is linear.
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d{1,3})?")
_TOKEN = re.compile(r"(?:(?<![\w)])[-−])?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
_FRAC = re.compile(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}")
_LATEX_NOISE = ("\\$", "\\%", "\\!", "\\,", "{,}", "\\left", "\\right", "$", "%", "**", "\\(", "\\)", "\\[", "\\]")
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


def _words_to_number(text: str) -> float | None:
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
    return float(total + current) if seen else None


def to_number(text) -> float | None:
    """The number a short answer string states, or None.

    Handles `1,000`, `$5.00`, `50%`, `−3` (unicode minus), `+7`, `3/4`, `1 1/2`, `\\frac{3}{4}`, `2.5e3`, trailing unit
    words (`5 dollars`) and small numbers in words (`twelve`, `twenty-five`). Anything with a second number is None.

    >>> [to_number(s) for s in ("1,000", "$5.00", "−3", "3/4", "1 1/2", "12 apples", "twenty-five", "5 or 6")]
    [1000.0, 5.0, -3.0, 0.75, 1.5, 12.0, 25.0, None]
    """
    s = as_text(text).strip()
    return _to_number(s) if s and len(s) <= MAX_NUMBER_CHARS else None


@lru_cache(maxsize=65_536)
def _to_number(s: str) -> float | None:
    if s.isascii() and s.isdigit():  # the common case, without the normalizing below
        return float(s)
    s = s.replace("−", "-").replace("\\text{", " ").replace("\\mathrm{", " ")
    for noise in _LATEX_NOISE:
        s = s.replace(noise, "")
    s = _FRAC.sub(r"\1/\2", s).strip().rstrip(".").strip("{} ")
    match = _NUMBER.match(s)
    if not match or not any(ch.isdigit() for ch in match.group()):
        return _words_to_number(s)
    value, rest = _float(match.group()), s[match.end():].lstrip()
    if rest[:1] == "/":  # a fraction a/b
        denominator = _NUMBER.match(rest, 1)
        den = _float(denominator.group()) if denominator else None
        if not den:
            return None
        value, rest = value / den, rest[denominator.end():].lstrip()
    elif rest[:1].isdigit() and "/" in rest:  # a mixed number "1 1/2"
        parts = rest.split(None, 1)
        num, _, den = parts[0].partition("/")
        if not (num.isdigit() and den.isdigit() and int(den)):
            return None
        value += math.copysign(int(num) / int(den), value)
        rest = parts[1] if len(parts) > 1 else ""
    if value is None or any(ch.isdigit() for ch in rest) or not math.isfinite(value):
        return None
    return value


def _float(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def format_number(value: float) -> str:
    """A float as the shortest plain decimal: 72.0 -> "72", 12.50 -> "12.5", 0.75 -> "0.75"."""
    if value == int(value) and abs(value) < 1e16:
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else repr(value)


def canonical_answer(text) -> str:
    """The normalized form of a gold or predicted answer: a plain decimal when it is a number, else the stripped text.

    Fractions become decimals ("3/4" -> "0.75") so that one canonical string means one value; comparisons use the number.

    >>> [canonical_answer(s) for s in ("1,000", "$5.00", "−3", "+7", "12.50", "3/4", " forty ", "x + 1")]
    ['1000', '5', '-3', '7', '12.5', '0.75', '40', 'x + 1']
    """
    text = as_text(text)
    value = to_number(text)
    return format_number(value) if value is not None else text.strip()


def gold_answer(text) -> str:
    """The canonical gold answer of a dataset row: after the last `####` when there is one, else the whole string."""
    text = as_text(text)
    cut = text.rfind("####")
    return canonical_answer(text[cut + 4:] if cut >= 0 else text)


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
        inner = text.rfind(open_tag, begin, end)  # nested opens: the innermost block holds the answer
        found.append(text[(inner + len(open_tag)) if inner >= 0 else begin:end])
        if len(found) > MAX_BLOCKS:
            return None
        pos = end + len(close_tag) if close_tag else end
    return found


def _numbers(text: str, limit: int = 2) -> list[str]:
    out = []
    for match in _TOKEN.finditer(text):
        out.append(match.group())
        if len(out) >= limit:
            break
    return out


def _field_value(raw: str) -> str:
    """A tagged answer field as its answer: the number when it states one ("x = 72" -> "72"), else the stripped text."""
    text = raw.strip()
    if len(text) > MAX_NUMBER_CHARS or to_number(text) is not None or "\\" in text:
        return text
    numbers = _numbers(text)
    return numbers[0] if len(numbers) == 1 else text


def _agree(values: list[str], rule: str) -> Extraction | None:
    if not values:
        return None
    first = canonical_answer(values[-1]) if len(values) > 1 else ""
    if any(canonical_answer(v) != first for v in values[:-1]):
        return Extraction(None, "conflict")  # hedging between answers never pays
    return Extraction(values[-1], rule)


def _boxed(text: str) -> list[str] | None:
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


def _last_number(text: str) -> str | None:
    end = len(text)
    while end > 0:  # search backwards window by window; back each window off so it never cuts a number in half
        start = max(0, end - 1024)
        while start > 0 and (text[start - 1].isdigit() or text[start - 1] in ",./−-"):
            start -= 1
        tokens = [m.group() for m in _TOKEN.finditer(text, start, end)]
        if tokens:
            return tokens[-1]
        end = start
    return None


def _answer_is(text: str) -> str | None:
    cut = max(text.rfind(phrase) for phrase in ("answer is", "Answer is", "ANSWER IS"))  # lower() can shift indices
    if cut < 0:
        return None
    said = text[cut + 9:cut + 9 + MAX_NUMBER_CHARS].split("\n", 1)[0].strip().rstrip(".").strip()
    if "\\boxed{" in said:
        return None  # the boxed rule reads it whole
    if "\\" in said or to_number(said) is not None:
        return said
    numbers = _numbers(said, limit=1)
    return numbers[0] if numbers else None


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
            blocks = _blocks(text, *(_layout(spec)[2] if rule == "answer_tag" else ("####", "")))
            if blocks is None:
                return Extraction(None, "conflict")
            found = _agree([_field_value(b) for b in blocks if b.strip()], rule)
        elif rule == "boxed":
            boxes = _boxed(text)
            found = Extraction(None, "conflict") if boxes is None else _agree([b.strip() for b in boxes if b.strip()], rule)
        else:
            value = _answer_is(text) if rule == "answer_is" else _last_number(text) if rule == "last_number" else None
            found = Extraction(value, rule) if value is not None else None
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


# --------------------------------------------------------------------------- gold rendering


def _strip_annotations(line: str) -> tuple[str, list[str]]:
    """A GSM8K line without its `<<a*b=c>>` calculator annotations, and the annotations' equations."""
    out, notes, pos = [], [], 0
    while (start := line.find("<<", pos)) >= 0 and (end := line.find(">>", start)) >= 0:
        out.append(line[pos:start])
        notes.append(line[start + 2:end])
        pos = end + 2
    out.append(line[pos:])
    return "".join(out), notes


def render_gold(solution, fmt=DEFAULT_FORMAT) -> str:
    """A GSM8K worked solution (`...<<48/2=24>>24...` lines, then `#### N`) written in the given output format.

    >>> print(render_gold("Half of 48 is 48/2 = <<48/2=24>>24.\\n#### 24", "stepwise"))
    <begin_steps>
    <STEP 1> Half of 48 is 48/2 = 24. @@@@ 48/2 = 24 @@@@ </STEP>
    </end_steps>
    #### 24
    """
    text, spec = as_text(solution), _spec(fmt)
    cut = text.rfind("####")
    answer = canonical_answer(text[cut + 4:] if cut >= 0 else "")
    lines = [_strip_annotations(line.strip()) for line in (text[:cut] if cut >= 0 else text).splitlines()]
    lines = [(line, notes) for line, notes in lines if line.strip()]
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
