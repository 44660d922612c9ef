"""Figures of the notebooks and the report. Each function returns a matplotlib Figure and, given
``path``, also saves it as PNG."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython import get_ipython
from IPython.display import display

from krypto import constants as C
from krypto.data.images import read_rgb
from krypto.evaluation.verdicts import finite_values, mean_std
from krypto.files import save_figure

KIND_COLORS = {
    C.SAME: "tab:green",
    C.DIFFERENT: "tab:blue",
    C.FAKE_SAME: "tab:red",
    C.FAKE_OTHER: "tab:orange",
}
DISTANCES = {  # batch distance: (label, colour)
    "dist_pos": ("anchor - positive", "tab:green"),
    "dist_neg": ("anchor - negative (real)", "tab:blue"),
    "dist_fake": ("anchor - fake of anchor", "tab:red"),
}
LOSSES = ("loss", "loss_real", "loss_fake", "loss_head")
EER_COLORS = {"eer_real": "tab:blue", "eer_fake": "tab:red", "eer": "black"}
BAR_STYLE = {"capsize": 3, "alpha": 0.8, "error_kw": {"linewidth": 1}}
SEED_STYLE = {"s": 9, "color": "black", "zorder": 3}


def save(fig, path: str | Path | None):
    """Lay ``fig`` out, save it as PNG at ``path`` (atomically), show it once in a notebook,
    and close it, so that a long batch in one kernel does not keep every figure in memory."""
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=110)
    if getattr(get_ipython(), "kernel", None) is not None:
        display(fig)
    plt.close(fig)
    return fig


def panels(n: int, width: float, height: float):
    """A figure of ``n`` panels side by side, ``width x height`` inches each, and their axes."""
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def smooth(values: pd.Series) -> pd.Series:
    """A running mean over a thirtieth of ``values``."""
    return values.rolling(max(1, len(values) // 30), min_periods=1).mean()


def contact_sheet(
    index: pd.DataFrame, n_identities: int = 8, per_identity: int = 9, seed: int = 0, path=None
):
    """Rows = identities, columns = photos (real first); fakes framed in red, landmarks dotted."""
    labels = index[C.LABEL].unique()
    ids = np.random.default_rng(seed).choice(labels, min(n_identities, len(labels)), replace=False)
    fig, axes = plt.subplots(
        len(ids), per_identity, figsize=(1.3 * per_identity, 1.4 * len(ids)), squeeze=False
    )
    for row_axes, ident in zip(axes, ids):
        photos = index[index[C.LABEL] == ident].sort_values(C.IS_FAKE).head(per_identity)
        row_axes[0].set_ylabel(str(photos[C.IDENTITY].iloc[0]), fontsize=7)
        for ax in row_axes[len(photos) :]:
            ax.axis("off")
        for ax, (_, row) in zip(row_axes, photos.iterrows()):
            ax.set_xticks([]), ax.set_yticks([])
            img = read_rgb(row[C.PATH])
            ax.imshow(img)
            pts = row[list(C.LANDMARK_COLUMNS)].to_numpy(float).reshape(5, 2)
            if np.isfinite(pts).all():
                ax.scatter(pts[:, 0] * img.width, pts[:, 1] * img.height, s=4, c="cyan")
            if row[C.IS_FAKE]:
                plt.setp(list(ax.spines.values()), edgecolor="red", linewidth=3)
                ax.set_title("fake", fontsize=7, color="red", pad=2)
    fig.suptitle("identities (rows); fakes framed in red; landmarks in cyan", fontsize=9)
    return save(fig, path)


def training_curves(history: pd.DataFrame, epochs: pd.DataFrame, title: str = "", path=None):
    """Loss per iteration, batch distances per iteration, validation EERs per epoch."""
    fig, (loss_ax, distance_ax, eer_ax) = panels(3, 5, 3.8)
    for key in LOSSES:
        if key in history and history[key].notna().any():
            loss_ax.plot(history["iteration"], smooth(history[key]), label=key)
    loss_ax.set(title="loss", xlabel="iteration")
    loss_ax.legend(fontsize=8)
    distance_axes(distance_ax, history)
    for key, color in EER_COLORS.items():
        if key in epochs:
            eer_ax.plot(epochs["epoch"], epochs[key], marker="o", color=color, label=key)
    eer_ax.set(title="validation EER (epoch 0: before training)", xlabel="epoch", ylim=(0, None))
    eer_ax.legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path)


def distance_axes(ax, history: pd.DataFrame):
    """The batch distances of ``history`` per iteration, a running mean."""
    for key, (label, color) in DISTANCES.items():
        if key in history:
            ax.plot(history["iteration"], smooth(history[key]), color=color, label=label)
    ax.set(title="mean distance in the batch", xlabel="iteration", ylabel="L2 on unit sphere")
    ax.legend(fontsize=8)


def distance_curves(histories: dict[str, pd.DataFrame], path=None):
    """One panel per run: mean anchor-positive, anchor-negative and anchor-fake distances."""
    fig, axes = panels(len(histories), 6, 3.8)
    for ax, (name, history) in zip(axes, histories.items()):
        distance_axes(ax, history)
        ax.set_title(name)
    return save(fig, path)


def similarity_histograms(scored: dict[str, pd.DataFrame], path=None):
    """Per run: histograms of the cosine similarity of each pair kind."""
    fig, axes = panels(len(scored), 6, 3.6)
    bins = np.linspace(-1, 1, 61)
    for ax, (name, pairs) in zip(axes, scored.items()):
        for kind, color in KIND_COLORS.items():
            values = pairs.loc[pairs[C.KIND] == kind, C.SIMILARITY]
            if len(values):
                ax.hist(values, bins=bins, alpha=0.45, color=color, label=kind, density=True)
        ax.set(title=name, xlabel="cosine similarity", ylabel="density")
        ax.legend(fontsize=8)
    return save(fig, path)


def fn_fp_curve(result, title: str = "", path=None):
    """False negative and false positive rates against the threshold (an ``EERResult``)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(result.thresholds, result.fnr, label="FNR")
    ax.plot(result.thresholds, result.fpr, label="FPR")
    ax.axvline(result.threshold, color="gray", ls="--", lw=1)
    ax.set(title=f"{title} EER = {result.eer:.4f}", xlabel="threshold (cosine)", ylabel="rate")
    ax.legend()
    return save(fig, path)


