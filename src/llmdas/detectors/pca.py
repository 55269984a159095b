"""PyOD's PCA detector, made safe for constant columns.

PyOD's ``PCA`` standardises the data and divides each principal component's contribution by that
component's explained variance. A column that is constant in the training data yields a component
with zero variance, and then *every* row scores ``inf`` (for example on Cardiotocography, mnist and
optdigits under the paper's split): the detector ranks nothing. This subclass fits PyOD's PCA on the
columns that vary in the training data and ignores the constant ones; on data without constant
columns it is exactly PyOD's PCA.
"""

from __future__ import annotations

import numpy as np
from pyod.models.pca import PCA as _PyODPCA

__all__ = ["PCA"]


class PCA(_PyODPCA):
    """PyOD ``PCA`` that ignores columns constant in the training data (see module docstring)."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        varying = np.ptp(X, axis=0) > 0
        # With fewer than two varying columns there is no subspace to model; keep all columns and
        # let the caller's score sanitation deal with PyOD's output.
        self.varying_columns_ = varying if varying.sum() >= 2 else np.ones_like(varying)
        return super().fit(X[:, self.varying_columns_], y)

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        return super().decision_function(X[:, self.varying_columns_])
