"""The knobs of the synthetic data set."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generator. ``difficulty`` scales nuisance factors, ``fake_strength`` the
    traces a face swap leaves (0: a seamless swap, 1: obvious)."""

    identities: int = 400  # training identities (train/)
    test_identities: int = 80  # identities of test_public (disjoint from train)
    real_per_identity: int = 6
    fake_per_identity: int = 3
    image_size: int = 48
    difficulty: float = 0.6
    fake_strength: float = 0.7
    lookalike: float = 0.8  # how much a swap's target head resembles the source (0: any person)
    test_pairs_per_kind: int = 150
    id_width: int = 8  # zero padding of folder names
    meta_id_width: int | None = None  # zero padding of ids in meta.json keys (None: as folders)
    seed: int = 0

    def __post_init__(self):
        if self.identities < 2 or self.test_identities < 2:
            raise ValueError("identities and test_identities must be at least 2")
        if self.real_per_identity < 2:
            raise ValueError("real_per_identity must be at least 2 (a positive pair needs two)")
        if self.fake_per_identity < 1:
            raise ValueError("fake_per_identity must be at least 1")
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        for name in ("difficulty", "fake_strength", "lookalike"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
