"""The rubric: GSM8K rewards with TRL's contract `f(completions, **kwargs) -> list[float | None]`, and their weights.

Rewards read completions only through mathrl.parsing; `build_reward_funcs` binds a format and RewardConfig for GRPO.

    python -m mathrl.rewards --write-docs    # regenerate docs/rewards.md from this module
"""

from __future__ import annotations

import argparse
import json
import math
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from mathrl import parsing
from mathrl.config import DEFAULT_REWARD_WEIGHTS, RewardConfig
from mathrl.errors import ConfigError
from mathrl.formats import DEFAULT_FORMAT
from mathrl.parsing import (
    _TOKEN, MAX_NUMBER_CHARS, STRICT_RULES, Value, _decimal_places, _spec, answer_value, as_text, equations, extract_answer,
    format_number, gold_answer, parse_sections, to_number,
)
from mathrl.verify import MATH_VERIFY

_CHUNK = 1024  # well under the parser's cache size
DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "rewards.md"
_DEFAULT_CFG = RewardConfig()


# --------------------------------------------------------------------------- math-verify (mathrl.verify) for LaTeX only


def _math_verify_equal(gold: str, pred: str, timeout: float) -> bool:
    return MATH_VERIFY.equal(gold, pred, timeout)


# Cached by a call rather than a decorator here and below: mutmut leaves decorated functions unmutated.
_verified = lru_cache(maxsize=16_384)(_math_verify_equal)


def _needs_math_verify(text: str) -> bool:
    return len(text) <= 2 * MAX_NUMBER_CHARS and any(mark in text for mark in ("\\", "^", "{"))


# --------------------------------------------------------------------------- grading


def _read_gold(gold) -> tuple[str, Value | None]:
    text = gold_answer(gold)
    return text, answer_value(text)


_gold = lru_cache(maxsize=4096)(_read_gold)


def clear_caches() -> None:
    """Forget every graded gold, math-verify verdict and parsed completion: the next scoring starts cold."""
    _gold.cache_clear()
    _verified.cache_clear()
    parsing.clear_caches()


