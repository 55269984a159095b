"""Registry of base detectors, by name, over PyOD (and llmdas's own DRL).

>>> det = make_detector("IForest", random_state=0)

Every detector is a PyOD :class:`~pyod.models.base.BaseDetector` built with PyOD's defaults (as in
the paper), except that ``random_state`` is passed to those that accept one. :func:`score_detector`
is the one place that reads a detector's scores: it maps the non-finite values some detectors produce
(PyOD's PCA divides by near-zero variances on near-constant features) to finite ones, keeping their
order, and warns.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

import numpy as np
from pyod.models.base import BaseDetector
from sklearn.base import OutlierMixin

__all__ = [
    "DETECTOR_NAMES",
    "NonFiniteScoresWarning",
    "canonical_name",
    "changed_params",
    "check_detector_instance",
    "describe_detector",
    "detector_name",
    "fit_scores_are_plain",
    "install_hint",
    "make_detector",
    "registry_equivalent",
    "sanitize_scores",
    "score_ceiling",
    "score_detector",
    "training_scores",
]

# name -> "module:Class"; imported lazily so that e.g. torch is loaded only for DRL.
_REGISTRY: dict[str, str] = {
    "PCA": "llmdas.detectors.pca:PCA",  # PyOD PCA, safe for constant columns
    "IForest": "llmdas.detectors.iforest:IForest",  # PyOD IForest, cheaper scoring calls
    "OCSVM": "pyod.models.ocsvm:OCSVM",
    "ECOD": "llmdas.detectors.ecod:ECOD",  # PyOD ECOD, inductive scoring of new rows
    "KNN": "pyod.models.knn:KNN",
    "LOF": "pyod.models.lof:LOF",
    "HBOS": "pyod.models.hbos:HBOS",
    "COPOD": "llmdas.detectors.copod:COPOD",  # PyOD COPOD, quiet about constant columns
    "DRL": "llmdas.detectors.drl:DRL",
}

# Detectors whose fit scores (``decision_scores_``) are their ``decision_function`` of the training
# rows, bit for bit (tests/test_detectors.py checks it). ECOD and COPOD score the training rows
# transductively and KNN and LOF leave each row out, so theirs are not plain scores.
_PLAIN_FIT_SCORES = frozenset({"PCA", "IForest", "OCSVM", "HBOS", "DRL"})

# PyOD classes that a registry class replaces with the same scores, bit for bit, only computed
# faster (tests/test_detectors.py checks it): :func:`registry_equivalent` swaps them.
_SAME_SCORES_AS = {"pyod.models.iforest:IForest": "IForest"}

#: Names accepted by :func:`make_detector`, in display order.
DETECTOR_NAMES: tuple[str, ...] = tuple(_REGISTRY)

_BY_LOWER = {name.lower(): name for name in _REGISTRY}


class NonFiniteScoresWarning(UserWarning):
    """A detector produced NaN or infinite scores that llmdas replaced by finite ones."""


def known_name(name: str) -> str | None:
    """The registry spelling of ``name`` (case-insensitive), or ``None`` if it names no detector."""
    return _BY_LOWER.get(name.lower())


def canonical_name(name: str) -> str:
    """Return the registry spelling of ``name`` (case-insensitive) or raise ``ValueError``."""
    known = known_name(name)
    if known is None:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")
    return known


def _api_name(name: str) -> str:
    """:func:`canonical_name` for the Python API, whose other choice is a detector instance."""
    try:
        return canonical_name(name)
    except ValueError as exc:
        raise ValueError(f"{exc}, or pass a PyOD detector instance, fitted or not") from None


def install_hint(package: str) -> str:
    """What to ``pip install`` for a missing ``package``: PyTorch comes with llmdas's deep extra,
    which pins the version DRL is tested with."""
    return "'llmdas[deep]'" if package == "torch" else package


def make_detector(detector: str | BaseDetector, random_state: int | None = None, **params: Any):
    """Build an unfitted detector from a registry name, or return a given PyOD instance as is.

    Parameters
    ----------
    detector : str or BaseDetector
        A name from :data:`DETECTOR_NAMES` (case-insensitive) or a PyOD detector instance.
    random_state : int, optional
        Passed to detectors whose constructor takes ``random_state``.
    **params
        Extra constructor arguments for a named detector.
    """
    if not isinstance(detector, str):
        check_detector_instance(detector)
        if params:
            raise TypeError("detector parameters can only be given with a detector name")
        return detector
    module_name, class_name = _REGISTRY[_api_name(detector)].split(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ImportError(
            f"detector {detector!r} needs an optional dependency that is missing ({exc.name}); "
            f"install it with: pip install {install_hint((exc.name or 'torch').partition('.')[0])}"
        ) from exc
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:  # the constructor's own TypeError would not say what it does take
        raise ValueError(
            f"{canonical_name(detector)} has no parameter {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(accepted)}"
        )
    if random_state is not None and "random_state" in accepted:
        params.setdefault("random_state", random_state)
    return cls(**params)


# scikit-learn's outlier detectors and the registry names of their PyOD counterparts.
_PYOD_FOR_SKLEARN = {
    "IsolationForest": "IForest",
    "OneClassSVM": "OCSVM",
    "LocalOutlierFactor": "LOF",
}


def check_detector_instance(detector: Any) -> None:
    """Raise ``TypeError`` unless ``detector`` is a detector instance that scores as PyOD's do.

    A class passes for a detector by its attributes, and scikit-learn's outlier detectors
    (``IsolationForest``, ``OneClassSVM``, ...) have ``fit`` and ``decision_function`` too, but
    their ``decision_function`` is *higher for normal rows*: taken as PyOD's, it would rank
    every row backwards without any error.
    """
    if isinstance(detector, type):
        raise TypeError(
            f"detector must be a detector instance, got the class {detector.__name__}; "
            f"pass {detector.__name__}()"
        )
    kind = type(detector).__name__
    if not (hasattr(detector, "fit") and hasattr(detector, "decision_function")):
        raise TypeError(f"detector must be a name or a PyOD-style detector, got {kind}")
    if isinstance(detector, OutlierMixin) and not isinstance(detector, BaseDetector):
        counterpart = _PYOD_FOR_SKLEARN.get(kind)
        hint = f"'{counterpart}'" if counterpart else "a registry name"
        raise TypeError(
            f"{kind} follows scikit-learn's convention (decision_function higher for normal "
            f"rows), the opposite of PyOD's, and would rank rows backwards; use {hint} or a "
            "PyOD detector instance"
        )


def registry_equivalent(detector: BaseDetector) -> BaseDetector:
    """An unfitted registry detector with ``detector``'s parameters if the registry's class scores
    exactly as ``detector``'s class does, only faster (PyOD's IForest); else ``detector`` itself."""
    name = _SAME_SCORES_AS.get(_class_path(detector))
    if name is None:
        return detector
    return make_detector(name, **detector.get_params(deep=False))


def _class_path(detector) -> str:
    """``"module:Class"`` of a detector's class, as the registry spells its entries."""
    cls = type(detector)
    return f"{cls.__module__}:{cls.__qualname__}"


