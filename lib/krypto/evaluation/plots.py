"""Figures of the notebooks and the report. Each function returns a matplotlib Figure and, given
``path``, also saves it as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

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
DIST_COLORS = {"dist_pos": "tab:green", "dist_neg": "tab:blue", "dist_fake": "tab:red"}
DIST_LABELS = {
    "dist_pos": "anchor - positive",
    "dist_neg": "anchor - negative (real)",
    "dist_fake": "anchor - fake of anchor",
}


def save(fig, path: str | Path | None):
    """Save ``fig`` as PNG at ``path`` (atomically), show it once in a notebook, and close it,
    so that a long batch in one kernel does not keep every figure in memory."""
    if path is not None:
        save_figure(fig, path, dpi=110)
    _show(fig)
    plt.close(fig)
    return fig


def _show(fig) -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(fig)


def smooth(values: pd.Series, window: int) -> pd.Series:
    return values.rolling(window, min_periods=1).mean()


def contact_sheet(
    index: pd.DataFrame, n_identities: int = 8, per_identity: int = 9, seed: int = 0, path=None
):
    """Rows = identities, columns = their photos (real first); fakes framed in red, landmarks
    dotted."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(
        index[C.LABEL].unique(), min(n_identities, index[C.LABEL].nunique()), replace=False
    )
    fig, axes = plt.subplots(
        len(ids), per_identity, figsize=(1.3 * per_identity, 1.4 * len(ids)), squeeze=False
    )
    for r, ident in enumerate(ids):
        photos = index[index[C.LABEL] == ident].sort_values(C.IS_FAKE).head(per_identity)
        for c in range(per_identity):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(photos):
                ax.axis("off")
                continue
            row = photos.iloc[c]
            img = read_rgb(row[C.PATH])
            ax.imshow(img)
            pts = row[list(C.LANDMARK_COLUMNS)].to_numpy(float).reshape(5, 2)
            if np.isfinite(pts).all():
                ax.scatter(pts[:, 0] * img.width, pts[:, 1] * img.height, s=4, c="cyan")
            if row[C.IS_FAKE]:
                for side in ax.spines.values():
                    side.set_edgecolor("red"), side.set_linewidth(3)
                ax.set_title("fake", fontsize=7, color="red", pad=2)
            if c == 0:
                ax.set_ylabel(str(row[C.IDENTITY]), fontsize=7)
    fig.suptitle("identities (rows); fakes framed in red; landmarks in cyan", fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def training_curves(history: pd.DataFrame, epochs: pd.DataFrame, title: str = "", path=None):
    """Loss per iteration, batch distances per iteration, validation EERs per epoch."""
    window = max(1, len(history) // 30)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for key in ("loss", "loss_real", "loss_fake", "loss_head"):
        if key in history and history[key].notna().any():
            axes[0].plot(history["iteration"], smooth(history[key], window), label=key)
    axes[0].set(title="loss", xlabel="iteration")
    axes[0].legend(fontsize=8)
    distance_axes(axes[1], history, window)
    eer_axes(axes[2], epochs)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


def distance_axes(ax, history: pd.DataFrame, window: int):
    for key, color in DIST_COLORS.items():
        if key in history:
            ax.plot(
                history["iteration"],
                smooth(history[key], window),
                color=color,
                label=DIST_LABELS[key],
            )
    ax.set(title="mean distance in the batch", xlabel="iteration", ylabel="L2 on unit sphere")
    ax.legend(fontsize=8)


def eer_axes(ax, epochs: pd.DataFrame):
    for key, color in (("eer_real", "tab:blue"), ("eer_fake", "tab:red"), ("eer", "black")):
        if key in epochs:
            ax.plot(epochs["epoch"], epochs[key], marker="o", color=color, label=key)
    ax.set(title="validation EER (epoch 0: before training)", xlabel="epoch", ylim=(0, None))
    ax.legend(fontsize=8)


def distance_curves(histories: dict[str, pd.DataFrame], path=None):
    """One panel per run: mean anchor-positive, anchor-negative and anchor-fake distances."""
    fig, axes = plt.subplots(1, len(histories), figsize=(6 * len(histories), 3.8), squeeze=False)
    for ax, (name, history) in zip(axes[0], histories.items()):
        distance_axes(ax, history, max(1, len(history) // 30))
        ax.set_title(name)
    fig.tight_layout()
    return save(fig, path)


def similarity_histograms(scored: dict[str, pd.DataFrame], path=None):
    """Per run: histograms of the cosine similarity of each pair kind."""
    fig, axes = plt.subplots(1, len(scored), figsize=(6 * len(scored), 3.6), squeeze=False)
    bins = np.linspace(-1, 1, 61)
    for ax, (name, pairs) in zip(axes[0], scored.items()):
        for kind, color in KIND_COLORS.items():
            values = pairs.loc[pairs[C.KIND] == kind, C.SIMILARITY]
            if len(values):
                ax.hist(values, bins=bins, alpha=0.45, color=color, label=kind, density=True)
        ax.set(title=name, xlabel="cosine similarity", ylabel="density")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def fn_fp_curve(result, title: str = "", path=None):
    """False negative and false positive rates against the threshold (an ``EERResult``)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    order = np.argsort(result.thresholds)
    ax.plot(result.thresholds[order], result.fnr[order], label="FNR")
    ax.plot(result.thresholds[order], result.fpr[order], label="FPR")
    ax.axvline(result.threshold, color="gray", ls="--", lw=1)
    ax.set(title=f"{title} EER = {result.eer:.4f}", xlabel="threshold (cosine)", ylabel="rate")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def pca_real_fake(points: dict[str, tuple[np.ndarray, np.ndarray]], path=None):
    """Panels of 2-D PCA projections ``[N, 2]`` with real (blue) and fake (red) points."""
    fig, axes = plt.subplots(1, len(points), figsize=(5 * len(points), 4.4), squeeze=False)
    for ax, (name, (xy, is_fake)) in zip(axes[0], points.items()):
        ax.scatter(xy[~is_fake, 0], xy[~is_fake, 1], s=6, c="tab:blue", alpha=0.6, label="real")
        ax.scatter(xy[is_fake, 0], xy[is_fake, 1], s=6, c="tab:red", alpha=0.6, label="fake")
        ax.set(title=name, xlabel="PC 1", ylabel="PC 2")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def metric_per_epoch(epochs: dict[str, pd.DataFrame], metric: str, title: str = "", path=None):
    """One line per configuration: the mean of ``metric`` per epoch over its seeds, with a band
    from the lowest to the highest seed (``epochs``: per configuration, the epochs.csv of its
    seeds, stacked, told apart by a ``seed`` column when there are several)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    n_seeds = set()
    for i, (name, table) in enumerate(epochs.items()):
        color = f"C{i % 10}"
        by_epoch = table.groupby("epoch")[metric]
        mean, low, high = by_epoch.mean(), by_epoch.min(), by_epoch.max()
        seeds = table["seed"].nunique() if "seed" in table else 1
        n_seeds.add(seeds)
        ax.plot(
            mean.index,
            mean.to_numpy(),
            marker="o",
            color=color,
            label=name if seeds == 1 else f"{name} ({seeds} seeds)",
        )
        if seeds > 1:
            ax.fill_between(
                mean.index, low.to_numpy(), high.to_numpy(), color=color, alpha=0.2, linewidth=0
            )
    ax.set(title=title or metric, xlabel="epoch", ylabel=f"validation {metric}", ylim=(0, None))
    ax.legend(
        fontsize=8,
        title_fontsize=8,
        title="mean; band: lowest to highest seed" if max(n_seeds, default=1) > 1 else None,
    )
    fig.tight_layout()
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
        ax.bar(
            x + i * width,
            means,
            width,
            yerr=stds,
            capsize=3,
            label=metric,
            color=f"C{i % 10}",
            alpha=0.8,
            error_kw={"linewidth": 1},
        )
        for j, points in enumerate(seeds):
            if points:
                ax.scatter(
                    np.full(len(points), x[j] + i * width),
                    points,
                    s=9,
                    color="black",
                    zorder=3,
                    label=None if labelled else "seeds",
                )
                labelled = True
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, names, rotation=20, fontsize=8)
    ax.set(title=title, ylabel="EER (lower is better)\nmean ± std over seeds")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def show_images(images: dict, path=None):
    """A row of uint8 images ``[3, H, W]`` with their names as titles."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.2 * len(images), 2.5), squeeze=False)
    for ax, (name, img) in zip(axes[0], images.items()):
        ax.imshow(np.asarray(img).transpose(1, 2, 0))
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return save(fig, path)
