"""Verdicts between configurations trained with several seeds, by one rule used everywhere
(:data:`RULE`). The comparisons stated together (a notebook's table, the README's every verdict)
are decided together (:func:`decided_together`); a reproduction tests each claim alone
(:func:`replication_rule`). Verdicts go to results.json as plain dicts (``to_dict``)."""

import contextlib
import contextvars
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeVar

import numpy as np
from scipy import stats

ALPHA = 0.05  # the family-wise error rate of the rule
NO_CLEAR = "undecided"
DECIMALS = 3  # the held-out EERs are resolved to 1/1500 per kind: 3 decimals
# The rule in words, as the README renders it.
RULE = (
    f"Two configurations differ on a metric when the p-value of their comparison over the per-seed "
    f"test values (Welch's t-test; a one-sample t-test against a configuration that is a single "
    f"model), adjusted by Holm's method over every comparison stated together, is below {ALPHA:g}; "
    f"otherwise the comparison is {NO_CLEAR}. Two single models, or fewer than 2 seeds on either "
    f"side, are never tested. Each comparison states its effect: the difference of the means with "
    f"its 95% confidence interval (of the same t-test, not adjusted)."
)
A, B = "a", "b"
T = TypeVar("T")


@dataclass
class Family:
    """The distinct comparisons decided together: their raw p-values, keyed by the two
    configurations' values (the same two count once); with ``replication``, none is adjusted."""

    p_values: dict = field(default_factory=dict)
    replication: bool = False

    def adjusted(self, p: float) -> float:
        """Holm's adjusted p-value of ``p``, one of the family's: the largest ``(m - j) p_(j)``
        (capped at 1) over the family's sorted p-values up to ``p``."""
        ordered = sorted(self.p_values.values())
        return min(1.0, max((len(ordered) - j) * q for j, q in enumerate(ordered) if q <= p))


_FAMILY: contextvars.ContextVar[Family | None] = contextvars.ContextVar("family", default=None)


@contextlib.contextmanager
def _in_family(family: Family) -> Iterator[Family]:
    token = _FAMILY.set(family)
    try:
        yield family
    finally:
        _FAMILY.reset(token)


def decided_together(compute: Callable[[], T]) -> tuple[T, Family]:
    """``compute()`` run twice: once collecting the p-value of every :func:`compare` it makes,
    then again deciding each by Holm's adjustment over all of them; its second result and the
    family. Within :func:`replication_rule`, run once under that rule."""
    outer = _FAMILY.get()
    if outer is not None and outer.replication:  # each claim tested alone: no family
        return compute(), outer
    with _in_family(Family()) as collecting:
        compute()
    with _in_family(Family(dict(collecting.p_values))) as family:
        return compute(), family


def replication_rule() -> contextlib.AbstractContextManager[Family]:
    """Within: each comparison decided as the replication of a stated claim (the observed
    direction, one-sided p < :data:`ALPHA`, i.e. two-sided p < 2 :data:`ALPHA`; no adjustment)."""
    return _in_family(Family(replication=True))


def finite_values(values: Iterable) -> list[float]:
    """``values`` as floats, without missing, NaN or infinite ones."""
    out = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def mean_std(values: Iterable) -> tuple[float | None, float | None]:
    """Mean and std (ddof=1) of the finite ``values``; None if undefined (no value; std of one)."""
    v = finite_values(values)
    if len(v) < 2:
        return (v[0] if v else None), None
    if np.ptp(v) == 0:  # exactly: no rounding noise for equal values
        return v[0], 0.0
    return float(np.mean(v)), float(np.std(v, ddof=1))


def single_model(values: Sequence[float]) -> bool:
    """Several seeds with identical values: one model (its seeds never left their start)."""
    return len(values) >= 2 and bool(np.ptp(values) == 0)


