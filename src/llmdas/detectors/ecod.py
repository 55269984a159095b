"""PyOD's ECOD detector with inductive scoring of new rows.

PyOD's ``ECOD.decision_function(X)`` appends ``X`` to the whole training set and recomputes every
column's empirical CDF, so a row's score depends on which other rows are scored with it, each call
costs ``O((n_train + n) d log(n_train + n))``, and the fitted model keeps several
``(n_train + n) x d`` matrices. On a million training rows that makes every scoring call slow.

This subclass keeps PyOD's training scores exactly and scores each new row *as if it were the only
new row*: its left and right tail probabilities are ``(#{train <= x} + 1) / (n_train + 1)`` and
``(#{train >= x} + 1) / (n_train + 1)`` per feature, from the sorted training columns, and the
skewness signs are the training data's. This is what PyOD returns when it is given one row at a
time, computed in ``O(n d log n_train)`` with ``O(n)`` extra memory.
"""

from __future__ import annotations

import warnings

import numpy as np
from pyod.models.ecod import ECOD as _PyODECOD
from pyod.models.ecod import skew
from sklearn.utils import check_array

__all__ = ["ECOD"]


class ECOD(_PyODECOD):
    """PyOD ``ECOD`` whose scores of new rows do not depend on the batch (see module docstring)."""

    def fit(self, X, y=None):
        X = check_array(X)
        self._set_n_classes(y)
        # One contiguous row per feature: the binary searches below read a column at a time, and
        # strided columns of a wide matrix made them 2-3 times slower (768 features).
        self.sorted_by_feature_ = np.array(X.T, order="C")  # np.sort(X.T) would stay strided
        self.sorted_by_feature_.sort(axis=1)
        with warnings.catch_warnings():
            # SciPy warns of precision loss on a constant column; PyOD then takes its skewness as 0.
            warnings.simplefilter("ignore", RuntimeWarning)
            self.skewness_sign_ = np.sign(skew(X, axis=0))
        # In-sample tail probabilities, as PyOD computes them (ties count as <=).
        self.decision_scores_ = self._aggregate(X, n_extra=0)
        self._process_decision_scores()
        return self

    def decision_function(self, X):
        X = check_array(X)
        return self._aggregate(X, n_extra=1)

    def _aggregate(self, X: np.ndarray, n_extra: int) -> np.ndarray:
        """Sum over features of max(left tail, right tail, skew-chosen tail) evidence."""
        n = self.sorted_by_feature_.shape[1]
        total = np.zeros(X.shape[0])
        for j, column in enumerate(self.sorted_by_feature_):
            values = np.ascontiguousarray(X[:, j])
            # Sorted queries make the binary searches cache-friendly (10x faster on 1M rows); tied
            # queries get the same counts, so the unstable (faster) sort is enough.
            order = np.argsort(values)
            queries = values[order]
            at_most = np.empty(len(order), dtype=np.int64)
            at_least = np.empty(len(order), dtype=np.int64)
            at_most[order] = np.searchsorted(column, queries, side="right") + n_extra
            at_least[order] = n - np.searchsorted(column, queries, side="left") + n_extra
            left = -np.log(at_most / (n + n_extra))
            right = -np.log(at_least / (n + n_extra))
            sign = self.skewness_sign_[j]
            by_skew = left if sign < 0 else right if sign > 0 else left + right
            total += np.maximum(np.maximum(left, right), by_skew)
        return total
