"""Small statistics for evaluation: Wilson intervals, McNemar's and other paired tests, unbiased pass@k, majority vote.

Pure functions on counts and lists (no scipy needed), each with a worked example that runs as a doctest.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
EXACT_MCNEMAR_BELOW = 25  # discordant pairs under which the chi-square approximation is poor; use the exact test


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; stays inside [0, 1] and is sensible at 0/n and n/n.

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    >>> wilson_interval(0, 10)[0]
    0.0
    """
    if n <= 0:
        raise ValueError("a proportion needs n > 0 trials")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie between 0 and n={n}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # Exact bounds at 0/n and n/n: rounding would otherwise leave a 1e-17 that excludes the estimate itself.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def standard_error(p: float, n: int) -> float:
    """Standard error of a proportion p measured on n trials.

    >>> round(standard_error(0.5, 100), 3)
    0.05
    """
    if n <= 0:
        raise ValueError("a standard error needs n > 0 trials")
    return math.sqrt(p * (1 - p) / n)


def standard_error_of_mean(values: Sequence[float]) -> float:
    """Standard error of the mean of `values` (sample standard deviation over sqrt(n)); 0 for fewer than two.

    >>> round(standard_error_of_mean([1.0, 2.0, 3.0, 4.0]), 3)
    0.645
    """
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of k successes in n fair coin flips (doubling the smaller tail).

    >>> round(binomial_two_sided(1, 10), 5)
    0.02148
    >>> binomial_two_sided(5, 10)
    1.0
    """
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar(b: int, c: int) -> dict:
    """McNemar's test for paired right/wrong outcomes; b and c count the pairs that flipped each way.

    Exact binomial under 25 discordant pairs, else chi-square with continuity correction (1 degree of freedom).

    >>> mcnemar(1, 9)
    {'b': 1, 'c': 9, 'method': 'exact binomial', 'statistic': 1, 'p_value': 0.021484375}
    >>> result = mcnemar(10, 30)
    >>> result["method"], result["statistic"], round(result["p_value"], 5)
    ('chi-square, continuity corrected', 9.025, 0.00266)
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    if b + c == 0:
        return {"b": b, "c": c, "method": "no discordant pairs", "statistic": 0, "p_value": 1.0}
    if b + c < EXACT_MCNEMAR_BELOW:
        return {"b": b, "c": c, "method": "exact binomial", "statistic": min(b, c),
                "p_value": binomial_two_sided(min(b, c), b + c)}
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    # The chi-square survival function with one degree of freedom is erfc(sqrt(x / 2)).
    return {"b": b, "c": c, "method": "chi-square, continuity corrected", "statistic": statistic,
            "p_value": math.erfc(math.sqrt(statistic / 2))}


def paired_difference(first: Sequence[bool], second: Sequence[bool]) -> dict:
    """Accuracy difference second - first on the same examples, with a 95% normal interval for paired proportions.

    >>> d = paired_difference([True, False, False, True], [True, True, True, False])
    >>> d["difference"], d["better"], d["worse"]
    (0.25, 2, 1)
    """
    if len(first) != len(second) or not first:
        raise ValueError("paired outcomes need two non-empty lists of the same length")
    n = len(first)
    better = sum(1 for a, b in zip(first, second) if b and not a)
    worse = sum(1 for a, b in zip(first, second) if a and not b)
    difference = (better - worse) / n
    # Variance of a difference of paired proportions: (b + c)/n^2 - (b - c)^2/n^3.
    spread = Z_95 * math.sqrt(max(0.0, (better + worse) / n**2 - (better - worse) ** 2 / n**3))
    return {"n": n, "difference": difference, "interval": (difference - spread, difference + spread),
            "better": better, "worse": worse}


def paired_mean_difference(first: Sequence[float], second: Sequence[float]) -> dict:
    """Mean of second - first over the same examples (e.g. each problem's share of correct samples), with its standard
    error, a 95% normal interval and a two-sided p-value against no change; for paired scores that are not just 0/1.

    >>> d = paired_mean_difference([0.25, 0.5, 0.0, 0.75], [0.5, 0.75, 0.25, 0.75])
    >>> d["difference"], round(d["se"], 4), round(d["p_value"], 4)
    (0.1875, 0.0625, 0.0027)
    """
    if len(first) != len(second) or not first:
        raise ValueError("paired scores need two non-empty lists of the same length")
    changes = [b - a for a, b in zip(first, second)]
    difference, se = statistics.fmean(changes), standard_error_of_mean(changes)
    p_value = math.erfc(abs(difference) / se / math.sqrt(2)) if se > 0 else float(difference == 0)
    return {"n": len(changes), "difference": difference, "se": se,
            "interval": (difference - Z_95 * se, difference + Z_95 * se), "p_value": p_value}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): chance that k of n samples, c of them correct, include a correct one.

    >>> pass_at_k(4, 1, 1)
    0.25
    >>> round(pass_at_k(10, 3, 5), 4)
    0.9167
    """
    if not 0 < k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= samples per question ({n})")
    if not 0 <= c <= n:
        raise ValueError(f"correct samples c={c} must lie between 0 and n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_vote(answers: Iterable[str | None]) -> str | None:
    """The most common non-empty answer; ties go to the one seen first. None when no sample gave an answer.

    >>> majority_vote(["3", None, "4", "4", "3"])
    '3'
    >>> majority_vote([None, None]) is None
    True
    """
    counts = Counter(a for a in answers if a is not None)
    return max(counts, key=counts.__getitem__) if counts else None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default.

    >>> percentile([1, 2, 3, 4, 5], 95)
    4.8
    """
    if not values:
        raise ValueError("a percentile needs at least one value")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