def _number_as_text(value):
    """A finite int or float (a column of numbers, not a bool) as the text it stands for; anything else unchanged."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)  # str and repr agree on numbers: 0.1 reads "0.1", 1e+20 "1e+20"
    return value


def grade(pred: str | None, gold, cfg: RewardConfig = _DEFAULT_CFG) -> str | None:
    """How a predicted answer matches the gold one: "exact", "tolerance", "close", "wrong"; None if gold is missing.

    Numbers compare as exact values (`\\frac{2}{3}` is 2/3, `10000000000000001` is not 10000000000000000), plain
    arithmetic and arithmetic LaTeX included; only other LaTeX (a variable, `\\pi`) goes to math-verify, behind
    cfg.math_verify_timeout. See _compare for tolerance, rounding and percentages.

    >>> grade("72", "#### 72"), grade("72.5000001", "72.5"), grade("72.00004", "72"), grade("7", "72"), grade("7", None)
    ('exact', 'tolerance', 'close', 'wrong', None)
    >>> grade(r"\\boxed{\\frac{2}{3}}", "2/3"), grade("28%", "7/25"), grade("0.6667", "2/3")
    ('exact', 'exact', 'tolerance')
    """
    gold = _number_as_text(gold)
    gold_text, g = _gold(gold) if isinstance(gold, (str, bytes)) else ("", None)
    if not gold_text:
        return None
    if pred is None:
        return "wrong"
    pred = as_text(_number_as_text(pred))
    p = answer_value(pred)
    if p is not None and g is not None:
        return _compare(p, g, cfg)
    if cfg.math_verify and (_needs_math_verify(pred) or g is None):
        return "exact" if _verified(gold_text, pred.strip(), float(cfg.math_verify_timeout)) else "wrong"
    return "exact" if g is None and pred.strip().casefold() == gold_text.casefold() else "wrong"


def _compare(p: Value, g: Value, cfg: RewardConfig) -> str:
    """Exact values first. cfg.tolerance (relative) applies only to golds that may be rounded: decimals and
    irrational values, never whole numbers or fractions. A fraction whose decimal never ends (2/3) also meets its
    correctly rounded decimal with at least cfg.rounded_digits significant digits (0.6667), graded "tolerance".
    A percentage meets a gold without one by cfg.percent (see RewardConfig)."""
    pairs = _percent_readings(p, g, cfg.percent)
    if any(a == b for a, b in pairs):
        return "exact"
    for a, b in pairs:
        if _may_be_rounded(b) and math.isclose(a, b, rel_tol=cfg.tolerance, abs_tol=cfg.tolerance):
            return "tolerance"
        if cfg.rounded_digits and _rounds_to(b, a, cfg.rounded_digits):
            return "tolerance"
    try:
        return "close" if any(math.isclose(a, b, rel_tol=cfg.close_tolerance) for a, b in pairs) else "wrong"
    except OverflowError:  # a number too large for a float is never close to a gold that fits one
        return "wrong"


def _percent_readings(p: Value, g: Value, policy: str) -> list[tuple]:
    """(answer, gold) number pairs to compare: a percentage on one side only is read as the number (`50%` is 50,
    GSM8K's convention), as a fraction (`28%` is 7/25), or, under "auto", as the number and, when the other side is not
    a whole number, also as the fraction."""
    if p.percent == g.percent:
        return [(p.number, g.number)]
    marked, other = (p, g) if p.percent else (g, p)
    readings = []
    if policy in ("number", "auto"):
        readings.append(marked.number)
    if policy == "fraction" or (policy == "auto" and not _is_whole(other.number)):
        readings.append(marked.number / 100 if isinstance(marked.number, float) else Fraction(marked.number, 100))
    return [(r, other.number) if p.percent else (other.number, r) for r in readings]


def _is_whole(number) -> bool:
    return isinstance(number, int) or (isinstance(number, float) and number.is_integer())


def _may_be_rounded(gold) -> bool:
    """A decimal gold (12.25) or an irrational one may be a rounding; a whole number or a fraction is exact."""
    return isinstance(gold, float) or (isinstance(gold, Fraction) and _decimal_places(gold.denominator) is not None)


def _rounds_to(gold, pred, digits: int) -> bool:
    """Whether pred is a decimal of at least `digits` significant digits that is gold correctly rounded."""
    places = _decimal_places(pred.denominator) if isinstance(pred, Fraction) else 0 if isinstance(pred, int) else None
    if not isinstance(gold, Fraction) or _decimal_places(gold.denominator) is not None or places is None:
        return False
    significant = len(str(abs(Fraction(pred) * 10 ** places).numerator))
    return significant >= digits and round(gold, places) == pred


def _score(level: str | None, cfg: RewardConfig) -> float | None:
    if level is None:
        return None
    if cfg.correctness_mode == "graded":
        return float(cfg.graded_scores[("exact", "tolerance", "close", "wrong").index(level)])
    return 1.0 if level in ("exact", "tolerance") else 0.0


# --------------------------------------------------------------------------- the rewards

REWARDS: dict = {}


def _register(func, low: float, high: float, span=None) -> None:
    """Register a reward with the range it pays (span(cfg) when the range depends on the config).

    A call after each definition rather than a decorator: mutmut leaves decorated functions unmutated, and the rewards
    are what mutation testing must reach first.
    """
    func.span = span or (lambda cfg: (low, high))
    REWARDS[func.__name__] = func


def _texts(completions) -> list[str]:
    if completions is None or isinstance(completions, (str, bytes, dict)):
        return []  # not a batch: TRL always passes a list
    try:
        return [as_text(c) for c in completions]
    except TypeError:  # not iterable
        return []


def _column(values, n: int) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values] * n
    return (values + [None] * n)[:n]


def format_reward_strict(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the completion is exactly the format's sections (each tag once, whitespace only outside them), else 0.

    >>> format_reward_strict(["<reasoning>\\n6*12=72\\n</reasoning>\\n<answer>\\n72\\n</answer>", "72"])
    [1.0, 0.0]
    """
    return [1.0 if parse_sections(t, fmt).strict else 0.0 for t in _texts(completions)]


_register(format_reward_strict, 0.0, 1.0)


def format_reward_soft(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the format's sections all appear in order (other text allowed around them), else 0.

    >>> format_reward_soft([[{"role": "assistant", "content": "Sure! <reasoning>6*12=72</reasoning> <answer>72</answer>"}]])
    [1.0]
    """
    return [1.0 if parse_sections(t, fmt).in_order else 0.0 for t in _texts(completions)]


_register(format_reward_soft, 0.0, 1.0)


def xml_count_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """Partial credit per tag present once and in order; repeats earn nothing, text after the last section costs.

    >>> xml_count_reward(["<reasoning>r</reasoning><answer>1</answer>", "<reasoning>r</reasoning>", "<answer>1</answer>" * 2])
    [1.0, 0.5, 0.0]
    """
    out = []
    for text in _texts(completions):
        sections, score, last = parse_sections(text, fmt), 0.0, -1
        for count, where in zip(sections.counts, sections.firsts):
            if count == 1 and where > last:
                score, last = score + 1.0 / len(sections.counts), where
        out.append(round(score - min(0.5, 0.001 * max(sections.trailing, 0)), 6))
    return out


_register(xml_count_reward, -0.5, 1.0)


def correctness_reward(completions, answer=None, fmt=DEFAULT_FORMAT, reward_cfg=None, solution=None,
                       log_extra=None, **kwargs) -> list[float | None]:
    """Pays for the right final answer (binary 1/0, or graded exact/tolerance/close/wrong); None without a gold answer.

    >>> correctness_reward(["<answer>72</answer>", "so 6*12 = 72", "<answer>7</answer>", "<answer>72</answer>"],
    ...                    answer=["72", "72", "72", None])
    [1.0, 1.0, 0.0, None]
    """
    cfg, texts = reward_cfg or _DEFAULT_CFG, _texts(completions)
    golds = _column(answer if answer is not None else solution, len(texts))
    found = [extract_answer(t, fmt) for t in texts]
    scores = [_score(grade(e.value, g, cfg), cfg) for e, g in zip(found, golds)]
    if callable(log_extra):
        log_extra("extracted_answer", [e.value for e in found])
        log_extra("answer_rule", [e.rule for e in found])
    return scores


_register(correctness_reward, 0.0, 1.0, span=lambda cfg: (0.0, 1.0) if cfg.correctness_mode == "binary" else
          (min(cfg.graded_scores), max(cfg.graded_scores)))


def number_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the format's answer field holds one parseable number, else 0.

    >>> number_reward(["<answer>1,000</answer>", "<answer>about a thousand</answer>", "1000"])
    [1.0, 0.0, 0.0]
    """
    values = [extract_answer(t, fmt, STRICT_RULES).value for t in _texts(completions)]
    return [1.0 if v is not None and to_number(v) is not None else 0.0 for v in values]


_register(number_reward, 0.0, 1.0)


def _reasoning(text: str, fmt) -> str | None:
    return parse_sections(text, fmt).get("reasoning")


def _computes(reasoning: str, value: float, limit: int = 64) -> bool:
    """Whether the reasoning states `value` as a result, right after an `=` (GSM8K `<<a*b=c>>` annotations included).

    Looks only where the answer's digits occur (as written, with a decimal comma, with thousands commas), at the last
    64 such places, from the end, where the final result usually is; at most 7 spaces, currency or minus signs may
    stand between the `=` and the digits.
    """
    written = format_number(abs(value))
    whole, point, decimals = written.partition(".")
    spellings = {written, written.replace(".", ",")}  # "2,5" in the reasoning, "2.5" in the answer
    if whole.isdigit() and len(whole) > 3:
        spellings.add(f"{int(whole):,}{point}{decimals}")  # "1,000.5" in the reasoning, "1000.5" in the answer
    for spelling in spellings:
        end = len(reasoning)
        for _ in range(limit):
            if (at := reasoning.rfind(spelling, 0, end)) < 0:
                break
            end = at
            before = reasoning[max(0, at - 8):at]
            gap = len(before) - len(before.rstrip(" $-−"))  # spaces, currency and sign between `=` and digits
            if before[:len(before) - gap].endswith("="):
                token = _TOKEN.match(reasoning[at - gap:at + MAX_NUMBER_CHARS].lstrip(" $"))
                result = to_number(token.group()) if token else None
                if result is not None and math.isclose(result, value, rel_tol=1e-6):
                    return True
    return False


def consistency_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the final answer is a result the reasoning computed (`... = N`), else 0.

    >>> consistency_reward(["<reasoning>6*12 = 72 eggs</reasoning><answer>72</answer>",
    ...                     "<reasoning>6*12 = 72 eggs</reasoning><answer>80</answer>"])
    [1.0, 0.0]
    """
    out = []
    for text in _texts(completions):
        reasoning, value = _reasoning(text, fmt), to_number(extract_answer(text, fmt).value)
        out.append(1.0 if reasoning and value is not None and _computes(reasoning, value) else 0.0)
    return out


_register(consistency_reward, 0.0, 1.0)


def _step_ok(lhs: int | Fraction, rhs: int | Fraction, decimals: int) -> bool:
    # A stated result may round: "10/3 = 3.33" is right to its two decimals, and "1/8 = 0.13" exactly at half a unit.
    return abs(lhs - rhs) <= Fraction(1, 2 * 10**decimals)


def stepwise_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """Checks each `a op b = c` in the reasoning: pays correct steps and a last step that reaches the answer; -0.5 if any is wrong.

    >>> stepwise_reward(["<reasoning>48/2 = 24, 48+24 = 72</reasoning><answer>72</answer>",
    ...                  "<reasoning>48/2 = 25, 48+25 = 73</reasoning><answer>73</answer>", "<answer>72</answer>"])
    [1.0, 0.25, 0.0]
    """
    out = []
    for text in _texts(completions):
        reasoning = _reasoning(text, fmt)
        steps = equations(reasoning if reasoning is not None else text)
        if not steps:
            out.append(0.0)
            continue
        ok = [_step_ok(*step) for step in steps]
        value = to_number(extract_answer(text, fmt).value)
        reaches = ok[-1] and value is not None and math.isclose(steps[-1][1], value, rel_tol=1e-6)
        out.append(0.5 * sum(ok) / len(ok) + 0.5 * reaches - 0.5 * (not all(ok)))
    return out


_register(stepwise_reward, -0.5, 1.0)


def reasoning_reward(completions, fmt=DEFAULT_FORMAT, reward_cfg=None, **kwargs) -> list[float]:
    """Pays reasoning of useful length: distinct words over RewardConfig.min_reasoning_words, capped at 1.

    >>> reasoning_reward(["<reasoning>Half of 48 is 24, and 48 plus 24 makes 72.</reasoning><answer>72</answer>",
    ...                   "<reasoning>go go go go go go go go</reasoning><answer>72</answer>"])
    [1.0, 0.125]
    """
    minimum = max(1, (reward_cfg or _DEFAULT_CFG).min_reasoning_words)
    out = []
    for text in _texts(completions):
        reasoning = _reasoning(text, fmt) or ""
        out.append(min(1.0, len(set(reasoning.lower().split())) / minimum))
    return out


_register(reasoning_reward, 0.0, 1.0)


# --------------------------------------------------------------------------- binding, combining, documenting


class BoundReward:
    """A registered reward bound to a format and config; picklable, and named for TRL's logs by `__name__`."""

    def __init__(self, name: str, fmt=DEFAULT_FORMAT, reward_cfg: RewardConfig | None = None):
        if name not in REWARDS:
            raise ConfigError(f"unknown reward {name!r}; known rewards: {', '.join(REWARDS)}")
        self.__name__, self.fmt, self.reward_cfg = name, fmt, reward_cfg or _DEFAULT_CFG

    def __call__(self, completions, **kwargs) -> list[float | None]:
        kwargs.update(fmt=self.fmt, reward_cfg=self.reward_cfg)
        return REWARDS[self.__name__](completions, **kwargs)

    def __repr__(self) -> str:
        return f"BoundReward({self.__name__!r}, fmt={_spec(self.fmt).name!r})"


def build_reward_funcs(reward_cfg: RewardConfig, fmt=DEFAULT_FORMAT) -> tuple[list[BoundReward], list[float]]:
    """GRPOTrainer's `reward_funcs` and `reward_weights` from a RewardConfig (weight 0.0 = logged only).

    >>> funcs, weights = build_reward_funcs(RewardConfig(), "think")
    >>> funcs[0].__name__, weights[0], funcs[0](["<think>6*12=72</think><answer>72</answer>"], answer=["72"])
    ('correctness_reward', 2.0, [1.0])
    """
    names = list(reward_cfg.weights)
    return [BoundReward(n, fmt, reward_cfg) for n in names], [float(reward_cfg.weights[n]) for n in names]


def reward_breakdown(completions, fmt=DEFAULT_FORMAT, reward_cfg=None, names=None, **kwargs) -> dict[str, list]:
    """Every reward's scores (or those in `names`), keyed by name: for logging and evaluation records.

    >>> reward_breakdown(["<reasoning>6*12 = 72</reasoning><answer>72</answer>"], answer=["72"])["consistency_reward"]
    [1.0]
    """
    names, texts = list(names or REWARDS), _texts(completions)
    out = {n: [] for n in names}
    # In chunks the parser's caches still hold a chunk's parses when the next reward reads them.
    for start in range(0, len(texts), _CHUNK):
        chunk = {k: v[start:start + _CHUNK] if isinstance(v, (list, tuple)) and len(v) == len(texts) else v
                 for k, v in kwargs.items()}
        for n in names:
            out[n] += REWARDS[n](texts[start:start + _CHUNK], fmt=fmt, reward_cfg=reward_cfg, **chunk)
    return out


def combined_reward(completions, fmt=DEFAULT_FORMAT, reward_cfg=None, **kwargs) -> list[float | None]:
    """The weighted sum of the rewards in RewardConfig.weights; None only where no weighted reward can judge.

    >>> combined_reward(["<reasoning>6*12 = 72</reasoning>\\n<answer>72</answer>", "72"], answer=["72", "72"])
    [2.75, 2.0]
    """
    weights = {n: w for n, w in (reward_cfg or _DEFAULT_CFG).weights.items() if w}
    parts = reward_breakdown(completions, fmt, reward_cfg, names=list(weights), **kwargs)
    totals = []
    for scores in zip(*(parts[n] for n in weights)):
        judged = [weights[n] * s for n, s in zip(weights, scores) if s is not None]
        totals.append(round(sum(judged), 6) if judged else None)
    return totals


combined_reward.span = lambda cfg: tuple(
    sum(w * REWARDS[n].span(cfg)[i if w >= 0 else 1 - i] for n, w in cfg.weights.items() if n in REWARDS) for i in (0, 1)
)


def reward_table(cfg: RewardConfig | None = None) -> list[dict]:
    """One row per reward: what it pays (its docstring's first line), its range and its default weight."""
    cfg = cfg or RewardConfig()
    return [
        {
            "component": name,
            "pays": (func.__doc__ or "").strip().partition("\n")[0],
            "range": "{:g} .. {:g}".format(*func.span(cfg)),
            "default_weight": DEFAULT_REWARD_WEIGHTS.get(name, 0.0),
        }
        for name, func in REWARDS.items()
    ]


CASES_PATH = DOCS_PATH.parents[1] / "tests" / "data" / "math_verify_cases.json"


def _cases() -> list[dict]:
    return json.loads(CASES_PATH.read_text())["cases"] if CASES_PATH.exists() else []


def _case_count() -> int:
    return len(_cases())


def _convention_rows() -> str:
    rows = [f"- gold `{c['gold']}`, completion `{json.dumps(c['pred'])}`: expected "
            f"{'right' if c['expected'] else 'wrong'}; {c['convention']}." for c in _cases() if c["convention"]]
    return "\n".join(rows) or "- none"


def reward_table_markdown() -> str:
    """docs/rewards.md, generated from this module so that it cannot drift from the code."""
    from mathrl.parsing import RULES

    defaults = RewardConfig()
    rows = "\n".join(
        f"| `{r['component']}` | {r['pays'].replace('|', '/')} | {r['range']} | {r['default_weight']:g} |"
        for r in reward_table()
    )
    low, high = combined_reward.span(defaults)
    return f"""# Rewards

Generated by `python -m mathrl.rewards --write-docs` from `mathrl/rewards.py`; a test fails when this file drifts.

| component | pays | range | default weight |
|---|---|---|---|
{rows}

Weight 0.0 keeps a reward as a logged metric. The default combined reward spans {low:g} .. {high:g}. Correctness
outweighs all format rewards together: a correct answer with no format earns more than a perfectly formatted wrong one.

**The answer** is read by `mathrl.parsing.extract_answer`, the same function evaluation uses, trying in order:
{', '.join(f'`{r}`' for r in RULES)}. An answer that names two different values (`18 or 19`, `12 apples and 3
oranges`, a list) is a hedge and is never paid, whichever rule found it, and so are answer blocks that disagree. An
equation answers with its last side (`x = 72`, `6 * 12 = 72`). A completion that is one short answer is that answer.

**Numbers** are read by one lexer (`mathrl.arithmetic.LITERAL`) into exact values: an int or a fraction from the
digits, never through a float (`10000000000000001` is not `10000000000000000`); a float only for an irrational root.
Thousands are grouped by commas, or by thin, narrow or no-break spaces, and in a whole answer by normal spaces (`1 234`);
a group never starts with 0. A comma is a decimal comma where it cannot separate thousands: one, two or four and more
digits after it, or a lone 0 before it (`1,5` is 1.5, `0,111` is 0.111, `1000,99` is 1000.99), while `1,500` is 1500
and `32, 349` is a list; a dot is always a decimal point. Also read: a sign then a space (`- 5`), the unicode minus,
currency before or after (`$`, `€`, `£`, `¥`, `₹`), trailing units (`12 apples`, `15\\text{{ cm}}^2`, `90^\\circ`),
scientific notation (`2.5e3`, `2.5 \\times 10^{{3}}`), fractions and mixed numbers (`3/4`, `1 1/2`, `\\frac13`,
`2\\frac{{1}}{{2}}`), and plain arithmetic by `mathrl.arithmetic`'s safe evaluator (`11 + 4/9`, `3 x 4`, `\\sqrt{{16}}`;
at most 64 operands, exponents of at most 64, values of at most 4096 bits). Only other LaTeX goes to math-verify, in a
worker process killed after `rewards.math_verify_timeout` seconds.

**Comparing**: exact values first. Graded correctness pays
{', '.join(f'{k} {v:g}' for k, v in zip(('exact', 'within tolerance', 'close', 'wrong'), defaults.graded_scores))}
(close: within {defaults.close_tolerance:g}, relative). `rewards.tolerance` ({defaults.tolerance:g}, relative) applies only
to golds that may be rounded (decimals, roots), never to whole numbers or fractions. A fraction gold whose decimal never
ends (2/3) also meets its correctly rounded decimal of at least `rewards.rounded_digits` ({defaults.rounded_digits})
significant digits (`0.6667`), graded within tolerance. A percentage meets a gold written without one by
`rewards.percent` ({defaults.percent!r}): per source, GSM8K's whole-number golds keep GSM8K's convention (`50%` answers
50, `100%` is not 1) and fraction golds theirs (`28%` answers 7/25); both sides marked compare their numbers.

**Math-Verify's own test cases** about numbers, fractions, percentages and simple LaTeX
(`tests/data/math_verify_cases.json`, {_case_count()} cases) are checked by `tests/test_math_verify_cases.py`, which
prints mathrl's agreement with the expected verdicts beside math-verify 0.9.0's. The cases where mathrl's verdict is
not the expected one, and the convention that explains each:
{_convention_rows()}

**Against TRL's `trl.rewards`**: `think_format_reward` pays when `<think>` is the very first character, no second
`<think>` follows and `</think>` closes it; whatever comes after is ignored. With format `think`, ours also demand the
`<answer>` block; `format_reward_soft` pays for text before `<think>` and repeated tags, `format_reward_strict` allows
whitespace around the sections and nothing else. `accuracy_reward` needs a LaTeX anchor (`\\boxed{{}}`, `$...$`) and
takes the first match; ours reads the format's answer field first, takes plain numbers, and scores disagreeing answers
as wrong. On boxed answers the two agree (tested).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mathrl.rewards", description="mathrl reward table")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS_PATH}")
    args = parser.parse_args(argv)
    text = reward_table_markdown()
    if args.write_docs:
        DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOCS_PATH.write_text(text)
        print(f"wrote {DOCS_PATH}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
