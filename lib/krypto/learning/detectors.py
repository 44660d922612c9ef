"""Fake detectors: what reads P(fake) off one photo, so that the pair score can reject a pair in
which a photo is a deepfake, whoever it depicts (:mod:`krypto.learning.fusion`). A model with a
detector returns ``[B, D + 1]``: its embedding, then the detector's logit. Two detectors:

* :class:`FakeHead` (``fake_head`` of 02_train): a linear layer over the unit embedding. It
  shares the whole identity network and sees the photo as that network does (48 px by default).
* :class:`ForgeryBranch` (``forgery``): a small network of its own over the photo at its own
  resolution (``forgery_size``), through cues that a deepfake leaves at the pixel level and in
  the spectrum and that the identity network's input, resized and normalised, hides:
  neighbouring-pixel residuals ``x - up(down(x))`` (NPR, Tan et al., CVPR 2024), the residuals
  of three fixed SRM high-pass filters (Fridrich and Kodovsky 2012) on the luminance, the colours
  themselves (a pasted face's colour cast), and the log-magnitude of the luminance's 2-D DCT
  averaged over diagonal frequency bands (Frank et al., ICML 2020). The DCT is two products with
  a fixed matrix, so the branch exports to ONNX like the rest of the model.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B
# SRM high-pass kernels (5 x 5): second order, KV ("square 5x5") and first-order horizontal
SRM_KERNELS = (
    ((0, 0, 0, 0, 0), (0, -1, 2, -1, 0), (0, 2, -4, 2, 0), (0, -1, 2, -1, 0), (0, 0, 0, 0, 0)),
    (
        (-1, 2, -2, 2, -1),
        (2, -6, 8, -6, 2),
        (-2, 8, -12, 8, -2),
        (2, -6, 8, -6, 2),
        (-1, 2, -2, 2, -1),
    ),
    ((0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 1, -2, 1, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0)),
)
SRM_SCALE = (4.0, 12.0, 2.0)  # each kernel's usual normaliser
RESIDUAL_GAIN = 20.0  # residuals of [0, 1] images are ~0.01-0.05: brought near unit scale
SPECTRUM_BANDS = 4  # pixels of frequency per DCT band: a 64 px photo gives 16 bands
SPECTRUM_FEATURES = 32


class FakeDetector(nn.Module):
    """``forward(images, embeddings)``: logits ``[B]`` of "this photo is a fake" from images ``[B,
    3, S, S]`` in [0, 1] and their embeddings ``[B, D]``, with the fusion chosen on validation in
    its buffers (``fusion_weight`` 0 until chosen: the pair score is then the plain cosine), so a
    checkpoint scores as validated. It learns at ``lr_scale`` times the run's rate."""

    lr_scale = 1.0

    def __init__(self):
        super().__init__()
        self.register_buffer("fusion_weight", torch.zeros(()))
        self.register_buffer("fusion_max", torch.ones(()))  # 1: rule "max", 0: rule "mean"


class FakeHead(FakeDetector):
    """A linear layer over the unit embedding ``[B, D] -> [B]``."""

    def __init__(self, embedding_dim: int):
        super().__init__()
        self.linear = nn.Linear(embedding_dim, 1)

    def forward(self, images: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(embeddings.float(), dim=1)).squeeze(1)


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``[n, n]``: ``dct_matrix(n) @ x`` transforms the columns."""
    k = torch.arange(n, dtype=torch.float64)
    m = torch.cos(math.pi * (2 * k[None] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.float()


def band_means(n: int) -> torch.Tensor:
    """``[n * n, bands]``: the mean over each diagonal frequency band ``(u + v) // SPECTRUM_BANDS``
    of an ``[n, n]`` spectrum (flattened), the bands past ``n`` folded into the last one."""
    u = torch.arange(n)
    bands = max(1, n // SPECTRUM_BANDS)
    band = ((u[:, None] + u[None, :]) // SPECTRUM_BANDS).clamp(max=bands - 1)
    onehot = F.one_hot(band.reshape(-1), bands).float()
    return onehot / onehot.sum(0)


class ForgeryBranch(FakeDetector):
    """A small CNN over the photo at ``size`` px (``[B, 3, size, size]`` in [0, 1]): its colours,
    NPR and SRM residuals (9 channels, computed at full resolution) through four 3x3 stages of
    stride 2, 2, 1, 2, average- and max-pooled, beside an MLP over the DCT band profile, then one
    linear layer: logits ``[B]``. About 6 M multiply-adds a photo at 64 px, a third of the small
    CNN's at 48 px. Measured alone on portraits with strong fakes (200 identities at 64 px, strength
    1, 600 steps of 32 photos, a quarter of them fakes, as 30 epochs of 02_train give; one seed):
    the validation AUC reached 0.56 with average pooling, 0.88 with the peak added, 0.75 with the
    rate tripled and 0.99 with both; a first stage at full resolution and a fifth stage (27 M
    multiply-adds, average pooling) reached 0.65."""

    lr_scale = 3.0

    def __init__(self, size: int, width: int = 16):
        super().__init__()
        self.size = size
        srm = torch.tensor(SRM_KERNELS, dtype=torch.float32)
        self.register_buffer("srm", (srm / torch.tensor(SRM_SCALE).view(3, 1, 1))[:, None])
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1))
        self.register_buffer("dct", dct_matrix(size))
        self.register_buffer("bands", band_means(size))
        w = width
        self.stages = nn.Sequential(
            conv_bn(9, w, 2), conv_bn(w, 2 * w, 2), conv_bn(2 * w, 2 * w), conv_bn(2 * w, 4 * w, 2)
        )
        self.spectrum = nn.Sequential(nn.Linear(self.bands.shape[1], SPECTRUM_FEATURES), nn.ReLU())
        self.linear = nn.Linear(2 * 4 * w + SPECTRUM_FEATURES, 1)

    def cues(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pixel-level cues ``[B, 9, S, S]`` and the spectral profile ``[B, bands]``."""
        if images.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"the forgery branch takes {self.size} x {self.size} photos, got "
                f"{tuple(images.shape[-2:])}"
            )
        x = images.float()
        luma = (x * self.luma).sum(1, keepdim=True)
        npr = x - F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest")
        srm = F.conv2d(luma, self.srm, padding=2)
        pixels = torch.cat([(x - 0.5) * 4.0, npr * RESIDUAL_GAIN, srm * RESIDUAL_GAIN], 1)
        high = (luma - F.avg_pool2d(luma, 3, 1, 1, count_include_pad=False))[:, 0]
        spectrum = (self.dct @ high @ self.dct.T).abs().flatten(1)
        return pixels, torch.log(spectrum @ self.bands + 1e-4)

    def forward(self, images: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        pixels, profile = self.cues(images)
        maps = self.stages(pixels)  # a trace covers a part of the photo: its mean and its peak
        pooled = torch.cat([maps.mean((2, 3)), maps.amax((2, 3)), self.spectrum(profile)], 1)
        return self.linear(pooled).squeeze(1)