def pca_real_fake(points: dict[str, tuple[np.ndarray, np.ndarray]], path=None):
    """Panels of 2-D PCA projections ``[N, 2]`` with real (blue) and fake (red) points."""
    fig, axes = panels(len(points), 5, 4.4)
    for ax, (name, (xy, is_fake)) in zip(axes, points.items()):
        for label, rows, color in (("real", ~is_fake, "tab:blue"), ("fake", is_fake, "tab:red")):
            ax.scatter(xy[rows, 0], xy[rows, 1], s=6, c=color, alpha=0.6, label=label)
        ax.set(title=name, xlabel="PC 1", ylabel="PC 2")
        ax.legend(fontsize=8)
    return save(fig, path)


def metric_per_epoch(epochs: dict[str, pd.DataFrame], metric: str, title: str = "", path=None):
    """One line per configuration: the mean of ``metric`` per epoch over its seeds, with a band
    from the lowest to the highest seed (``epochs``: per configuration, the epochs.csv of its
    seeds, stacked, told apart by a ``seed`` column when there are several)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    banded = False
    for i, (name, table) in enumerate(epochs.items()):
        by_epoch = table.groupby("epoch")[metric]
        mean, color = by_epoch.mean(), f"C{i % 10}"
        seeds = table["seed"].nunique() if "seed" in table else 1
        label = name if seeds == 1 else f"{name} ({seeds} seeds)"
        ax.plot(mean.index, mean.to_numpy(), marker="o", color=color, label=label)
        if seeds > 1:
            low, high = by_epoch.min().to_numpy(), by_epoch.max().to_numpy()
            ax.fill_between(mean.index, low, high, color=color, alpha=0.2, linewidth=0)
            banded = True
    ax.set(title=title or metric, xlabel="epoch", ylabel=f"validation {metric}", ylim=(0, None))
    band = "mean; band: lowest to highest seed" if banded else None
    ax.legend(fontsize=8, title_fontsize=8, title=band)
    return save(fig, path)


def metric_bars(
    values: dict[str, dict[str, list]],
    metrics=("eer_real", "eer_fake", "eer"),
    title: str = "",
    path=None,
):
    """Grouped bars: configurations x ``metrics``, each bar the mean over the seeds
    (``values``: ``{name: {metric: [per-seed value]}}``), its error bar the std (ddof=1), and each
    seed a point on it."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(names)), 3.8))
    width = 0.8 / len(metrics)
    x = np.arange(len(names))
    labelled = False
    for i, metric in enumerate(metrics):
        seeds = [finite_values(values[name].get(metric, [])) for name in names]
        stats = [mean_std(v) for v in seeds]
        means = [np.nan if m is None else m for m, _ in stats]
        stds = [0.0 if s is None else s for _, s in stats]
        at = x + i * width
        ax.bar(at, means, width, yerr=stds, label=metric, color=f"C{i % 10}", **BAR_STYLE)
        for j, points in enumerate(seeds):
            if points:
                label = None if labelled else "seeds"
                ax.scatter(np.full(len(points), at[j]), points, label=label, **SEED_STYLE)
                labelled = True
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, names, rotation=20, fontsize=8)
    ax.set(title=title, ylabel="EER (lower is better)\nmean ± std over seeds")
    ax.legend(fontsize=8)
    return save(fig, path)


def show_images(images: dict, path=None):
    """A row of uint8 images ``[3, H, W]`` with their names as titles."""
    fig, axes = panels(len(images), 2.2, 2.5)
    for ax, (name, img) in zip(axes, images.items()):
        ax.imshow(np.asarray(img).transpose(1, 2, 0))
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    return save(fig, path)
