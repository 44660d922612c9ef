"""Eigenfaces: a procedural, shaded face model in numpy, with face swaps made by a generator.

A person is a coefficient vector: the sizes and places of a face template's parts (face outline
and jaw, eyes, brows, nose, mouth, ears, hair mass and hairline), its colours (skin, hair, iris,
lips), and the weights of a fixed random basis of smooth fields (sums of Gaussian and Gabor
blobs on the face) that add albedo (blotches, shadows, tones) and relief (cheekbones, brow ridge,
chin) to the template. A face is rendered in a canonical frame as albedo times the shading of
its relief under a light, then posed (an affine warp, with yaw as a parallax that moves the
face's centre more than its outline) onto a background.

Per photo (nuisance): pose (roll, scale, shift, yaw parallax of the inner face), light
direction and ambient level, exposure and white balance, expression (smile, open mouth, raised
brows, half-closed eyes, gaze), clothes and background, sensor noise, JPEG quality.

A fake of person A is a face swap made in the model: A's inner-face coefficients (eyes, brows,
nose, mouth, iris, moles, the basis weights of the inner face) with the outer face (outline,
skin, hair, ears) of another person who resembles A (skin, hair, face width), rendered by
a generator that leaves, in proportion to ``fake_strength``, inside the swapped region: a
transposed-convolution checkerboard (a peak at half the sampling frequency), no sensor noise
(the region is too clean), and, on the whole photo, a first JPEG pass of lower quality (double
compression).

``python -m krypto.data.renderers.eigenfaces OUT --identities 200 --size 64`` or
:func:`write_dataset`. Folder names and meta.json keys are 8-digit zero-padded ids.
"""

from __future__ import annotations

from krypto.data.renderers._layout import run_cli
from krypto.data.renderers.eigenfaces.dataset import NAME, render_all, write_dataset


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


__all__ = ["NAME", "main", "render_all", "write_dataset"]
