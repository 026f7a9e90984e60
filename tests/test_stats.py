"""Statistics used by evaluation, checked against published or hand-computed reference values."""

import math

import pytest
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


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n > 0"):
        stats.wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and n"):
        stats.wilson_interval(11, 10)


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


def test_paired_difference_counts_flips_and_brackets_the_difference():
    before = [True, True, False, False, False, True]
    after = [True, False, True, True, True, True]
    result = stats.paired_difference(before, after)
    assert (result["better"], result["worse"], result["n"]) == (3, 1, 6)
    low, high = result["interval"]
    assert result["difference"] == pytest.approx(2 / 6)
    assert low < result["difference"] < high


def test_paired_mean_difference_by_hand():
    before, after = [0.0, 0.5, 0.25, 0.25, 0.75], [0.5, 0.25, 0.5, 0.75, 0.75]
    result = stats.paired_mean_difference(before, after)
    se = math.sqrt(0.425 / 4 / 5)  # changes 0.5, -0.25, 0.25, 0.5, 0: squared deviations from 0.2 sum to 0.425
    assert result["difference"] == pytest.approx(0.2) and result["se"] == pytest.approx(se)
    assert result["p_value"] == pytest.approx(math.erfc(0.2 / se / math.sqrt(2)))
    assert result["interval"] == pytest.approx((0.2 - 1.959964 * se, 0.2 + 1.959964 * se))
    reverse = stats.paired_mean_difference(after, before)
    assert (reverse["difference"], reverse["p_value"]) == (pytest.approx(-0.2), pytest.approx(result["p_value"]))


def test_paired_mean_difference_agrees_with_flips_on_right_and_wrong():
    before, after = [1, 1, 0, 0, 0, 1], [1, 0, 1, 1, 1, 1]
    flips = stats.paired_difference([bool(x) for x in before], [bool(x) for x in after])
    assert stats.paired_mean_difference(before, after)["difference"] == pytest.approx(flips["difference"])
    assert stats.paired_mean_difference(before, before)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same length"):
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


def test_pass_at_k_rejects_k_above_samples():
    with pytest.raises(ValueError, match="k <= samples"):
        stats.pass_at_k(4, 1, 8)


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
    assert math.isclose(stats.standard_error(0.2, 400), 0.02)
