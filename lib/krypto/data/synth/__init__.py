"""A synthetic stand-in for the challenge data, written in the official layout.

Real face data cannot ship with the repository, so this generator draws cartoon faces whose
statistics mimic the task:

* an identity is a set of stable traits: head shape, skin, hair colour and style, eye spacing,
  size and colour, brows, nose, mouth and marks (moles);
* real photos of one identity vary in nuisance factors: pose (roll, yaw), scale, shift,
  lighting, expression (mouth, eye opening), background, sensor noise and JPEG quality;
* a fake of identity X is a face swap: X's inner face (brows, eyes, nose, mouth, marks and, with
  ``fake_strength``, its skin tone) rendered onto the head of another person chosen to look
  like X (``lookalike``), resampled (blurred), with a blend seam at the edge of the swapped
  region, a faint upsampling checkerboard and less sensor noise than the rest of the photo. A
  model that learns identity alone sees X in it.

Output (``write_dataset``)::

    OUT/train/<id>/<n>.jpg     real and fake photos, ids zero-padded
    OUT/train/meta.json        {"<id>/<n>.jpg": 0 real | 1 fake}
    OUT/test_public/<pair>/0.jpg, 1.jpg
    OUT/gt.csv                 pair_id,label,kind
    OUT/landmarks.csv          path,<5 points x, y>, normalised to [0, 1]

Run ``python -m krypto.data.synth OUT --identities 200`` or call :func:`write_dataset`.

The modules: :mod:`.config` (:class:`SynthConfig`), :mod:`.traits` (identities and photo
conditions), :mod:`.render` (drawing faces), :mod:`.fakes` (face swaps and their traces),
:mod:`.dataset` (the layout on disk), :mod:`.presets` (the named sets, made once),
:mod:`.cli` (the command line).
"""

from krypto.data.synth.cli import main
from krypto.data.synth.config import SynthConfig
from krypto.data.synth.dataset import CONFIG_FILE, encode_jpeg, render_photos, write_dataset
from krypto.data.synth.fakes import render_fake
from krypto.data.synth.presets import PRESETS, ensure_default_dataset, preset_dataset
from krypto.data.synth.render import render_real
from krypto.data.synth.traits import (
    HEAD_TRAITS,
    MAX_MARKS,
    lookalike_heads,
    sample_identities,
    sample_nuisance,
    take,
)

__all__ = [
    "CONFIG_FILE",
    "HEAD_TRAITS",
    "MAX_MARKS",
    "PRESETS",
    "SynthConfig",
    "encode_jpeg",
    "ensure_default_dataset",
    "lookalike_heads",
    "main",
    "preset_dataset",
    "render_fake",
    "render_photos",
    "render_real",
    "sample_identities",
    "sample_nuisance",
    "take",
    "write_dataset",
]
