"""Statistics used by evaluation, checked against published or hand-computed reference values."""

import itertools
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from mathrl import stats


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        (8, 10, 0.4902, 0.9433),  # Wilson's worked example as in Newcombe (1998), case 1 style
        (0, 10, 0.0, 0.2775),  # zero successes: the interval still has width (Wald would give [0, 0])
        (10, 10, 0.7225, 1.0),  # all correct: symmetric to the case above
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998) table I example: 81/263
    ],
)
def test_wilson_interval_matches_references(successes, n, low, high):
    got = stats.wilson_interval(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


@pytest.mark.parametrize("n", [1, 2, 7, 24, 25, 100, 1319])
def test_wilson_interval_agrees_with_scipy_for_every_count(n):
    for successes in range(n + 1) if n <= 100 else (0, 1, 2, n // 2, n - 2, n - 1, n):
        ci = scipy.stats.binomtest(successes, n).proportion_ci(method="wilson")
        assert stats.wilson_interval(successes, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match=r"^a proportion needs n > 0 trials$"):
        stats.wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"^successes=11 must lie between 0 and n=10$"):
        stats.wilson_interval(11, 10)
    with pytest.raises(ValueError, match=r"^successes=-1 must lie between 0 and n=10$"):
        stats.wilson_interval(-1, 10)


@given(st.integers(1, 500), st.data())
def test_wilson_interval_contains_the_estimate(n, data):
    successes = data.draw(st.integers(0, n))
    low, high = stats.wilson_interval(successes, n)
    assert 0 <= low <= successes / n <= high <= 1


@pytest.mark.parametrize(
    "b, c, method, p_value",
    [
        (0, 0, "no discordant pairs", 1.0),
        (1, 9, "exact binomial", 22 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2^10
        (3, 3, "exact binomial", 1.0),  # balanced flips: no evidence either way
        (0, 6, "exact binomial", 2 / 64),  # 2 * (1 / 2^6)
        (10, 30, "chi-square, continuity corrected", 0.0026631),  # chi2 = 9.025; scipy.stats.chi2.sf(9.025, 1)
    ],
)
def test_mcnemar_reference_values(b, c, method, p_value):
    result = stats.mcnemar(b, c)
    assert result["method"] == method
    assert result["p_value"] == pytest.approx(p_value, rel=1e-4)


def test_mcnemar_is_symmetric_in_the_direction_of_flips():
    assert stats.mcnemar(4, 17)["p_value"] == stats.mcnemar(17, 4)["p_value"]


@pytest.mark.parametrize("b", range(0, 41))
def test_mcnemar_agrees_with_scipy_on_both_sides_of_the_switch(b):
    """Exact binomial below 25 discordant pairs, continuity-corrected chi-square from 25 on (the usual rule, e.g.
    Wikipedia's "McNemar's test" and statsmodels' guidance); each checked against scipy, so moving the switch by one pair
    or getting either formula wrong fails here."""
    for c in (0, 1, 5, 12, 24 - b, 25 - b, 40):
        if c < 0 or b + c == 0:
            continue
        result = stats.mcnemar(b, c)
        if b + c < 25:
            method, statistic = "exact binomial", min(b, c)
            p_value = scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue
        else:
            method, statistic = "chi-square, continuity corrected", (abs(b - c) - 1) ** 2 / (b + c)
            p_value = scipy.stats.chi2.sf(statistic, df=1)
        assert result.pop("method") == method
        assert result == pytest.approx({"b": b, "c": c, "statistic": statistic, "p_value": p_value}, rel=1e-9)


def test_mcnemar_switches_to_chi_square_at_exactly_25_discordant_pairs():
    assert stats.mcnemar(12, 12)["method"] == "exact binomial"  # 24 pairs
    assert stats.mcnemar(12, 13)["method"] == "chi-square, continuity corrected"  # 25 pairs
    assert stats.mcnemar(0, 0) == {"b": 0, "c": 0, "method": "no discordant pairs", "statistic": 0, "p_value": 1.0}


@pytest.mark.parametrize("b, c", [(-1, 5), (5, -1)])
def test_mcnemar_rejects_negative_counts(b, c):
    with pytest.raises(ValueError, match=r"^discordant counts must be non-negative$"):
        stats.mcnemar(b, c)


@pytest.mark.parametrize("k, n", [(0, 1), (1, 10), (9, 10), (10, 10), (3, 7), (4, 7), (12, 30), (18, 30)])
def test_binomial_two_sided_agrees_with_scipy_from_either_tail(k, n):
    assert stats.binomial_two_sided(k, n) == pytest.approx(scipy.stats.binomtest(k, n, 0.5).pvalue, rel=1e-12)


def test_paired_difference_matches_agrestis_presidential_approval_example():
    """Agresti, Categorical Data Analysis (2nd ed.), section 10.1: 1600 people asked twice; 794 approve both times,
    150 approve then disapprove, 86 disapprove then approve, 570 disapprove both times. The approval rate falls by
    0.04 with a standard error of 0.0095 and a 95% interval of about (-0.06, -0.02)."""
    first = [True] * 794 + [True] * 150 + [False] * 86 + [False] * 570
    second = [True] * 794 + [False] * 150 + [True] * 86 + [False] * 570
    result = stats.paired_difference(first, second)
    assert (result["n"], result["better"], result["worse"]) == (1600, 86, 150)
    assert result["difference"] == pytest.approx(-0.04)
    low, high = result["interval"]
    assert (high - low) / 2 / 1.959964 == pytest.approx(0.0095, abs=5e-5)
    assert (round(low, 2), round(high, 2)) == (-0.06, -0.02)


@pytest.mark.parametrize("better, worse, same", [(3, 1, 2), (30, 0, 10), (0, 7, 3), (5, 5, 0), (1, 0, 0), (0, 0, 4)])
def test_paired_difference_interval_is_the_normal_interval_of_the_per_example_changes(better, worse, same):
    """The paired difference is the mean of per-example changes in {-1, 0, 1}; its standard error is their population
    standard deviation over sqrt(n) (numpy), which is Agresti's (b + c)/n^2 - (b - c)^2/n^3 written another way."""
    first = [False] * better + [True] * worse + [True] * same
    second = [True] * better + [False] * worse + [True] * same
    result = stats.paired_difference(first, second)
    changes = np.array(second, dtype=float) - np.array(first, dtype=float)
    half = 1.959963984540054 * changes.std() / math.sqrt(len(changes))
    assert result["difference"] == pytest.approx(changes.mean())
    assert result["interval"] == pytest.approx((changes.mean() - half, changes.mean() + half), abs=1e-12)


def test_paired_difference_rejects_unpaired_or_empty_lists():
    with pytest.raises(ValueError, match=r"^paired outcomes need two non-empty lists of the same length$"):
        stats.paired_difference([True], [True, False])
    with pytest.raises(ValueError, match=r"^paired outcomes need two non-empty lists of the same length$"):
        stats.paired_difference([], [])


def test_paired_mean_difference_by_hand():
    before, after = [0.0, 0.5, 0.25, 0.25, 0.75], [0.5, 0.25, 0.5, 0.75, 0.75]
    result = stats.paired_mean_difference(before, after)
    se = math.sqrt(0.425 / 4 / 5)  # changes 0.5, -0.25, 0.25, 0.5, 0: squared deviations from 0.2 sum to 0.425
    assert result["difference"] == pytest.approx(0.2) and result["se"] == pytest.approx(se)
    assert result["p_value"] == pytest.approx(math.erfc(0.2 / se / math.sqrt(2)))
    assert result["interval"] == pytest.approx((0.2 - 1.959964 * se, 0.2 + 1.959964 * se))
    reverse = stats.paired_mean_difference(after, before)
    assert (reverse["difference"], reverse["p_value"]) == (pytest.approx(-0.2), pytest.approx(result["p_value"]))


def test_paired_mean_difference_agrees_with_scipys_standard_error_of_the_changes():
    rng = np.random.default_rng(0)
    before, after = rng.random(40), rng.random(40)
    result = stats.paired_mean_difference(list(before), list(after))
    changes = after - before
    se = scipy.stats.sem(changes)
    assert result["n"] == 40
    assert (result["difference"], result["se"]) == (pytest.approx(changes.mean()), pytest.approx(se))
    # A normal test on the mean change: two-sided tail of the standard normal at |mean| / se.
    assert result["p_value"] == pytest.approx(2 * scipy.stats.norm.sf(abs(changes.mean()) / se))


def test_paired_mean_difference_agrees_with_flips_on_right_and_wrong():
    before, after = [1, 1, 0, 0, 0, 1], [1, 0, 1, 1, 1, 1]
    flips = stats.paired_difference([bool(x) for x in before], [bool(x) for x in after])
    assert stats.paired_mean_difference(before, after)["difference"] == pytest.approx(flips["difference"])
    assert stats.paired_mean_difference(before, before)["p_value"] == 1.0
    with pytest.raises(ValueError, match=r"^paired scores need two non-empty lists of the same length$"):
        stats.paired_mean_difference([0.5], [0.5, 1.0])


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (1, 1, 1, 1.0),
        (4, 1, 1, 0.25),  # pass@1 is the fraction correct
        (4, 1, 4, 1.0),  # all samples drawn: one is correct
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (10, 0, 10, 0.0),
    ],
)
def test_pass_at_k_unbiased_estimator(n, c, k, expected):
    assert stats.pass_at_k(n, c, k) == pytest.approx(expected)


