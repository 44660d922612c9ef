"""krypto.evaluation.verdicts: the rule (Welch's or a one-sample t-test over seeds, Holm's
adjustment over the comparisons decided together, p < 0.05) on constructed values."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from krypto.evaluation import verdicts as V

LOW = [0.10, 0.11, 0.12]
HIGH = [0.30, 0.31, 0.29]


def test_the_rule_is_stated_once_in_the_module_docstring():
    assert V.RULE.startswith("Two configurations differ on a metric when the p-value of their")
    assert "Holm's method" in V.RULE and "one-sample t-test" in V.RULE
    assert V.ALPHA == 0.05 and V.NO_CLEAR == "undecided" and V.DECIMALS == 3


def test_clear_difference():
    v = V.compare(LOW, HIGH)
    assert v.lower == "a"
    assert v.p_value == pytest.approx(stats.ttest_ind(LOW, HIGH, equal_var=False).pvalue)
    assert v.p_value < 0.05
    assert v.a_mean == pytest.approx(0.11) and v.b_mean == pytest.approx(0.30)
    assert v.a_std == pytest.approx(0.01) and v.b_std == pytest.approx(0.01)
    assert (v.n_a, v.n_b) == (3, 3)
    assert v.short() == "lower, -0.190 [-0.213, -0.167] (p < 0.001)"
    flipped = V.compare(HIGH, LOW)
    assert flipped.lower == "b" and flipped.short().startswith("higher")
    assert flipped.p_value == pytest.approx(v.p_value)


def test_overlapping_seeds_are_undecided():
    v = V.compare([0.10, 0.20, 0.15], [0.12, 0.18, 0.16])
    assert v.lower is None
    assert v.p_value is not None and v.p_value >= 0.05
    assert v.short().startswith("undecided, -0.003 [-0.105, +0.099] (p = ")


def test_a_gap_below_the_spread_is_undecided_even_with_different_means():
    a, b = [0.05, 0.15, 0.10], [0.09, 0.19, 0.14]  # means 0.10 vs 0.14, std 0.05 each
    v = V.compare(a, b)
    assert v.a_mean < v.b_mean and v.lower is None


@pytest.mark.parametrize(
    "a, b",
    [([0.1, 0.1, 0.1], [0.1, 0.1, 0.1]), ([0.0, 0.0], [0.0, 0.0, 0.0]), ([0.0] * 3, [0.5] * 3)],
)
def test_two_single_models_are_never_tested(a, b):
    v = V.compare(a, b)
    assert v.lower is None and v.p_value is None
    assert v.reason == "one model each: no test"


def test_identical_samples_with_spread_are_undecided():
    v = V.compare([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert v.lower is None and v.p_value == pytest.approx(1.0)


def test_a_single_model_is_one_fixed_value_not_three_seeds():
    """Identical seeds are one model: the others are tested against its value (one-sample)."""
    one = [0.25, 0.25, 0.25]
    v = V.compare(one, LOW)
    assert v.lower == "b"
    assert v.p_value == pytest.approx(stats.ttest_1samp(LOW, 0.25).pvalue)
    assert V.single_model(one) and not V.single_model(LOW) and not V.single_model([0.2])


@pytest.mark.parametrize(
    "a, b", [([0.1], [0.5]), ([0.1], [0.5, 0.6, 0.7]), ([0.1, 0.2, 0.1], [0.5]), ([], [0.1, 0.2])]
)
def test_fewer_than_two_seeds_give_no_verdict(a, b):
    v = V.compare(a, b)
    assert v.lower is None and v.p_value is None
    n = min(len(a), len(b))
    assert v.reason == f"{n} seed{'s' if n != 1 else ''}: no test"


# --- deciding together -------------------------------------------------------------------


def _three():
    return [
        V.compare(LOW, HIGH),  # p < 0.001
        V.compare(LOW, [0.13, 0.15, 0.12]),  # p about 0.10
        V.compare(LOW, [0.14, 0.16, 0.15]),  # p about 0.02
    ]


def test_holm_adjusts_over_the_family_and_decides_on_the_adjusted_p():
    alone = _three()
    together, family = V.decided_together(_three)
    raw = sorted(v.p_value for v in alone)
    assert len(family.p_values) == 3 and sorted(family.p_values.values()) == pytest.approx(raw)
    holm = [min(1, 3 * raw[0])]
    holm += [max(holm[-1], min(1, 2 * raw[1])), max(max(holm[-1], min(1, 2 * raw[1])), raw[2])]
    by_p = {v.p_value: v for v in together}
    assert [by_p[p].p_adjusted for p in raw] == pytest.approx(holm)
    assert all(v.family_size == 3 for v in together)
    decided = [v.lower is not None for v in together]
    assert decided == [p < 0.05 for p in (v.p_adjusted for v in together)]
    # p about 0.02 alone is a difference; adjusted over 3 (x2) it is one no longer
    third_alone, third = alone[2], together[2]
    assert third_alone.p_value < 0.05 and third_alone.lower is not None
    assert third.p_adjusted == pytest.approx(max(holm[0], 2 * third.p_value))
    assert (third.lower is not None) == (third.p_adjusted < 0.05)
    assert "Holm over 3: adjusted p" in third.reason


def test_the_same_comparison_twice_counts_once():
    def twice():
        return [V.compare(LOW, HIGH), V.compare(HIGH, LOW), V.compare(LOW, [0.14, 0.16, 0.15])]

    (_, _, last), family = V.decided_together(twice)
    assert len(family.p_values) == 2 and last.family_size == 2


def test_the_replication_rule_is_one_sided_and_unadjusted():
    b = [0.13, 0.15, 0.12]  # two-sided p about 0.10: one-sided about 0.05
    p = stats.ttest_ind(LOW, b, equal_var=False).pvalue
    with V.replication_rule():
        v = V.compare(LOW, b)
        together, family = V.decided_together(lambda: V.compare(LOW, b))
    assert (v.lower is not None) == (p / 2 < 0.05) and v.reason.startswith("one-sided p")
    assert together.lower == v.lower and family.replication and v.p_adjusted is None
    assert V.compare(LOW, b).lower is None  # outside: two-sided


def test_one_seed_has_a_mean_and_no_std():
    v = V.compare([0.1], [0.5])
    assert v.a_mean == 0.1 and v.a_std is None
    assert V.format_mean_std(v.a_mean, v.a_std) == "0.100"


def test_missing_and_non_finite_values_are_dropped():
    v = V.compare([0.1, None, float("nan"), 0.11, 0.12], HIGH)
    assert v.n_a == 3 and v.lower == "a"


def test_ratio_of():
    assert V.ratio_of(0.4, 0.1) == pytest.approx(4.0)
    assert V.ratio_of(0.4, 0.0) == math.inf
    assert V.ratio_of(0.0, 0.0) is None


def test_verdict_round_trips_through_json():
    v = V.compare(LOW, HIGH)
    data = json.loads(json.dumps(v.to_dict()))
    assert data["lower"] == "a" and data["a_mean"] == pytest.approx(0.11)
    assert V.Verdict.from_dict(data) == v


# --- lowest ------------------------------------------------------------------------------


def test_lowest_clear():
    low = V.lowest({"b": HIGH, "a": LOW, "c": [0.5, 0.52, 0.51]})
    assert low.name == "a" and low.clear and low.ties == []
    assert set(low.versus) == {"b", "c"} and all(v.lower == "a" for v in low.versus.values())
    assert low.mean == pytest.approx(0.11) and low.std == pytest.approx(0.01) and low.n == 3
    assert low.sentence() == (
        "Lowest mean combined `eer`: **a** (0.110 ± 0.010), clearly lower than every other one."
    )


def test_lowest_names_the_ones_it_cannot_be_told_from():
    low = V.lowest(
        {"a": [0.10, 0.20, 0.15], "b": [0.12, 0.18, 0.17], "c": HIGH, "d": [0.14, 0.16, 0.15]}
    )
    assert low.name == "a" and not low.clear
    assert low.ties == ["b", "d"]
    assert "but undecided from b and d." in low.sentence()
    assert "`eer_fake`" in low.sentence("eer_fake")


def test_lowest_with_one_seed_is_never_clear():
    low = V.lowest({"a": [0.1], "b": [0.5]})
    assert low.name == "a" and not low.clear and low.ties == ["b"]
    assert low.sentence().endswith("but undecided from b (no test possible).")


def test_lowest_of_equal_means_is_the_first_and_not_clear():
    low = V.lowest({"x": [0.1, 0.1], "y": [0.1, 0.1]})
    assert low.name == "x" and not low.clear and low.ties == ["y"]


def test_lowest_of_one_configuration_and_of_none():
    low = V.lowest({"only": LOW})
    assert low.clear and low.sentence().endswith("the only one.")
    with pytest.raises(ValueError):
        V.lowest({"a": [], "b": [None]})
    assert V.lowest({"a": [], "b": LOW}).name == "b"  # without values: left out


def test_lowest_round_trips_through_json():
    low = V.lowest({"a": LOW, "b": HIGH, "c": [0.1, 0.2, 0.15]})
    back = V.LowestVerdict.from_dict(json.loads(json.dumps(low.to_dict())))
    assert back == low and back.sentence() == low.sentence()


def test_join_names():
    assert V.join_names([]) == "" and V.join_names(["a"]) == "a"
    assert V.join_names(["a", "b", "c"]) == "a, b and c"


def test_format_p():
    assert V.format_p(None) == "no test" and V.format_p(0.0004) == "p < 0.001"
    assert V.format_p(0.0123) == "p = 0.012" and V.format_p(0.31) == "p = 0.310"
    assert V.format_p(0.04996) == "p < 0.05"  # not "p = 0.050" for a clear difference
    assert V.format_p(0.05) == "p = 0.050"


def test_each_comparison_states_the_difference_with_its_95_percent_interval():
    a, b = [0.030, 0.035, 0.041], [0.060, 0.071, 0.065]
    v = V.compare(a, b)
    welch = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert v.interval == pytest.approx((welch.low, welch.high))
    low, high = v.interval
    assert low < v.a_mean - v.b_mean < high
    assert (high < 0) == (v.p_value < 0.05)  # the interval excludes 0 exactly when p < 0.05
    assert v.short().startswith(f"lower, {v.a_mean - v.b_mean:+.3f} [{low:+.3f}, {high:+.3f}]")
    # against a single model, the one-sample interval of the other side, signed as a - b
    fixed, varying = [0.05, 0.05, 0.05], [0.060, 0.071, 0.065]
    one = stats.ttest_1samp(varying, 0.05).confidence_interval(0.95)
    assert V.compare(fixed, varying).interval == pytest.approx((0.05 - one.high, 0.05 - one.low))
    assert V.compare(varying, fixed).interval == pytest.approx((one.low - 0.05, one.high - 0.05))
    # no test, no interval; and it survives results.json
    assert V.compare([0.1], [0.2, 0.3]).interval is None
    assert V.Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
