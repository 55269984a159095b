"""Score normalisation and fusion of the base detector with the synthetic-anomaly classifier.

The paper fuses ``F(x) = minmax(f_t(x)) + w * minmax(f~(x))``, each min-max fitted on the training
rows' scores. Scores are normalised on the training rows only, so test rows beyond the training range
keep growing past 1 (an extreme test row stays extreme).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MinMaxNormalizer", "fuse"]


@dataclass(frozen=True)
class MinMaxNormalizer:
    """``(s - lo) / (hi - lo)`` with ``lo``/``hi`` taken from the training scores."""

    lo: float
    hi: float

    @classmethod
    def fit(cls, train_scores: np.ndarray) -> MinMaxNormalizer:
        train_scores = np.asarray(train_scores, dtype=np.float64)
        return cls(float(train_scores.min()), float(train_scores.max()))

    def transform(self, scores: np.ndarray) -> np.ndarray:
        span = self.hi - self.lo
        # A constant training score carries no ranking information: map everything to 0 rather
        # than divide by zero.
        if span <= 0 or not np.isfinite(span):
            return np.zeros_like(np.asarray(scores, dtype=np.float64))
        return (np.asarray(scores, dtype=np.float64) - self.lo) / span


def fuse(base: np.ndarray, synthetic: np.ndarray, weight: float) -> np.ndarray:
    """``base + weight * synthetic`` for already normalised score arrays."""
    return np.asarray(base, dtype=np.float64) + weight * np.asarray(synthetic, dtype=np.float64)
