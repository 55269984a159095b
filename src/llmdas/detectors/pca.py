"""PyOD's PCA detector, made safe for constant columns and collinear features.

PyOD's ``PCA`` standardises the data and divides each principal component's contribution by that
component's explained-variance ratio. Two kinds of training data give a component with (numerically)
zero variance, and then *every* row scores ``inf`` or a value dominated by rounding noise, so the
detector ranks nothing:

* a column that is constant in the training data, or constant up to rounding noise (Cardiotocography,
  cardio, mnist and optdigits under the paper's split);
* collinear columns, e.g. one-hot encoded categories that sum to one (campaign, cardio).

This subclass fits PyOD's PCA on the columns that vary in the training data (range above ``1e-9``
of the column's magnitude) and scores with the components whose explained-variance ratio exceeds
``1e-12``. On data without such columns it is exactly PyOD's PCA.
"""

from __future__ import annotations

import numpy as np
from pyod.models.pca import PCA as _PyODPCA

__all__ = ["PCA"]

#: A column varies if its range exceeds this fraction of its largest absolute value.
_RELATIVE_RANGE = 1e-9
#: Components with a smaller explained-variance ratio are rounding noise, not directions of the data.
_NEGLIGIBLE_VARIANCE_RATIO = 1e-12


class PCA(_PyODPCA):
    """PyOD ``PCA`` that ignores constant columns and zero-variance components (see module docs)."""

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        varying = np.ptp(X, axis=0) > _RELATIVE_RANGE * np.abs(X).max(axis=0)
        # With fewer than two varying columns there is no subspace to model; keep all columns and
        # let the caller's score sanitation deal with PyOD's output.
        self.varying_columns_ = varying if varying.sum() >= 2 else np.ones_like(varying)
        with np.errstate(divide="ignore", invalid="ignore"):
            super().fit(X[:, self.varying_columns_], y)
        real = self.selected_w_components_ > _NEGLIGIBLE_VARIANCE_RATIO
        if real.any() and not real.all():
            self.selected_components_ = self.selected_components_[real]
            self.selected_w_components_ = self.selected_w_components_[real]
            self.decision_scores_ = self.decision_function(X)
            self._process_decision_scores()
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        return super().decision_function(X[:, self.varying_columns_])