def ratio_of(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``: inf when only the denominator is 0, None when both are."""
    if denominator == 0:
        return None if numerator == 0 else math.inf
    return numerator / denominator


def format_p(p: float | None) -> str:
    """``p = 0.012``, ``p < 0.001``; ``p < 0.05`` if under ALPHA but 3 decimals round it up."""
    if p is None:
        return "no test"
    if p < 0.001:
        return "p < 0.001"
    if p < ALPHA <= round(p, 3):
        return f"p < {ALPHA:g}"
    return f"p = {p:.3f}"


def format_mean_std(mean: float | None, std: float | None) -> str:
    """``0.123 ± 0.006`` (:data:`DECIMALS`); the mean alone for one seed; ``-`` for none."""
    if mean is None:
        return "-"
    return f"{mean:.{DECIMALS}f}" + ("" if std is None else f" ± {std:.{DECIMALS}f}")


@dataclass(frozen=True)
class Verdict:
    """The rule applied to two configurations ``a`` and ``b`` on one metric: ``lower``, ``"a"`` or
    ``"b"`` (the lower mean) when they differ, else None; ``p_value`` two-sided, ``p_adjusted``
    Holm's over ``family_size`` comparisons (None outside a family); ``reason`` in words."""

    a_mean: float | None
    b_mean: float | None
    a_std: float | None
    b_std: float | None
    n_a: int
    n_b: int
    p_value: float | None
    lower: str | None
    reason: str
    p_adjusted: float | None = None
    family_size: int | None = None
    interval: tuple[float, float] | None = None  # 95% confidence interval of a_mean - b_mean

    def effect(self) -> str:
        """``-0.036 [-0.052, -0.020]``: mean(a) - mean(b) and its 95% CI; empty without a test."""
        if self.interval is None or None in (self.a_mean, self.b_mean):
            return ""
        low, high = self.interval
        spec = f"+.{DECIMALS}f"
        return f"{self.a_mean - self.b_mean:{spec}} [{low:{spec}}, {high:{spec}}]"

    def short(self) -> str:
        """``a`` against ``b``: ``lower, -0.036 [-0.052, -0.020] (p = 0.003)``, ``undecided,
        +0.004 [-0.010, +0.018] (p = 0.310)``, ``undecided (one model each: no test)``."""
        effect = self.effect()
        word = {A: "lower", B: "higher", None: NO_CLEAR}[self.lower]
        return f"{word}{', ' + effect if effect else ''} ({self.reason})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Verdict":
        found = {k: values.get(k) for k in cls.__dataclass_fields__}
        if found["interval"] is not None:
            found["interval"] = tuple(found["interval"])
        return cls(**found)


def _t_test(a: list[float], b: list[float]) -> tuple[float, tuple[float, float]]:
    """The two-sided p-value and the 95% confidence interval of ``mean(a) - mean(b)``, for two
    sides of which at most one is a single model (then a fixed value to test the other
    against): Welch's t-test, or a one-sample t-test."""
    if single_model(a) or single_model(b):
        fixed, varying, sign = (a[0], b, -1) if single_model(a) else (b[0], a, 1)
        result = stats.ttest_1samp(varying, fixed)
        low, high = (sign * (v - fixed) for v in result.confidence_interval(1 - ALPHA))
        return float(result.pvalue), (float(min(low, high)), float(max(low, high)))
    result = stats.ttest_ind(a, b, equal_var=False)
    low, high = result.confidence_interval(1 - ALPHA)
    return float(result.pvalue), (float(low), float(high))


def compare(a_values: Sequence, b_values: Sequence) -> Verdict:
    """The rule between the per-seed values of two configurations (non-finite values dropped),
    decided on the p-value alone, or on its adjustment within :func:`decided_together`, or on
    the one-sided p-value within :func:`replication_rule`."""
    a, b = finite_values(a_values), finite_values(b_values)
    (a_mean, a_std), (b_mean, b_std) = mean_std(a), mean_std(b)
    common = dict(a_mean=a_mean, b_mean=b_mean, a_std=a_std, b_std=b_std, n_a=len(a), n_b=len(b))
    if min(len(a), len(b)) < 2 or (single_model(a) and single_model(b)):
        n = min(len(a), len(b))
        why = f"{n} seed{'s' if n != 1 else ''}: no test" if n < 2 else "one model each: no test"
        return Verdict(**common, p_value=None, lower=None, reason=why)
    with warnings.catch_warnings():  # nearly identical values: scipy warns, the p stands
        warnings.simplefilter("ignore", RuntimeWarning)
        p, interval = _t_test(a, b)
    if not math.isfinite(p):
        return Verdict(**common, p_value=None, lower=None, reason="identical values")
    common["interval"] = interval if all(map(math.isfinite, interval)) else None
    family = _FAMILY.get()
    decided_on, reason = p, format_p(p)
    if family is not None and family.replication:
        decided_on, reason = p / 2, f"one-sided {format_p(p / 2)}"
    elif family is not None:
        family.p_values[tuple(sorted((tuple(a), tuple(b))))] = p
        decided_on = family.adjusted(p)
        size = len(family.p_values)
        common.update(p_adjusted=decided_on, family_size=size)
        reason = f"{format_p(p)}; Holm over {size}: adjusted {format_p(decided_on)}"
    lower = (A if a_mean < b_mean else B) if decided_on < ALPHA and a_mean != b_mean else None
    return Verdict(**common, p_value=p, lower=lower, reason=reason)


@dataclass(frozen=True)
class LowestVerdict:
    """The configuration with the lowest mean, and whether it is clearly lowest (it differs,
    by the rule, from every other one); ``ties`` are the ones it cannot be told from;
    ``versus``: its :class:`Verdict` (it as ``a``) against each other one."""

    name: str
    mean: float | None
    std: float | None
    n: int
    clear: bool
    ties: list[str] = field(default_factory=list)
    versus: dict[str, Verdict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "versus": {k: v.to_dict() for k, v in self.versus.items()}}

    @classmethod
    def from_dict(cls, values: dict) -> "LowestVerdict":
        versus = {k: Verdict.from_dict(v) for k, v in values["versus"].items()}
        return cls(**{**values, "versus": versus})

    def sentence(self, metric: str = "eer") -> str:
        """E.g. ``Lowest mean combined `eer`: **nose** (0.063 ± 0.003), clearly lower than every
        other one.`` or ``..., but undecided from mouth and no cutout.``"""
        what = "combined `eer`" if metric == "eer" else f"`{metric}`"
        head = f"Lowest mean {what}: **{self.name}** ({format_mean_std(self.mean, self.std)})"
        if not self.versus:
            return f"{head}, the only one."
        if self.clear:
            return f"{head}, clearly lower than every other one."
        tail = f", but {NO_CLEAR} from {join_names(self.ties)}"
        if self.ties and all(self.versus[n].p_value is None for n in self.ties):
            tail += " (no test possible)"
        return head + tail + "."


def lowest(table_values: dict[str, Sequence]) -> LowestVerdict:
    """:class:`LowestVerdict` of ``{name: per-seed values}``: the lowest mean (the first of equal
    ones), ``ties`` naming the ones it cannot be told from by the rule. Configurations without a
    finite value are left out; a ``ValueError`` when none has one."""
    means = {name: mean_std(values)[0] for name, values in table_values.items()}
    means = {name: m for name, m in means.items() if m is not None}
    if not means:
        raise ValueError("no configuration has a value")
    best = min(means, key=means.get)
    versus = {n: compare(table_values[best], table_values[n]) for n in means if n != best}
    ties = [name for name, verdict in versus.items() if verdict.lower != A]
    mean, std = mean_std(table_values[best])
    n = len(finite_values(table_values[best]))
    return LowestVerdict(best, mean, std, n, clear=not ties, ties=ties, versus=versus)


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
