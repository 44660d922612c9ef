"""Verdicts between configurations trained with several seeds, by one rule used everywhere.

Two configurations differ on a metric when Welch's t-test over their per-seed values gives
p < 0.05; otherwise (and always with fewer than 2 seeds on either side, or identical values)
there is no clear difference.

Welch's t-test is :func:`scipy.stats.ttest_ind` with ``equal_var=False`` (two-sided). When
neither configuration varies over its seeds the statistic is infinite for different means (p =
0) and undefined for equal ones (no verdict). :func:`compare` gives the verdict between two
configurations, :func:`lowest` the configuration with the lowest mean and whether it is clearly
lowest; both come back as plain dicts (``to_dict``/``from_dict``) for results.json, and their
``sentence`` methods are the wording the notebooks and the report share.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

ALPHA = 0.05  # the significance level of the rule
MIN_SEEDS = 2  # fewer seeds on either side: no verdict
NO_CLEAR = "no clear difference"
# The rule in the one sentence of the docstring above, as the README renders it.
RULE = (
    f"Two configurations differ on a metric when Welch's t-test over their per-seed values "
    f"gives p < {ALPHA:g}; otherwise (and always with fewer than {MIN_SEEDS} seeds on either "
    f"side, or identical values) there is {NO_CLEAR}."
)

A, B = "a", "b"


def finite_values(values: Iterable) -> list[float]:
    """``values`` as floats, without missing, NaN or infinite ones."""
    out = []
    for value in values if values is not None else ():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out.append(number)
    return out


def mean_std(values: Iterable) -> tuple[float | None, float | None]:
    """Mean and standard deviation (ddof=1) of the finite ``values``; None where undefined (no
    value; one value for the std)."""
    v = finite_values(values)
    if not v:
        return None, None
    if len(v) == 1:
        return v[0], None
    if np.ptp(v) == 0:  # exactly: no rounding noise for equal values
        return v[0], 0.0
    return float(np.mean(v)), float(np.std(v, ddof=1))


def format_p(p: float | None) -> str:
    """A p-value as the text shows it: ``p = 0.012``, ``p < 0.001``; ``p < 0.05`` for one
    just under :data:`ALPHA` that 3 decimals would round up to it."""
    if p is None:
        return "no test"
    if p < 0.001:
        return "p < 0.001"
    if p < ALPHA <= round(p, 3):
        return f"p < {ALPHA:g}"
    return f"p = {p:.3f}"


def format_mean_std(mean: float | None, std: float | None, decimals: int = 4) -> str:
    """``0.1234 ± 0.0056``; the mean alone for one seed; ``-`` for none."""
    if mean is None:
        return "-"
    return f"{mean:.{decimals}f}" + ("" if std is None else f" ± {std:.{decimals}f}")


@dataclass(frozen=True)
class Verdict:
    """The rule applied to two configurations ``a`` and ``b`` on one metric.

    ``lower`` is ``"a"`` or ``"b"`` when they differ (the one with the lower mean), None for no
    clear difference; ``reason`` says why (the p-value, too few seeds, identical values)."""

    a_mean: float | None
    b_mean: float | None
    a_std: float | None
    b_std: float | None
    n_a: int
    n_b: int
    p_value: float | None
    lower: str | None
    reason: str

    @property
    def too_few_seeds(self) -> bool:
        return min(self.n_a, self.n_b) < MIN_SEEDS

    @property
    def differ(self) -> bool:
        return self.lower is not None

    @property
    def gap(self) -> float | None:
        """``a_mean - b_mean`` (positive: ``a`` is higher)."""
        if self.a_mean is None or self.b_mean is None:
            return None
        return self.a_mean - self.b_mean

    @property
    def ratio(self) -> float | None:
        """``a_mean / b_mean``: inf when only ``b_mean`` is 0, None when both are (or missing)."""
        if self.a_mean is None or self.b_mean is None:
            return None
        if self.b_mean == 0:
            return None if self.a_mean == 0 else math.inf
        return self.a_mean / self.b_mean

    def lower_is(self, side: str) -> bool:
        """``side`` (``"a"`` or ``"b"``) is clearly lower by the rule."""
        return self.lower == side

    def short(self) -> str:
        """``a`` against ``b`` in a few words: ``lower (p = 0.003)``, ``higher (p < 0.001)``,
        ``no clear difference (p = 0.310)``, ``no clear difference (1 seed: no test)``."""
        word = {A: "lower", B: "higher", None: NO_CLEAR}[self.lower]
        return f"{word} ({self.reason})"

    def to_dict(self) -> dict:
        return {**asdict(self), "gap": self.gap, "differ": self.differ}

    @classmethod
    def from_dict(cls, values: dict) -> Verdict:
        return cls(**{k: values.get(k) for k in cls.__dataclass_fields__})

    def sentence(self, a_name: str, b_name: str, metric: str) -> str:
        """E.g. ``hard mining is clearly lower than seed on eer (0.0310 ± 0.0020 vs 0.0670 ±
        0.0040, p = 0.003)`` or ``... no clear difference between ...``."""
        numbers = (
            f"{format_mean_std(self.a_mean, self.a_std)} vs "
            f"{format_mean_std(self.b_mean, self.b_std)}, {self.reason}"
        )
        if self.lower is None:
            return f"{NO_CLEAR} between {a_name} and {b_name} on {metric} ({numbers})"
        low, high = (a_name, b_name) if self.lower == A else (b_name, a_name)
        if self.lower == B:
            numbers = (
                f"{format_mean_std(self.b_mean, self.b_std)} vs "
                f"{format_mean_std(self.a_mean, self.a_std)}, {self.reason}"
            )
        return f"{low} is clearly lower than {high} on {metric} ({numbers})"


def compare(a_values: Sequence, b_values: Sequence, alpha: float = ALPHA) -> Verdict:
    """The rule between the per-seed values of two configurations (non-finite values dropped):
    they differ when Welch's t-test gives p < ``alpha``; no verdict with fewer than
    :data:`MIN_SEEDS` values on either side or identical values."""
    a, b = finite_values(a_values), finite_values(b_values)
    a_mean, a_std = mean_std(a)
    b_mean, b_std = mean_std(b)
    common = dict(a_mean=a_mean, b_mean=b_mean, a_std=a_std, b_std=b_std, n_a=len(a), n_b=len(b))
    if len(a) < MIN_SEEDS or len(b) < MIN_SEEDS:
        n = min(len(a), len(b))
        return Verdict(
            **common, p_value=None, lower=None, reason=f"{n} seed{'s' if n != 1 else ''}: no test"
        )
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread on either side: t is 0/0 or infinite
        if a_mean == b_mean:
            return Verdict(**common, p_value=None, lower=None, reason="identical values")
        p = 0.0
    else:
        from scipy import stats

        with warnings.catch_warnings():  # nearly identical values: scipy warns, the p stands
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        if not math.isfinite(p):
            return Verdict(**common, p_value=None, lower=None, reason="identical values")
    if p < alpha and a_mean != b_mean:
        lower = A if a_mean < b_mean else B
        return Verdict(**common, p_value=p, lower=lower, reason=format_p(p))
    return Verdict(**common, p_value=p, lower=None, reason=format_p(p))


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
        return {
            "name": self.name,
            "mean": self.mean,
            "std": self.std,
            "n": self.n,
            "clear": self.clear,
            "ties": list(self.ties),
            "versus": {k: v.to_dict() for k, v in self.versus.items()},
        }

    @classmethod
    def from_dict(cls, values: dict) -> LowestVerdict:
        return cls(
            name=values["name"],
            mean=values.get("mean"),
            std=values.get("std"),
            n=values.get("n") or 0,
            clear=bool(values.get("clear")),
            ties=list(values.get("ties") or []),
            versus={k: Verdict.from_dict(v) for k, v in (values.get("versus") or {}).items()},
        )

    def sentence(self, metric: str = "eer") -> str:
        """E.g. ``Lowest combined `eer`: **nose** (0.0630 ± 0.0030), clearly lower than every
        other one.`` or ``..., but no clear difference from mouth and no cutout.``"""
        what = "combined `eer`" if metric == "eer" else f"`{metric}`"
        head = f"Lowest mean {what}: **{self.name}** ({format_mean_std(self.mean, self.std)})"
        if not self.versus:
            return f"{head}, the only one."
        if self.clear:
            return f"{head}, clearly lower than every other one."
        few = [n for n in self.ties if self.versus[n].too_few_seeds]
        tail = f", but {NO_CLEAR} from {join_names(self.ties)}"
        if few and len(few) == len(self.ties):
            tail += " (too few seeds for a test)"
        return head + tail + "."


def lowest(table_values: dict[str, Sequence], alpha: float = ALPHA) -> LowestVerdict:
    """The configuration of ``{name: per-seed values}`` with the lowest mean, and whether it is
    clearly lowest: it differs from every other one by the rule; else ``ties`` names the ones it
    cannot be told from. Configurations without a finite value are left out; a ``ValueError``
    when none has one."""
    means = {name: mean_std(values)[0] for name, values in table_values.items()}
    means = {name: m for name, m in means.items() if m is not None}
    if not means:
        raise ValueError("no configuration has a value")
    best = min(means, key=means.get)  # the first of equal means, in the table's order
    versus = {
        name: compare(table_values[best], table_values[name], alpha)
        for name in means
        if name != best
    }
    ties = [name for name, verdict in versus.items() if not verdict.lower_is(A)]
    mean, std = mean_std(table_values[best])
    return LowestVerdict(
        name=best,
        mean=mean,
        std=std,
        n=len(finite_values(table_values[best])),
        clear=not ties,
        ties=ties,
        versus=versus,
    )


def join_names(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