def _pass_at_k_by_enumeration(n: int, c: int, k: int) -> float:
    """The share of all k-subsets of n samples (the first c correct) that hold a correct one: the definition itself."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_equals_the_share_of_subsets_with_a_correct_sample(n):
    for c in range(n + 1):
        for k in range(1, n + 1):  # includes n - c == k, where exactly one subset has no correct sample
            assert stats.pass_at_k(n, c, k) == pytest.approx(_pass_at_k_by_enumeration(n, c, k), abs=1e-12)


@pytest.mark.parametrize("n, c, k, message", [
    (4, 1, 8, r"^pass@8 needs 1 <= k <= samples per question \(4\)$"),
    (4, 1, 0, r"^pass@0 needs 1 <= k <= samples per question \(4\)$"),
    (4, 5, 1, r"^correct samples c=5 must lie between 0 and n=4$"),
    (4, -1, 1, r"^correct samples c=-1 must lie between 0 and n=4$"),
])
def test_pass_at_k_rejects_impossible_arguments(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        stats.pass_at_k(n, c, k)


@given(st.integers(1, 30), st.data())
def test_pass_at_k_grows_with_k(n, data):
    c = data.draw(st.integers(0, n))
    values = [stats.pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))
    assert values[0] == pytest.approx(c / n)


def test_majority_vote_ignores_missing_answers_and_breaks_ties_by_first_seen():
    assert stats.majority_vote([None, "7", "5", "5", None, None]) == "5"
    assert stats.majority_vote(["2", "1", "1", "2"]) == "2"
    assert stats.majority_vote([]) is None


def test_percentile_interpolates_like_numpy():
    assert stats.percentile([10], 95) == 10
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile(list(range(101)), 95) == pytest.approx(95)
    values = [3.5, 1.0, 9.0, 4.0, 7.25]
    for q in (0, 10, 25, 50, 75, 90, 99, 100):
        assert stats.percentile(values, q) == pytest.approx(np.percentile(values, q))
    with pytest.raises(ValueError, match=r"^a percentile needs at least one value$"):
        stats.percentile([], 50)


def test_standard_errors_agree_with_the_textbook_formula_and_scipy():
    assert math.isclose(stats.standard_error(0.2, 400), 0.02)
    assert stats.standard_error(0.5, 1) == 0.5  # one trial: sqrt(p(1 - p))
    with pytest.raises(ValueError, match=r"^a standard error needs n > 0 trials$"):
        stats.standard_error(0.5, 0)
    for values in ([1.0, 2.0], [0.5, 0.25, 1.0], [2.0, 2.0, 2.0, 5.0]):
        assert stats.standard_error_of_mean(values) == pytest.approx(scipy.stats.sem(values))
    assert stats.standard_error_of_mean([3.0]) == 0.0  # one value: no spread to measure
    assert stats.standard_error_of_mean([]) == 0.0