def detector_name(detector: str | BaseDetector) -> str:
    """The registry name of a detector given by name or instance (its class name otherwise)."""
    if isinstance(detector, str):
        return _api_name(detector)
    check_detector_instance(detector)
    name = type(detector).__name__
    return known_name(name) or name


def changed_params(detector) -> dict[str, Any]:
    """The constructor arguments of ``detector`` that differ from its class's defaults."""
    defaults = inspect.signature(type(detector)).parameters
    changed = {}
    for name, value in detector.get_params(deep=False).items():
        default = defaults[name].default if name in defaults else inspect.Parameter.empty
        try:
            same = bool(value == default)
        except Exception:  # e.g. an array, which has no single truth value
            same = False
        if not same:
            changed[name] = value
    return changed


def describe_detector(detector) -> str:
    """The detector's registry name with the parameters that differ from its defaults, as
    ``KNN(method='foo')``: what a user changed is what to look at when a fit fails."""
    try:
        params = changed_params(detector)
    except (TypeError, ValueError, AttributeError):  # no introspectable constructor
        return detector_name(detector)
    name = detector_name(detector)
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})" if params else name


def score_ceiling(detector, X: np.ndarray) -> float | None:
    """The supremum of a fitted detector's scores, if it has one that rows far from every
    training row approach; ``None`` otherwise. ``X``: a few rows to check it on.

    PyOD's OCSVM with the RBF kernel scores ``offset_ - sum_i a_i K(x, x_i)`` with ``a_i >= 0``
    and ``K > 0`` (scikit-learn's ``OneClassSVM.score_samples`` negated and shifted), so its
    scores lie below ``offset_`` and approach it far from the support vectors. Recognised by its
    fitted ``OneClassSVM`` (a wrapper that passes attributes through is recognised too) and
    checked on the first rows of ``X``, so that a detector scoring otherwise gets ``None``.
    """
    from sklearn.svm import OneClassSVM

    svm = getattr(detector, "detector_", None)
    if not (isinstance(svm, OneClassSVM) and svm.kernel == "rbf" and hasattr(svm, "offset_")):
        return None
    ceiling = float(np.ravel(svm.offset_)[0])
    probe = X[:5]
    with np.errstate(all="ignore"):
        scores = np.asarray(detector.decision_function(probe), dtype=np.float64)
        expected = ceiling - svm.score_samples(probe)
    return ceiling if np.allclose(scores, expected, rtol=1e-9, atol=0.0) else None


