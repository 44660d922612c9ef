"""Batches of P identities x K photos, each identity's fakes included. open-metric-learning's
``BalanceSampler`` instead draws K photos of a label at random (maybe no fake, then no
quadruplet) from numpy's global random state, and refuses labels with one photo.
"""

from collections import deque

import numpy as np
import pandas as pd


class IdentityBatchSampler:
    """Yields lists of row numbers, ``P * K`` per batch: ``n_identities`` (P) identities of
    ``labels`` ``[N]``, ``n_instances`` (K) photos of each (drawn with replacement when it has
    fewer), ``n_fake`` of them fakes (``is_fake`` ``[N]``) where the identity has fakes. An epoch's
    batches depend on ``seed`` and ``set_epoch(epoch)`` only (a resumed run gets the same ones).
    Process ``rank`` gets every ``world_size``-th identity of the shuffled order, so processes
    never share an identity within a step (nor within a pass) and all get as many batches."""

    def __init__(
        self,
        labels,
        is_fake,
        n_identities: int,
        n_instances: int,
        n_fake: int = 1,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        labels, is_fake = np.asarray(labels), np.asarray(is_fake, dtype=bool)
        ids = np.unique(labels)
        if n_identities < 2 or n_instances < 2:
            raise ValueError(f"P and K must be at least 2, got P={n_identities}, K={n_instances}")
        if not 0 <= n_fake < n_instances:
            raise ValueError(f"n_fake must be in [0, K), got {n_fake} with K={n_instances}")
        if len(ids) < n_identities * world_size:
            raise ValueError(
                f"P={n_identities} identities per batch (x {world_size} processes) "
                f"but the training split has only {len(ids)} identities: lower P"
            )
        rows = pd.Series(labels).groupby(labels).indices  # {identity: its rows, in order}
        self.real = {i: r[~is_fake[r]] for i, r in rows.items()}
        self.fake = {i: r[is_fake[r]] for i, r in rows.items()}
        self.ids, self.n_rows = ids, len(labels)
        self.P, self.K, self.n_fake = n_identities, n_instances, n_fake
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches per epoch: enough to show every photo about once (P x K per batch)."""
        return max(1, self.n_rows // (self.P * self.K * self.world_size))

    def _draw(self, rng, rows: np.ndarray, n: int) -> np.ndarray:
        """``n`` of ``rows`` (with replacement when there are fewer)."""
        return rng.choice(rows, n, replace=len(rows) < n) if n else rows[:0]

    def _order(self, rng) -> np.ndarray:
        """Identities in shuffled passes (each a new permutation), ``P * world_size`` distinct
        ones per step: where a step would straddle two passes and meet an identity again, that
        identity waits for the next step."""
        step, pool, order = self.P * self.world_size, deque(), []
        for _ in range(len(self)):
            chunk, seen, waiting = [], set(), []
            while len(chunk) < step:
                if not pool:
                    pool.extend(rng.permutation(self.ids).tolist())
                ident = pool.popleft()
                if ident in seen:
                    waiting.append(ident)
                else:
                    chunk.append(ident)
                    seen.add(ident)
            pool.extendleft(reversed(waiting))
            order += chunk
        return np.asarray(order)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        # dealt out to the processes: step s of rank r is order[s*P*W : (s+1)*P*W][r::W]
        mine = self._order(rng)[self.rank :: self.world_size]
        for start in range(0, len(mine), self.P):
            batch = []
            for ident in mine[start : start + self.P]:
                reals, fakes = self.real[ident], self.fake[ident]
                n_fake = min(self.n_fake, len(fakes)) if len(reals) else self.K
                picks = np.concatenate(
                    [self._draw(rng, reals, self.K - n_fake), self._draw(rng, fakes, n_fake)]
                )
                batch.extend(picks.tolist())
            yield batch
