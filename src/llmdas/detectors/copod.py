"""PyOD's COPOD detector, quiet about constant columns.

COPOD takes each column's skewness with SciPy, which warns of "precision loss ... catastrophic
cancellation" for a column whose values are all equal; PyOD then uses a skewness of 0 for it, which
is the right answer. Constant columns are common in tabular data (and are what the warning is about
in every case we met), so this subclass silences that one warning and changes nothing else.
"""

from __future__ import annotations

import contextlib
import warnings

from pyod.models.copod import COPOD as _PyODCOPOD


@contextlib.contextmanager
def _without_constant_column_warning():
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Precision loss occurred in moment calculation", RuntimeWarning
        )
        yield


class COPOD(_PyODCOPOD):
    """PyOD's COPOD, without SciPy's skewness warning on constant columns."""

    def fit(self, X, y=None):
        with _without_constant_column_warning():
            return super().fit(X, y)

    def decision_function(self, X):
        with _without_constant_column_warning():
            return super().decision_function(X)
