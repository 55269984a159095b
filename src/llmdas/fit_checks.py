"""What ``EnhancedDetector.fit`` checks beyond :func:`llmdas._validation.check_X`'s shape and NaN
checks: values too large for squared distances, labels passed to a one-class fit, constant
columns, a detector that scores every row alike, an OCSVM fit that may take hours, and a program
whose rows are copies of training rows. Each problem is an error or a warning that names it, raised
before (or instead of) a confusing result.

Each warning's ``stacklevel`` points at the user's call of ``fit``: 3 for the checks ``fit`` calls
itself, 4 for ``warn_slow_fit`` and ``warn_copies``, which ``fit``'s helpers call.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from llmdas._validation import largest_beyond

__all__ = [
    "ConstantColumnWarning",
    "ConstantScoreWarning",
    "SlowFitWarning",
    "SyntheticCopiesWarning",
    "check_magnitude",
    "warn_constant_columns",
    "warn_constant_scores",
    "warn_copies",
    "warn_ignored_labels",
    "warn_slow_fit",
]


class ConstantColumnWarning(UserWarning):
    """Some training columns hold one value only, which some detectors then ignore entirely."""


class ConstantScoreWarning(UserWarning):
    """The base detector gives every training row the same score, so it ranks nothing."""


class SyntheticCopiesWarning(UserWarning):
    """Most rows the program returned are exact copies of training rows or of one another."""


class SlowFitWarning(UserWarning):
    """The base detector's fit grows faster than the rows, and these are many: it may take hours."""


# Beyond this magnitude a squared difference of two values overflows float64: the detectors' and
# the programs' distances become infinite.
_MAX_TRAINING_MAGNITUDE = 1e150


def check_magnitude(X: np.ndarray, names: list[str] | None) -> None:
    """Refuse training rows whose values are too large for squared distances."""
    beyond = largest_beyond(X, _MAX_TRAINING_MAGNITUDE)
    if beyond is not None:
        j, peak = beyond
        column = repr(names[j]) if names is not None else str(j)
        raise ValueError(
            f"column {column} of X holds values as large as {peak:.3g}: squared differences "
            "of such values overflow, and the programs and most detectors compute them; rescale "
            "the columns (standardise them, or take the log of counts and amounts) first"
        )


def warn_ignored_labels(y: Any, n_rows: int) -> None:
    """Check that ``y`` has a label per row, and warn when it marks rows that ``fit`` will still
    learn as normal ones (a one-class method: the labels are not used)."""
    if y is None:
        return
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (n_rows,):
        raise ValueError(f"y must hold one label per row of X ({n_rows}), got shape {labels.shape}")
    if labels.dtype.kind not in "biuf":
        return  # not 0/1 labels; they are ignored either way
    flagged = int(np.count_nonzero(labels))
    if flagged:
        warnings.warn(
            f"fit ignores y: it learns from normal rows only, so the {flagged} row(s) that y marks "
            "as anomalous are fitted as normal ones; pass X[y == 0] to leave them out",
            UserWarning,
            stacklevel=3,
        )


def warn_constant_columns(X: np.ndarray, names: list[str] | None) -> None:
    """Warn when some columns of the training rows are constant (all of them is an error)."""
    constant = np.flatnonzero((X[0] == X).all(axis=0))
    if len(constant) == 0:
        return
    labels = [repr(names[j]) if names is not None else str(j) for j in constant[:5]]
    more = f" and {len(constant) - 5} more" if len(constant) > 5 else ""
    warnings.warn(
        f"{len(constant)} of the {X.shape[1]} training columns hold one value only "
        f"({'names' if names is not None else 'indices'} {', '.join(labels)}{more}): some "
        "detectors (PCA, IForest and HBOS) give a new row the same score whatever its value "
        "there; check that the training rows cover the normal range",
        ConstantColumnWarning,
        stacklevel=3,
    )


def warn_constant_scores(
    detector: str, scores: np.ndarray, weight: float, separability: float
) -> None:
    """Warn when the base detector gives every training row the same score, and say whether the
    classifier (of ``weight`` and ``separability``, NaN where that did not set the weight) still
    ranks the rows."""
    if (scores != scores[0]).any():
        return
    value = scores[0] + 0.0  # prints -0.0 as 0
    if weight > 0:
        outcome = "the fused score is the classifier's alone"
    else:
        why = "" if math.isnan(separability) else f" (separability {separability:.2f})"
        outcome = f"the classifier has weight 0{why}, so the fused score ranks them no better"
    warnings.warn(
        f"{detector} gives all {len(scores)} training rows the same score ({value:.6g}), so it "
        f"ranks nothing and {outcome}; if the columns vary by very little (OCSVM's default kernel "
        "width assumes values of order 1; scikit-learn 1.9's trees take a column spanning less "
        "than 1e-7 for constant), standardise them first",
        ConstantScoreWarning,
        stacklevel=3,
    )


# Above this many training rows an OCSVM fit warns that it may take hours: libsvm's fit time
# grows about as rows**2.15 (5000, 10 000 and 20 000 rows of 30 features: 1.3, 5.8 and 25.9 s on
# 2 cores, 2026-12-03); extrapolated, 50 000 rows take minutes and 300 000 about two hours.
_SLOW_FIT_ROWS = 50_000


def warn_slow_fit(detector: str, n_rows: int) -> None:
    """Warn, before it starts, of an OCSVM fit on so many rows that it may take hours."""
    if detector == "OCSVM" and n_rows > _SLOW_FIT_ROWS:
        warnings.warn(
            f"OCSVM on {n_rows} rows: its fit time grows about with the square of the rows (20 000 "
            "rows of 30 features take about half a minute on 2 cores), so this fit may take hours; "
            f"fit on a random subsample of at most {_SLOW_FIT_ROWS} rows, or use IForest, ECOD or "
            "PCA, whose fits grow with the rows",
            SlowFitWarning,
            stacklevel=4,
        )


def warn_copies(synthetic: np.ndarray, X: np.ndarray, program: str) -> None:
    """Warn when more than half of the program's rows are exact copies of rows of ``X``, or
    when fewer than half of them are distinct.

    The classifier cannot tell copies of training rows from normal ones, so its weight comes out
    near 0 and the fit is the base detector's alone; without a word, that looks like a hard data
    set. A few rows repeated are the opposite failure: told apart perfectly, they earn the full
    weight for a classifier that knows a few points only.
    """
    seen = {row.tobytes() for row in X}
    returned = [row.tobytes() for row in synthetic]
    copies = sum(row in seen for row in returned)
    distinct = len(set(returned))
    if copies > len(synthetic) / 2:
        warnings.warn(
            f"{copies} of the {len(synthetic)} rows that program {program!r} returned are copies "
            "of training rows, not anomalies: the classifier cannot tell them from normal rows, "
            "so it adds next to nothing to the base detector; check the program",
            SyntheticCopiesWarning,
            stacklevel=4,
        )
    elif distinct < len(synthetic) / 2:
        # A few points repeated: the classifier separates them perfectly, earns the full weight
        # and then flags whatever test rows happen to lie near those points.
        warnings.warn(
            f"program {program!r} returned only {distinct} distinct rows among {len(synthetic)}: "
            "the classifier learns those points rather than where anomalies lie, and its "
            "weight measures how well it knows them; check the program",
            SyntheticCopiesWarning,
            stacklevel=4,
        )
