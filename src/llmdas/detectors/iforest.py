"""PyOD's IForest detector with a cheaper scoring call.

scikit-learn's ``IsolationForest`` scores rows by dispatching one joblib task per tree (100 by
default) and adding each tree's path lengths under a lock. On the few hundred to few thousand rows
that a synthesis program scores, that dispatch is most of the call: 12.8 ms for 1290 rows of
cardio, where this module's loop over the same trees takes 5.8 ms. A synthesis program scores
rows two or three times per fit, so this cost is paid on every enhanced fit.

This subclass computes the same numbers without the dispatch: each tree's leaves come from the
same ``tree_.apply``, their path lengths are added in the same order and with the same arithmetic,
so the scores equal PyOD's bit for bit (``tests/test_detectors.py`` checks it for several
settings). Fitting is PyOD's, except that training values beyond float32's range are refused:
scikit-learn's trees cast them to infinity without an error, and a forest grown on them isolates
nothing (on rows of order 1e100 every score is 0). Parallel jobs asked for with joblib, and names
that a future scikit-learn renames, leave scoring to PyOD.
"""

from __future__ import annotations

import numpy as np
from joblib.parallel import get_active_backend
from pyod.models.iforest import IForest as _PyODIForest
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from llmdas._validation import largest_beyond

try:  # private to scikit-learn: without it, PyOD scores
    from sklearn.ensemble._iforest import _average_path_length
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    _average_path_length = None

__all__ = ["IForest"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

# What the loop reads from a fitted scikit-learn IsolationForest; without any of them, PyOD scores.
_FOREST_ATTRIBUTES = (
    "estimators_",
    "estimators_features_",
    "_decision_path_lengths",
    "_average_path_length_per_tree",
    "_max_features",
    "_max_samples",
    "offset_",
)


class IForest(_PyODIForest):
    """PyOD ``IForest`` whose ``decision_function`` skips joblib's per-tree dispatch (see module
    docstring); the scores are PyOD's, bit for bit."""

    def fit(self, X, y=None):
        X = check_array(X)  # PyOD's own check, which refuses sparse and non-finite X
        beyond = largest_beyond(X, _FLOAT32_MAX)
        if beyond is not None:
            j, peak = beyond
            raise ValueError(
                f"column {j} holds values as large as {peak:.3g}, beyond float32's "
                f"{_FLOAT32_MAX:.3g}, in which scikit-learn's trees compute; rescale the columns "
                "(standardise them, or take the log of counts and amounts) first"
            )
        return super().fit(X, y)

    def decision_function(self, X):
        check_is_fitted(self, ["decision_scores_", "threshold_", "labels_"])
        forest = self.detector_
        if not _plain_loop_applies(forest):
            return super().decision_function(X)
        # The checks and float32 conversion of IsolationForest.score_samples (PyOD refuses sparse X).
        X = validate_data(forest, X, dtype=np.float32, reset=False, ensure_all_finite=False)
        subsample_features = forest._max_features != X.shape[1]
        depths = np.zeros(X.shape[0])
        for tree, features, path_lengths, average_lengths in zip(
            forest.estimators_,
            forest.estimators_features_,
            forest._decision_path_lengths,
            forest._average_path_length_per_tree,
            strict=True,
        ):
            # tree.apply(check_input=False) less its per-tree checks, made once above.
            leaves = tree.tree_.apply(X[:, features] if subsample_features else X)
            depths += path_lengths[leaves] + average_lengths[leaves] - 1.0
        denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])
        normality = -(
            2 ** -np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)
        )
        # IsolationForest.decision_function, then PyOD's inversion (higher = more anomalous).
        return -(normality - forest.offset_)


def _plain_loop_applies(forest) -> bool:
    # Parallel jobs asked for with joblib's parallel_config (threads over trees) are honoured by
    # scikit-learn's own path; without them it adds the trees one after another, as this loop does.
    _, n_jobs = get_active_backend()
    if n_jobs not in (None, 1) or _average_path_length is None:
        return False
    return all(hasattr(forest, name) for name in _FOREST_ATTRIBUTES)
