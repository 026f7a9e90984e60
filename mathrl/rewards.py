"""The rubric: GSM8K rewards with TRL's contract `f(completions, **kwargs) -> list[float | None]`, and their weights.

Rewards read completions only through mathrl.parsing; `build_reward_funcs` binds a format and RewardConfig for GRPO.

    python -m mathrl.rewards --write-docs    # regenerate docs/rewards.md from this module
"""

from __future__ import annotations

import argparse
import math
from functools import lru_cache
from pathlib import Path

from mathrl.arithmetic import equations, latex_value
from mathrl.config import DEFAULT_FORMAT, DEFAULT_REWARD_WEIGHTS, ConfigError, RewardConfig
from mathrl.parsing import (
    _TOKEN, MAX_NUMBER_CHARS, STRICT_RULES, _spec, as_text, extract_answer, format_number, gold_answer,
    parse_sections, to_number,
)
from mathrl.verify import MATH_VERIFY

_CHUNK = 1024  # well under the parser's cache size
DOCS_PATH = Path(__file__).resolve().parents[1] / "docs" / "rewards.md"
_DEFAULT_CFG = RewardConfig()


# --------------------------------------------------------------------------- math-verify (mathrl.verify) for LaTeX only


@lru_cache(maxsize=16_384)
def _verified(gold: str, pred: str, timeout: float) -> bool:
    return MATH_VERIFY.equal(gold, pred, timeout)


def _needs_math_verify(text: str) -> bool:
    return len(text) <= 2 * MAX_NUMBER_CHARS and any(mark in text for mark in ("\\", "^", "{"))


# --------------------------------------------------------------------------- grading


@lru_cache(maxsize=4096)
def _gold(gold) -> tuple[str, float | None]:
    text = gold_answer(gold)
    return text, (to_number(text) if text else None)


def grade(pred: str | None, gold, cfg: RewardConfig = _DEFAULT_CFG) -> str | None:
    """How a predicted answer matches the gold one: "exact", "tolerance", "close", "wrong"; None if gold is missing.

    Plain numbers never reach math-verify, nor LaTeX that is plain arithmetic (`\\sqrt{16}`, `2^{3}`), which
    arithmetic.latex_value evaluates; other LaTeX (a variable, `\\pi`) goes to math-verify behind cfg.math_verify_timeout.

    >>> grade("72", "#### 72"), grade("72.00004", 72), grade("70", "72"), grade("7", "72"), grade("7", None)
    ('exact', 'tolerance', 'close', 'wrong', None)
    """
    if isinstance(gold, (int, float)) and not isinstance(gold, bool) and math.isfinite(gold):
        gold = format_number(float(gold))
    gold_text, g = _gold(gold) if isinstance(gold, (str, bytes)) else ("", None)
    if not gold_text:
        return None
    if pred is None:
        return "wrong"
    p = to_number(pred) if isinstance(pred, str) else None
    if p is None and isinstance(pred, str) and _needs_math_verify(pred):
        p = latex_value(pred)
    if p is not None and g is not None:
        if p == g:
            return "exact"
        # Two different whole numbers are never "within tolerance": 109200001 is wrong however large the gold.
        if not (p.is_integer() and g.is_integer()) and math.isclose(p, g, rel_tol=cfg.tolerance, abs_tol=cfg.tolerance):
            return "tolerance"
        return "close" if math.isclose(p, g, rel_tol=cfg.close_tolerance) else "wrong"
    if cfg.math_verify and isinstance(pred, str) and (_needs_math_verify(pred) or g is None):
        return "exact" if _verified(gold_text, pred.strip(), float(cfg.math_verify_timeout)) else "wrong"
    return "exact" if g is None and pred.strip().casefold() == gold_text.casefold() else "wrong"


def _score(level: str | None, cfg: RewardConfig) -> float | None:
    if level is None:
        return None
    if cfg.correctness_mode == "graded":
        return float(cfg.graded_scores[("exact", "tolerance", "close", "wrong").index(level)])
    return 1.0 if level in ("exact", "tolerance") else 0.0


# --------------------------------------------------------------------------- the rewards

REWARDS: dict = {}


def _reward(low: float, high: float, span=None):
    """Register a reward with the range it pays (span(cfg) when the range depends on the config)."""

    def register(func):
        func.span = span or (lambda cfg: (low, high))
        REWARDS[func.__name__] = func
        return func

    return register


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


