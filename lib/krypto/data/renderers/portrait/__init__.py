"""Portrait: faces drawn with PIL shapes as a painter would, on cluttered rooms, with face
swaps pasted in.

A person is a set of drawn traits: face outline (cheek and jaw width, chin, squareness), skin
tone with its own texture (blotches and grain, a noise field of that person), hair style (crop,
side part, long, bob, curls, bun, buzz, bald) and colour, eye shape (almond size, slant,
spacing), iris colour, brows (thickness, arch), nose, lips, ears, freckles and moles, and
accessories: glasses (round or square frames of a colour), a beard (full, goatee, moustache or
stubble) and earrings.

Per photo (nuisance): pose (roll, scale, shift and a yaw that moves the inner face sideways),
the direction and strength of the light (a shading gradient across the head, darker on the far
side), exposure and colour temperature, expression (smile, open mouth, raised brows, eye
opening, gaze), glasses worn or not, clothes, a room behind (wall, frames, shelves, lamps,
plants, out of focus), sensor noise and JPEG quality.

A fake of person A is A's face region (brows to chin, cheek to cheek) cut from a photo of A
and blended onto a photo of another person (a head with the same hair style and a close hair
colour, skin tone and face width), aligned to that head's pose. With ``fake_strength`` the paste
shows: a colour mismatch (A's region keeps the light and white balance of its own photo instead
of being matched to the target's), resampling blur (the region went through a lower resolution)
and a blending seam (a narrower feather and a bright or dark ring along the region's edge).

``python -m krypto.data.renderers.portrait OUT --identities 200 --size 64`` or
:func:`write_dataset`. Folder names are 6-digit zero-padded ids, meta.json keys unpadded.
"""

from __future__ import annotations

from krypto.data.renderers._layout import run_cli
from krypto.data.renderers.portrait.dataset import NAME, render_all, write_dataset


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring)."""
    run_cli(NAME, write_dataset, __doc__, argv)


__all__ = ["NAME", "main", "render_all", "write_dataset"]
