"""A row's distance to its nearest training rows: the classifier's column beside the data's own.

The normal-vs-synthetic classifier is a forest of axis-parallel trees. It learns well where
synthetic rows leave a column's usual values, but poorly that a row lies far from *every*
training row while each of its values is ordinary: between the clusters of digit images, say,
where a nearest-neighbour detector excels. Given that distance as one more column, the trees use
it as far as it separates the synthetic rows from the normal ones, and no further. It is measured
on the columns as they are, like the detectors of the paper's protocol (no preprocessing).

Every row is measured the same way: to the ``k`` nearest *distinct* training rows other than
itself. A training row is then measured to the other ones (leave-one-out, as every other
classifier score of a training row is out-of-sample), and a new row that repeats a training row,
common on discrete data, or a synthetic row that nearly does, is not taken for closer to the data
than the training rows are to one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.neighbors import NearestNeighbors

__all__ = ["NeighbourDistance"]

#: Neighbours averaged over (PyOD's KNN default).
DEFAULT_NEIGHBOURS = 5
#: Reference rows at most: the cost grows with it, the feature's quality barely (docs/method.md).
DEFAULT_MAX_REFERENCE = 2000
# A reference row nearer than this share of the typical spacing of the reference rows is the
# row itself; distances below it do not count as evidence of anything.
_SAME_ROW = 1e-6
# Candidates measured again beyond the ones kept, so that the index's rounding cannot leave out
# a row that is among the nearest once measured exactly.
_SPARE_CANDIDATES = 2
# Array elements (rows × candidates × columns) measured again at a time, to bound the memory.
_ELEMENTS_PER_BATCH = 1 << 20


@dataclass(frozen=True)
class NeighbourDistance:
    """``log(d_k(x) / m)``: mean distance to the ``k`` nearest reference rows over its median ``m``.

    The reference rows are the distinct training rows (at most ``max_reference`` of them); the
    nearest of them is skipped when it is the row itself (within ``same_row``).
    """

    index: NearestNeighbors  # fitted on the reference rows
    k: int
    same_row: float  # distances up to this one are a row to itself
    median: float  # the median distance of the training rows, > 0
    # The rows the index holds, to measure its candidates again; None in models saved before
    # METHOD_VERSION 11, which score with the index's own distances, as they were fitted.
    reference: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        rng: np.random.Generator,
        k: int = DEFAULT_NEIGHBOURS,
        max_reference: int = DEFAULT_MAX_REFERENCE,
    ) -> tuple[NeighbourDistance, np.ndarray]:
        """Fit on the training rows ``X`` (two distinct ones at least); return it, their feature."""
        reference = np.unique(X, axis=0)
        if len(reference) < 2:
            raise ValueError("measuring distances between rows needs two distinct rows at least")
        if len(reference) > max_reference:
            reference = reference[np.sort(rng.choice(len(reference), max_reference, replace=False))]
        k = min(k, len(reference) - 1)
        index = NearestNeighbors(n_neighbors=k + 1).fit(reference)
        unscaled = cls(index, k, same_row=0.0, median=1.0, reference=reference)
        # Each reference row's nearest is itself; the next is its spacing.
        spacing = float(np.median(unscaled._nearest(reference, 2)[:, 1]))
        unscaled = replace(unscaled, same_row=_SAME_ROW * spacing)
        distance = unscaled._mean_distance(X)  # > 0: floored
        fitted = replace(unscaled, median=float(np.median(distance)))
        return fitted, np.log(distance / fitted.median)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The feature of rows ``X``: any rows, training rows included."""
        if len(X) == 0:
            return np.empty(0)
        return np.log(self._mean_distance(X) / self.median)

    def _nearest(self, X: np.ndarray, n: int) -> np.ndarray:
        """The distances of each row of ``X`` to its ``n`` nearest reference rows, increasing."""
        if self.reference is None:
            return self.index.kneighbors(X, n_neighbors=n)[0]
        n_candidates = min(n + _SPARE_CANDIDATES, len(self.reference))
        rows_per_batch = max(1, _ELEMENTS_PER_BATCH // (n_candidates * X.shape[1]))
        batches = []
        for start in range(0, len(X), rows_per_batch):
            rows = X[start : start + rows_per_batch]
            candidates = self.index.kneighbors(rows, n_candidates, return_distance=False)
            differences = rows[:, None, :] - self.reference[candidates]
            exact = np.sqrt(np.einsum("rcj,rcj->rc", differences, differences))
            batches.append(np.sort(exact, axis=1)[:, :n])
        return np.concatenate(batches)

    def _mean_distance(self, X: np.ndarray) -> np.ndarray:
        distances = self._nearest(X, self.k + 1)
        itself = distances[:, :1] <= self.same_row
        # The k nearest that are not the row itself; the floor keeps the logarithm finite.
        mean = np.where(itself, distances[:, 1:], distances[:, :-1]).mean(axis=1)
        return np.maximum(mean, max(self.same_row, np.finfo(float).tiny))