@_reward(0.0, 1.0)
def format_reward_strict(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the completion is exactly the format's sections (each tag once, whitespace only outside them), else 0.

    >>> format_reward_strict(["<reasoning>\\n6*12=72\\n</reasoning>\\n<answer>\\n72\\n</answer>", "72"])
    [1.0, 0.0]
    """
    return [1.0 if parse_sections(t, fmt).strict else 0.0 for t in _texts(completions)]


@_reward(0.0, 1.0)
def format_reward_soft(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the format's sections all appear in order (other text allowed around them), else 0.

    >>> format_reward_soft([[{"role": "assistant", "content": "Sure! <reasoning>6*12=72</reasoning> <answer>72</answer>"}]])
    [1.0]
    """
    return [1.0 if parse_sections(t, fmt).in_order else 0.0 for t in _texts(completions)]


@_reward(-0.5, 1.0)
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


@_reward(0.0, 1.0, span=lambda cfg: (0.0, 1.0) if cfg.correctness_mode == "binary" else
         (min(cfg.graded_scores), max(cfg.graded_scores)))
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


@_reward(0.0, 1.0)
def number_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the format's answer field holds one parseable number, else 0.

    >>> number_reward(["<answer>1,000</answer>", "<answer>about a thousand</answer>", "1000"])
    [1.0, 0.0, 0.0]
    """
    values = [extract_answer(t, fmt, STRICT_RULES).value for t in _texts(completions)]
    return [1.0 if v is not None and to_number(v) is not None else 0.0 for v in values]


def _reasoning(text: str, fmt) -> str | None:
    return parse_sections(text, fmt).get("reasoning")


def _computes(reasoning: str, value: float, limit: int = 64) -> bool:
    """Whether the reasoning states `value` as a result, right after an `=` (GSM8K `<<a*b=c>>` annotations included).

    Looks only where the answer's digits occur, from the end, where the final result usually is.
    """
    spellings = {format_number(abs(value))}
    if value.is_integer() and abs(value) >= 1000:
        spellings.add(f"{abs(value):,.0f}")  # "1,000" in the reasoning, "1000" in the answer
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


@_reward(0.0, 1.0)
def consistency_reward(completions, fmt=DEFAULT_FORMAT, **kwargs) -> list[float]:
    """1 when the final answer is a result the reasoning computed (`... = N`), else 0.

    >>> consistency_reward(["<reasoning>6*12 = 72 eggs</reasoning><answer>72</answer>",
    ...                     "<reasoning>6*12 = 72 eggs</reasoning><answer>80</answer>"])
    [1.0, 0.0]
    """
    out = []
    for text in _texts(completions):
        reasoning, answer = _reasoning(text, fmt), extract_answer(text, fmt).value
        value = to_number(answer) if answer is not None else None
        out.append(1.0 if reasoning and value is not None and _computes(reasoning, value) else 0.0)
    return out


def _step_ok(lhs: float, rhs: float, decimals: int) -> bool:
    # A stated result may round: "10/3 = 3.33" is right to its two decimals.
    return abs(lhs - rhs) <= 0.5 * 10.0 ** -decimals + 1e-9 * max(1.0, abs(rhs))


@_reward(-0.5, 1.0)
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
        answer = extract_answer(text, fmt).value
        value = to_number(answer) if answer is not None else None
        reaches = ok[-1] and value is not None and math.isclose(steps[-1][1], value, rel_tol=1e-6)
        out.append(0.5 * sum(ok) / len(ok) + 0.5 * reaches - 0.5 * (not all(ok)))
    return out


@_reward(0.0, 1.0)
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
            "pays": (func.__doc__ or "").strip().splitlines()[0],
            "range": "{:g} .. {:g}".format(*func.span(cfg)),
            "default_weight": DEFAULT_REWARD_WEIGHTS.get(name, 0.0),
        }
        for name, func in REWARDS.items()
    ]


def reward_table_markdown() -> str:
    """docs/rewards.md, generated from this module so that it cannot drift from the code."""
    from mathrl.parsing import RULES

    graded = RewardConfig(correctness_mode="graded")
    rows = "\n".join(
        f"| `{r['component']}` | {r['pays'].replace('|', '/')} | {r['range']} | {r['default_weight']:g} |"
        for r in reward_table()
    )
    low, high = combined_reward.span(RewardConfig())
    return f"""# Rewards

Generated by `python -m mathrl.rewards --write-docs` from `mathrl/rewards.py`; a test fails when this file drifts.

| component | pays | range | default weight |
|---|---|---|---|
{rows}

Weight 0.0 keeps a reward as a logged metric. The default combined reward spans {low:g} .. {high:g}. Correctness
outweighs all format rewards together: a correct answer with no format earns more than a perfectly formatted wrong one.

**The answer** is read by `mathrl.parsing.extract_answer`, the same function evaluation uses, trying in order:
{', '.join(f'`{r}`' for r in RULES)}. Answer blocks that disagree (hedging) count as no answer. Graded correctness
pays {', '.join(f'{k} {v:g}' for k, v in zip(('exact', 'within tolerance', 'close', 'wrong'), graded.graded_scores))}
(tolerance {graded.tolerance:g}, close {graded.close_tolerance:g}, both relative). Plain numbers are compared in
Python, and so is LaTeX that is plain arithmetic (`\\sqrt{{16}}`, `2^{{3}}`, `3 \\cdot 4`); only other LaTeX goes to math-verify,
in a worker process killed after `rewards.math_verify_timeout` seconds.

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