def fit_scores_are_plain(detector) -> bool:
    """Whether a fitted registry detector's ``decision_scores_`` are finite and equal to
    :func:`score_detector` of its training rows, so that scoring those rows again can be skipped
    (``False`` for any other detector)."""
    name = known_name(type(detector).__name__)
    if name not in _PLAIN_FIT_SCORES or _class_path(detector) != _REGISTRY[name]:
        return False
    # Non-finite scores are replaced relative to a reference range, which may differ between calls.
    return bool(np.isfinite(detector.decision_scores_).all())


def sanitize_scores(
    scores, *, reference: np.ndarray | None = None, warn: bool = True
) -> np.ndarray:
    """Return float64 scores with NaN/inf replaced by finite values, keeping their order.

    ``+inf`` becomes one unit above the largest finite value, ``-inf`` one unit below the smallest,
    and ``NaN`` (which usually comes from ``inf - inf`` or ``0 / 0``) is treated as maximally
    anomalous, like ``+inf``. ``reference`` (e.g. the training scores) fixes the finite range, so
    that test scores map consistently with training scores.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel().copy()
    bad = ~np.isfinite(scores)
    if not bad.any():
        return scores
    pool = scores[~bad]
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        pool = np.concatenate([pool, ref[np.isfinite(ref)]])
    hi = float(pool.max()) if pool.size else 0.0
    lo = float(pool.min()) if pool.size else 0.0
    span = max(hi - lo, 1.0)
    scores[np.isposinf(scores) | np.isnan(scores)] = hi + span
    scores[np.isneginf(scores)] = lo - span
    if warn:
        warnings.warn(
            f"detector produced {int(bad.sum())} non-finite score(s) (NaN/inf, typical of PCA on "
            "near-constant features); they were replaced by finite values beyond the observed range",
            NonFiniteScoresWarning,
            stacklevel=2,
        )
    return scores


def score_detector(detector, X: np.ndarray, *, reference: np.ndarray | None = None) -> np.ndarray:
    """Anomaly scores of a fitted detector on ``X``, always finite (see :func:`sanitize_scores`)."""
    with np.errstate(all="ignore"):
        raw = detector.decision_function(X)
    return sanitize_scores(raw, reference=reference)


def training_scores(detector, X: np.ndarray) -> np.ndarray:
    """Finite scores of a fitted detector's training rows ``X``: PyOD's ``decision_scores_`` when
    it keeps one per row, else :func:`score_detector` of ``X``.

    Reusing them saves a scoring pass (minutes for a one-class SVM on large data), and they are
    PyOD's own training scores (leave-one-out for neighbour-based detectors), which its
    ``threshold_`` also uses.
    """
    fitted = getattr(detector, "decision_scores_", None)
    if fitted is not None and np.shape(fitted) == (len(X),):
        return sanitize_scores(fitted)
    return score_detector(detector, X)
