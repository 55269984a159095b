"""``EnhancedDetector``: a PyOD detector made stronger with synthesized hard anomalies (Stage 2).

Fitting runs four steps on the normal training rows ``X``:

1. fit the base detector ``f_t`` on ``X``;
2. run the synthesis program in the sandbox with ``n_samples = ceil(n_synthetic * n_train)``; the
   program sees only ``X`` and ``model.predict_score`` (served by the fitted detector); values of
   discrete columns are then put back on the values those columns take (:mod:`llmdas.support`);
3. train a classifier ``f~`` to tell normal rows (label 0) from synthetic anomalies (label 1),
   on the standardised columns and each row's distance to its nearest training rows
   (:mod:`llmdas.neighbours`);
4. fuse ``F(x) = T(f_t(x)) + w * C(f~(x))``, with normalisers ``T`` and ``C`` and the weight ``w``
   fitted on training rows only (see :mod:`llmdas.fusion`). ``normalization="minmax"`` with a
   numeric ``weight`` gives the paper's ``minmax(f_t) + w * minmax(f~)``.

The classifier's training-row scores are *out-of-sample* (out-of-bag for bagged trees, cross-fitted
otherwise): in-sample probabilities of a forest are all near zero on the rows it memorised, which
would make any normalisation fitted on them meaningless. The same out-of-sample probabilities give
the classifier's separability of synthetic versus normal rows, from which ``weight="auto"`` derives
``w``. Why these defaults, and what they reach on the paper's benchmark: ``docs/method.md``.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import joblib
import numpy as np
from pyod.models.base import BaseDetector
from sklearn.base import clone, is_classifier
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from llmdas._atomic import replacing
from llmdas._validation import (
    check_feature_names,
    check_seconds,
    check_X,
    feature_names,
    require_file,
)
from llmdas.detectors import (
    describe_detector,
    detector_name,
    fit_scores_are_plain,
    install_hint,
    make_detector,
    registry_equivalent,
    score_ceiling,
    score_detector,
    training_scores,
)
from llmdas.fit_checks import (
    ConstantColumnWarning,
    ConstantScoreWarning,
    SlowFitWarning,
    SyntheticCopiesWarning,
    check_magnitude,
    warn_constant_columns,
    warn_constant_scores,
    warn_copies,
    warn_ignored_labels,
    warn_slow_fit,
)
from llmdas.fusion import (
    LogGap,
    chance_auc_spread,
    fuse,
    make_normalizers,
    separability_weight,
)
from llmdas.neighbours import NeighbourDistance
from llmdas.program import SynthesisProgram
from llmdas.programs import builtin_program, list_builtin, load_program
from llmdas.sandbox import ProgramError, SandboxLimits, run_program
from llmdas.support import snap_to_support

__all__ = [
    "METHOD_VERSION",
    "EnhancedDetector",
    "ModelVersionWarning",
    "ProgramFallbackWarning",
    "ScoreParts",
    "ConstantColumnWarning",
    "ConstantScoreWarning",
    "FeatureNamesWarning",
    "SlowFitWarning",
    "SmallSampleWarning",
    "SyntheticCopiesWarning",
    "load",
]

# Above this chance spread of the separability (a standard deviation of 0.2 in the gain
# 2 * AUC - 1 that scales the weight; with the default n_synthetic, below about 25 training rows)
# fit warns that the automatic weight is unreliable.
_MAX_CHANCE_AUC_SPREAD = 0.1

# Rows the classifier scores at a time (a standardised float64 copy of 65536 x 50 is 26 MB).
_SCORING_CHUNK_ROWS = 65536
# Rows each tree of the default classifier trains on (a bootstrap sample of at most this size).
_DEFAULT_TREE_ROWS = 1000
# Trees of the default classifier. Its out-of-bag probabilities are multiples of about 1/(number
# of trees that left a row out): the tail evidence C of the top training rows, and so the fusion,
# needs the finer steps of 100 trees (docs/method.md, "classifier").
_DEFAULT_TREES = 100
# weight_scale="auto": the scale chosen for each built-in program with the default classifier, on
# the tune half of the benchmark (docs/method.md); any other program, classifier or fusion gets the
# scale chosen for the four detectors together. A change here moves scores: bump METHOD_VERSION.
_BUILTIN_WEIGHT_SCALE = {
    "pca-minor-directions-shell": 0.7,
    "iforest-long-path-shell": 1.5,
    "ocsvm-outward-shell": 0.8,
    "ecod-tail-push-shell": 0.6,
}
_DEFAULT_WEIGHT_SCALE = 0.7
#: Version of what :class:`EnhancedDetector` computes for given parameters. Bump it with every
#: change that moves its scores without changing a constructor default (the fusion arithmetic, the
#: default classifier's settings, ...): benchmark stores hash it, so that a resumed run recomputes
#: its cells instead of mixing old and new results. 2: strictly increasing base evidence;
#: 3: squared classifier rank; 4: the classifier sees standardised columns; 5: OCSVM's scores
#: mapped by ``LogGap`` before ``T``; 6: the classifier also sees the distance to the nearest
#: training rows; 7: the classifier's score as tail evidence ``C`` like the base score's, and
#: ``weight_scale`` 0.7; 8: a weight scale per built-in program (``weight_scale="auto"``); 9: 100
#: trees in the default classifier, and the scales picked again for them; 10: the shares of rows
#: picked again with the scales for 100 trees (PCA's program thirds at 0.7, IForest's half noisy
#: copies); 11: the neighbour distance measured exactly, so that a row far from the origin is
#: recognised as itself and scores alike alone or in a batch; 12: the tail of a constant training
#: score grows by a tenth of the score's size, not by 1e-12 (``llmdas.fusion.TailNormalizer``).
METHOD_VERSION = 12
#: Version of the files written by :meth:`EnhancedDetector.save`; 2 since the base normaliser
#: became strictly increasing (its fitted attributes changed), 3 since the classifier scores
#: standardised columns (``classifier_scaler_``), which a reader of format 2 would skip, 4 since
#: OCSVM's scores are mapped before ``T`` (``_base_map``), which a reader of format 3 would skip,
#: 5 since the classifier sees the distance to the nearest training rows (``distance_feature_``).
#: Older files still load and score as fitted: a normaliser without ``power`` gets 1, a model
#: without ``classifier_scaler_`` gives its classifier the rows as they are, one without
#: ``_base_map`` normalises the raw scores, and one without ``distance_feature_`` gives its
#: classifier the columns alone.
MODEL_FORMAT = 5

#: The attributes that a finished fit leaves and scoring requires; a fit removes them first.
_FITTED = ["detector_", "decision_scores_"]
_RANDOM_SOURCES = (np.random.RandomState, np.random.Generator)
_READABLE_FORMATS = (2, 3, 4, 5)


class ScoreParts(NamedTuple):
    """The summands of fused scores (:meth:`EnhancedDetector.score_parts`)."""

    base: np.ndarray  #: the base detector's normalised evidence
    classifier: np.ndarray  #: the classifier's weighted evidence, ``weight_ * C(f~(x))``


class ProgramFallbackWarning(UserWarning):
    """Synthesis failed and ``on_program_error="base"`` made the detector fall back to its base."""


class SmallSampleWarning(UserWarning):
    """Too few rows for the classifier's separability, and so its weight, to mean much."""


class FeatureNamesWarning(UserWarning):
    """Rows to score come with column names and the fit's rows did not, or the other way round.

    As scikit-learn warns: the columns cannot then be checked against the fitted ones, and a
    frame whose columns are in another order is scored wrongly without any error.
    """


class ModelVersionWarning(UserWarning):
    """A loaded model was fitted with other versions of the libraries its scores depend on."""


# The packages besides llmdas whose code computes a fitted model's scores (torch only for DRL).
_SCORING_PACKAGES = ("numpy", "scipy", "scikit-learn", "pyod")


class EnhancedDetector(BaseDetector):
    """A base anomaly detector enhanced with a classifier trained on synthetic hard anomalies.

    Behaves like any PyOD detector: ``fit(X)`` on normal rows, then ``decision_function``,
    ``predict``, ``predict_proba``, and the fitted ``decision_scores_``, ``threshold_``, ``labels_``.

    Parameters
    ----------
    detector : str or pyod BaseDetector, default="IForest"
        Base detector: a registry name (``PCA``, ``IForest``, ``OCSVM``, ``ECOD``, ``KNN``, ``LOF``,
        ``HBOS``, ``COPOD``, ``DRL``) or a PyOD instance (cloned, never modified; a PyOD
        ``IForest`` becomes llmdas's ``IForest`` with the same parameters, which gives the same
        scores faster). A grid search over the detector's own settings
        (``detector__n_estimators``) needs an instance: ``make_detector("IForest")``.
    program : str, Path or SynthesisProgram, optional
        Synthesis program. Default: the built-in program for the detector. A string may name a
        built-in program, a detector, or a ``.py`` program file.
    n_synthetic : float or int, default=0.5
        Number of synthetic anomalies: a fraction of the training rows (float) or a count (int).
        The paper uses 0.1; llmdas's programs and fusion were tuned with 0.5 (docs/method.md).
    max_synthetic : int or None, default=5000
        Upper bound on the number of synthetic anomalies (keeps synthesis and the classifier cheap
        on large data).
    snap_discrete : bool, default=True
        Move each synthetic value of a discrete column (at most 10 distinct training values, or
        integers only) to the nearest value that column can take, so that the classifier cannot
        spot synthetic rows by values no real row holds (:func:`llmdas.support.snap_to_support`).
    classifier : sklearn classifier, optional
        Normal-vs-synthetic classifier with ``predict_proba`` or, failing that, ``decision_function``
        (e.g. ``SVC()``, the paper's other choice; the fusion uses only the order of its scores, or
        their min-max range with ``normalization="minmax"``). Default: 100 extremely randomised
        trees (``ExtraTreesClassifier``), each on a bootstrap sample of at most 1000 rows, with
        out-of-bag scoring (cheap, and every row gets an out-of-bag estimate). Without out-of-bag
        estimates the training rows are scored by 5-fold cross-fitting. Any classifier sees the
        columns standardised by the normal rows it trains on (``classifier_scaler_``) and, with
        ``distance_feature``, one more column.
    distance_feature : bool, default=True
        Give the classifier, as one more column, each row's distance to its 5 nearest distinct
        training rows (the log of its mean over the median; a row's own copy is skipped, so
        training rows are measured leave-one-out; at most 2000 reference rows;
        :class:`~llmdas.neighbours.NeighbourDistance`). Trees split on single columns and so miss
        a row that is far from every training row while each of its values is ordinary; with
        this column they use such distance as far as it separates the synthetic rows
        (docs/method.md). It is left out of a fit whose synthetic rows are no
        farther from the training rows than those are from one another (ROC-AUC of the distance
        at most 0.5), as SMOTE's interpolations: there it could only teach the reverse.
    weight : float or "auto", default="auto"
        Weight ``w`` of the classifier's normalised score. ``"auto"``: ``weight_scale *
        max(0, 2 * AUC - 1)`` with AUC the out-of-sample separability of synthetic vs normal rows;
        a classifier no better than chance gets weight 0 and the base detector is used alone.
        On fewer than about 25 training rows chance alone moves the AUC enough to matter, and
        ``fit`` warns (:class:`SmallSampleWarning`).
    weight_scale : float or "auto", default="auto"
        Largest automatic weight (reached by a perfectly separating classifier). With
        ``normalization="tail"`` both summands are ``-log`` p-values, so a weight of 1 would add
        the classifier's evidence to the detector's at par, as Fisher's method combines p-values.
        ``"auto"``: with a built-in program, the default classifier and ``normalization="tail"``,
        the scale picked for that program on half of the benchmark data sets (PCA 0.7, IForest
        1.5, OCSVM 0.8, ECOD 0.6, together with the program's shares of rows: the largest mean
        gain on that half whose worst data set there lost at most 0.02 AUC-PR and which won on at
        least 14 of its 17 data sets, where any did); otherwise 0.7, the scale chosen for the
        four together (docs/method.md). ``weight_scale_`` holds the scale used.
    normalization : {"tail", "minmax"}, default="tail"
        ``"tail"``: base scores as ``-log`` tail p-values among the training scores, and
        classifier scores as ``-log`` tail p-values among the training rows' out-of-sample
        classifier scores (both extrapolating past the training maximum,
        :class:`~llmdas.fusion.TailNormalizer`); an RBF OCSVM's scores first as the log of their
        kernel mass (:class:`~llmdas.fusion.LogGap`), so that the rows it rates most anomalous,
        all just below its ceiling, keep its order. ``"minmax"``: the paper's min-max scaling of
        both, fitted on training rows.
    on_program_error : {"raise", "base"}, default="raise"
        When synthesis fails: raise the program's :class:`~llmdas.sandbox.ProgramError`, or warn and
        use the base detector alone (``program_error_`` then holds the error).
    max_program_rows : int or None, default=50_000
        The program sees at most this many training rows (a random subset), which bounds the cost
        of synthesis and of sending the data to the sandbox on large data. ``n_synthetic`` as a
        fraction then refers to the rows the program sees.
    max_classifier_rows : int or None, default=50_000
        The classifier trains on at most this many normal rows (a random subset) plus the synthetic
        rows; training rows left out are scored by the fitted classifier, which is out-of-sample
        for them too.
    program_timeout : float, default=120
        Wall-clock seconds the program may run.
    program_memory_mb : int, default=4096
        Address-space limit of the sandbox process.
    contamination : float, default=0.1
        Expected share of anomalies; sets ``threshold_`` as in PyOD.
    prefit : bool, default=False
        If True, ``detector`` is a PyOD instance already fitted on the same ``X`` that is passed to
        ``fit``: it is used as is (not cloned, not refitted, its ``decision_scores_`` taken as the
        training scores), which lets a benchmark share one base fit across several programs.
    random_state : int in [0, 2**32 - 1], numpy RandomState or Generator, optional
        Seeds the base detector, the program's random generator and the classifier. An integer
        makes every fit the same; a ``RandomState`` or ``Generator`` gives each fit a new seed
        drawn from it (as scikit-learn's ensembles seed their members); ``None``, fresh entropy.
    n_jobs : int or None, default=1
        Parallel jobs for the default classifier (-1: all cores).

    Attributes
    ----------
    detector_ : fitted base detector
    classifier_ : fitted classifier, or ``None`` after a fallback
    classifier_scaler_ : fitted ``StandardScaler``, or ``None`` after a fallback; the classifier
        scores ``classifier_scaler_.transform(X)``
    distance_feature_ : fitted :class:`~llmdas.neighbours.NeighbourDistance`, or ``None`` after a
        fallback, with ``distance_feature=False``, or when the synthetic rows were no farther from
        the data than the normal rows; its column follows the standardised ones
    program_ : SynthesisProgram that was run
    synthetic_ : ndarray of shape (n_synthetic, n_features), or ``None`` after a fallback; the
        rows the classifier trained on (after ``snap_discrete``)
    decision_scores_ : ndarray of shape (n_train,), fused training scores, with the classifier's
        out-of-sample scores of the training rows, so that ``threshold_`` is set on scores like
        those of new rows. ``decision_function`` of the training rows themselves is lower (the
        classifier has seen them) and flags fewer than ``contamination`` of them
    base_scores_ : ndarray of shape (n_train,), base detector's training scores
    classifier_scores_ : ndarray of shape (n_train,), or ``None`` after a fallback; the
        classifier's out-of-sample scores of the training rows, on which ``C`` is fitted
    weight_ : float, the fusion weight used (0 after a fallback)
    weight_scale_ : float, the scale of the automatic weight (``weight_scale`` resolved)
    separability_ : float, out-of-sample ROC-AUC of synthetic vs normal rows (NaN after a fallback)
    timings_ : dict of seconds for ``base_fit``, ``synthesis``, ``classifier_fit``
    versions_ : dict of the versions of the packages that compute the scores (llmdas, numpy,
        scipy, scikit-learn, pyod; torch for DRL) at fit time; :func:`load` warns when they differ
    program_log_ : str, what the program printed (truncated)
    program_error_ : ProgramError or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when ``X`` was a data frame with string column names;
        a data frame scored later must have the same columns in the same order
    """

    # Fitted attributes whose type a type checker cannot infer from their first assignment.
    classifier_: Any
    classifier_scaler_: StandardScaler | None
    distance_feature_: NeighbourDistance | None
    weight_: float
    separability_: float
    synthetic_: np.ndarray | None

    def __init__(
        self,
        detector: str | BaseDetector = "IForest",
        program: str | Path | SynthesisProgram | None = None,
        n_synthetic: float | int = 0.5,
        max_synthetic: int | None = 5000,
        snap_discrete: bool = True,
        classifier: Any = None,
        distance_feature: bool = True,
        weight: float | str = "auto",
        weight_scale: float | str = "auto",
        normalization: str = "tail",
        on_program_error: str = "raise",
        max_program_rows: int | None = 50_000,
        max_classifier_rows: int | None = 50_000,
        program_timeout: float = 120.0,
        program_memory_mb: int = 4096,
        contamination: float = 0.1,
        prefit: bool = False,
        random_state: int | None = None,
        n_jobs: int = 1,
    ):
        super().__init__(contamination=contamination)
        self.detector = detector
        self.program = program
        self.n_synthetic = n_synthetic
        self.max_synthetic = max_synthetic
        self.snap_discrete = snap_discrete
        self.classifier = classifier
        self.distance_feature = distance_feature
        self.weight = weight
        self.weight_scale = weight_scale
        self.normalization = normalization
        self.on_program_error = on_program_error
        self.max_program_rows = max_program_rows
        self.max_classifier_rows = max_classifier_rows
        self.program_timeout = program_timeout
        self.program_memory_mb = program_memory_mb
        self.prefit = prefit
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------------------------ fit
    def fit(self, X, y=None) -> EnhancedDetector:
        """Fit on normal rows ``X``; ``y`` is not used (a warning says so when it marks anomalies).

        Warns with :class:`ConstantColumnWarning` when some columns of ``X`` hold one value only,
        with :class:`ConstantScoreWarning` when the detector scores every row of ``X`` alike,
        with :class:`SyntheticCopiesWarning` when most rows the program returns are copies of
        rows of ``X`` or of one another, with :class:`SmallSampleWarning` when ``X`` has too few
        rows for the automatic weight, and with :class:`SlowFitWarning` before an OCSVM fit on so
        many rows that it may take hours.
        """
        self._check_params()
        self._seed = self._fit_seed()
        names = feature_names(X)
        X = check_X(X, min_rows=2, require_variation=True)
        check_magnitude(X, names)
        warn_constant_columns(X, names)
        warn_ignored_labels(y, len(X))
        # From here on the earlier fit is replaced: should this one fail, the detector is unfitted,
        # rather than a new base detector scored with the old classifier and normalisers.
        for name in _FITTED:
            self.__dict__.pop(name, None)
        # PyOD's predict_proba has one column per class it saw in y; ours are always normal and
        # anomalous (PyOD's _set_n_classes(y) would make it 1 for an all-normal y, and crash it)
        self._classes = 2
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):  # refitted on an array
            del self.feature_names_in_
        self.timings_ = {}
        self.versions_ = _package_versions(self.detector_name_)
        self.program_ = self._resolve_program()  # before the base fit: a bad name fails at once
        self.weight_scale_ = self._resolve_weight_scale()

        # Stage 2 of the method: the detector, the program's rows, the classifier and the fusion.
        started = time.perf_counter()
        self.detector_ = self._fitted_base(X)
        self.base_scores_ = training_scores(self.detector_, X)
        self.timings_["base_fit"] = time.perf_counter() - started
        rng = np.random.default_rng(self._seed)

        started = time.perf_counter()
        self.synthetic_ = self._synthetic_rows(X, rng)
        self.timings_["synthesis"] = time.perf_counter() - started

        started = time.perf_counter()
        self._fit_fusion(X, rng)
        self.timings_["classifier_fit"] = time.perf_counter() - started
        # The separability explains a weight of 0 only where it set the weight.
        separability = self.separability_ if self.weight == "auto" else float("nan")
        warn_constant_scores(self.detector_name_, self.base_scores_, self.weight_, separability)
        self._process_decision_scores()
        return self

    def set_params(self, **params) -> EnhancedDetector:
        """Set parameters, as scikit-learn's ``set_params``; ``detector__NAME`` needs an instance.

        A detector given by name has no parameters to set (scikit-learn would fail with
        ``'str' object has no attribute 'set_params'``): a grid search over its settings needs
        ``EnhancedDetector(make_detector("IForest"))``.
        """
        nested = sorted(key for key in params if key.startswith("detector__"))
        detector = params.get("detector", self.detector)
        if nested and isinstance(detector, str):
            raise ValueError(
                f"cannot set {', '.join(nested)}: the detector is the name {detector!r}; pass an "
                f"instance to tune its parameters, e.g. EnhancedDetector(make_detector("
                f"{detector!r})) with make_detector from llmdas"
            )
        # PyOD's set_params, unlike scikit-learn's, sets a nested parameter on the detector that
        # was there before a new one given in the same call (as a grid search over both does).
        super().set_params(**{key: value for key, value in params.items() if "__" not in key})
        return super().set_params(**{key: value for key, value in params.items() if "__" in key})

    def _check_params(self) -> None:
        detector_name(self.detector)  # an unknown name or a wrong kind of object fails first
        if self.on_program_error not in ("raise", "base"):
            raise ValueError(
                f"on_program_error must be 'raise' or 'base', got {self.on_program_error!r}"
            )
        for name in ("weight", "weight_scale"):
            value = getattr(self, name)
            if isinstance(value, str) and value == "auto":
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be 'auto' or a finite number >= 0, got {value!r}")
        if self.normalization not in ("tail", "minmax"):
            raise ValueError(
                f"normalization must be 'tail' or 'minmax', got {self.normalization!r}"
            )
        for name in ("max_program_rows", "max_classifier_rows", "max_synthetic"):
            limit = getattr(self, name)
            if limit is not None and (not isinstance(limit, int) or limit < 2):
                raise ValueError(f"{name} must be None or an integer >= 2, got {limit!r}")
        for name in ("snap_discrete", "distance_feature", "prefit"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        n_jobs = self.n_jobs
        if n_jobs is not None and (not _is_integer(n_jobs) or n_jobs == 0):
            raise ValueError(
                f"n_jobs must be None or a nonzero integer (-1: all cores), got {n_jobs!r}"
            )
        clf = self.classifier
        if clf is not None and not (
            hasattr(clf, "get_params")  # an estimator at all (is_classifier fails on others)
            and is_classifier(clf)
            and (hasattr(clf, "predict_proba") or hasattr(clf, "decision_function"))
        ):
            raise ValueError(
                "classifier must be a scikit-learn classifier with predict_proba or "
                f"decision_function, got {clf!r}"
            )
        # PyOD checks a number only in __init__ and takes anything else for a thresholder object,
        # so a string or set_params(contamination=0.9) would fail or mislabel after the whole fit.
        share = self.contamination
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 0.5:
            raise ValueError(f"contamination must be a number in (0, 0.5], got {share!r}")
        n = self.n_synthetic
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n <= 0:
            raise ValueError(f"n_synthetic must be a positive fraction or count, got {n!r}")
        # Checked before the base fit, which can take minutes, rather than when the program runs.
        check_seconds(self.program_timeout, "program_timeout")
        memory = self.program_memory_mb
        if not _is_integer(memory) or memory < 64:
            raise ValueError(f"program_memory_mb must be an integer >= 64, got {memory!r}")
        seed = self.random_state
        # One seed feeds the base detector, NumPy's generator and scikit-learn, which all accept
        # integers in [0, 2**32 - 1]; checked here so that a bad one is not reported as a failed
        # base fit.
        if (
            seed is not None
            and not isinstance(seed, _RANDOM_SOURCES)
            and (not _is_integer(seed) or not 0 <= seed < 2**32)
        ):
            raise ValueError(
                "random_state must be None, an integer in [0, 2**32 - 1], a numpy RandomState or "
                f"a numpy Generator, got {seed!r}"
            )

    def _fit_seed(self) -> int | None:
        """This fit's seed: ``random_state`` itself, or one drawn from a random source."""
        source = self.random_state
        if isinstance(source, np.random.RandomState):
            return int(source.randint(2**32, dtype=np.uint64))
        if isinstance(source, np.random.Generator):
            return int(source.integers(2**32))
        return None if source is None else int(source)

    @property
    def detector_name_(self) -> str:
        return detector_name(self.detector)

    def _resolve_program(self) -> SynthesisProgram:
        """The program to run: ``program`` if given, else the detector's built-in program."""
        if self.program is not None:
            return load_program(self.program)
        try:
            return builtin_program(self.detector_name_)
        except (LookupError, ValueError):  # a PyOD detector outside the registry
            covered = ", ".join(p.detector for p in list_builtin())
            raise LookupError(
                f"no built-in synthesis program for the detector {self.detector_name_} (there are "
                f"programs for {covered}); pass program= a program file (.py), a built-in "
                "program's name, or a detector-agnostic baseline such as 'adbench_local'"
            ) from None

    def _resolve_weight_scale(self) -> float:
        """``weight_scale``, or for ``"auto"`` the scale tuned for this program and classifier."""
        if self.weight_scale != "auto":
            return float(self.weight_scale)
        tuned = _BUILTIN_WEIGHT_SCALE.get(self.program_.name)
        # Tuned for the built-in program exactly as shipped, the default classifier and the tail
        # fusion only.
        if tuned is None or self.classifier is not None or self.normalization != "tail":
            return _DEFAULT_WEIGHT_SCALE
        try:
            shipped = builtin_program(self.program_.detector)
        except (LookupError, ValueError):
            return _DEFAULT_WEIGHT_SCALE
        return tuned if shipped.source == self.program_.source else _DEFAULT_WEIGHT_SCALE

    def _make_base(self):
        if isinstance(self.detector, str):
            return make_detector(self.detector, random_state=self._seed)
        # A copy, never the user's instance; PyOD's IForest as llmdas's, whose scores are equal
        # and cheaper to compute, which matters as the program and the fusion score many rows.
        return registry_equivalent(clone(make_detector(self.detector)))

    def _fitted_base(self, X: np.ndarray):
        """The base detector fitted on ``X``, or with ``prefit`` the given one, checked on ``X``."""
        if self.prefit:
            if isinstance(self.detector, str):
                raise ValueError("prefit=True needs a fitted detector instance, not a name")
            try:  # else an unfitted or other-width detector fails in the program, blaming it
                score_detector(self.detector, X[:1])
            except Exception as exc:
                raise ValueError(
                    f"prefit=True: {describe_detector(self.detector)} cannot score rows of "
                    f"{X.shape[1]} features (is it fitted, and on these columns?): {exc}"
                ) from exc
            return self.detector
        detector = self._make_base()
        warn_slow_fit(self.detector_name_, X.shape[0])
        try:
            with np.errstate(all="ignore"):
                detector.fit(X)
        except MemoryError:
            raise
        except Exception as exc:  # KNN's n_neighbors above the number of rows, a bad method
            # PyOD checks few parameters itself: a KNN method it does not know fails later
            # with an AttributeError, which says nothing of the parameter.
            cause = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise ValueError(
                f"the base detector {describe_detector(detector)} could not be fitted "
                f"on {X.shape[0]} rows x {X.shape[1]} features: {cause}"
            ) from exc
        return detector

    def _synthetic_rows(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        """The program's rows, on the columns' support; ``None`` (and ``program_error_`` set)
        where the program failed and ``on_program_error="base"`` falls back to the detector."""
        self.program_error_ = None
        rows = _subsample_index(len(X), self.max_program_rows, rng)
        X_program = X if len(rows) == len(X) else X[rows]
        try:
            synthetic = self._synthesize(X_program, self.base_scores_[rows])
        except ProgramError as error:
            if self.on_program_error == "raise":
                raise
            warnings.warn(
                f"{error}; falling back to the base detector {self.detector_name_}",
                ProgramFallbackWarning,
                stacklevel=3,  # fit's caller
            )
            self.program_error_ = error
            return None
        # Before snapping, which may rightly land a row of discrete data on a training row.
        warn_copies(synthetic, X_program, self.program_.name)
        return snap_to_support(synthetic, X_program) if self.snap_discrete else synthetic

    def _fit_fusion(self, X: np.ndarray, rng: np.random.Generator) -> None:
        """Fit the classifier on ``X`` against ``synthetic_``, the two normalisers and the fused
        training scores ``decision_scores_``; without synthetic rows the weight is 0."""
        if self.synthetic_ is None:
            self.classifier_, self.weight_, self.separability_ = None, 0.0, float("nan")
            self.classifier_scaler_ = self.distance_feature_ = self.classifier_scores_ = None
            clf_train = np.zeros(len(X))
        else:
            clf_train = self.classifier_scores_ = self._fit_classifier(X, self.synthetic_, rng)
        ceiling = score_ceiling(self.detector_, X) if self.normalization == "tail" else None
        self._base_map = None if ceiling is None else LogGap(ceiling)
        self._base_norm, self._clf_norm = make_normalizers(
            self.normalization, self._mapped(self.base_scores_), clf_train
        )
        self.decision_scores_ = fuse(
            self._base_evidence(self.base_scores_),
            self._clf_norm.transform(clf_train),
            self.weight_,
        )

    def _n_samples(self, n_train: int) -> int:
        if isinstance(self.n_synthetic, float):
            n = max(1, math.ceil(self.n_synthetic * n_train))
        else:
            n = int(self.n_synthetic)
        return n if self.max_synthetic is None else min(n, self.max_synthetic)

    def _synthesize(self, X: np.ndarray, train_scores: np.ndarray) -> np.ndarray:
        """Run the program on the training rows ``X``, whose base scores are ``train_scores``."""
        # Programs usually begin by scoring X_train. When the detector's fit scores are plain
        # scores, that call is answered from them (a third of IForest's synthesis time).
        reuse = fit_scores_are_plain(self.detector_)

        def score_fn(Z: np.ndarray) -> np.ndarray:
            if reuse and Z.shape == X.shape and np.array_equal(Z, X):
                return train_scores.copy()
            return score_detector(self.detector_, Z, reference=self.base_scores_)

        limits = SandboxLimits(timeout_s=self.program_timeout, memory_mb=self.program_memory_mb)
        result = run_program(
            self.program_.file_aligned_source,
            score_fn,
            X,
            self._n_samples(X.shape[0]),
            seed=self._seed,
            limits=limits,
        )
        self.program_log_ = result.log
        return result.X

    def _fit_classifier(
        self, X: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Fit ``classifier_``, set ``separability_`` and ``weight_``; return its scores of ``X``
        (P(anomaly), or the ``decision_function`` of a classifier without probabilities).

        The classifier trains on at most ``max_classifier_rows`` normal rows plus the synthetic
        ones. Every returned score is out-of-sample: out-of-bag (or cross-fitted) for the rows
        the classifier trained on, a plain prediction for the rows it never saw.
        """
        rows = _subsample_index(len(X), self.max_classifier_rows, rng)
        # The classifier sees every column centred and scaled by the normal rows it trains on.
        # Trees are blind to that for sensible values, but not at the extremes: they compare
        # float32 copies (a column of Unix times, about 1.7e9, then moves in steps of 128 s) and
        # take a column whose values in a node span less than 1e-7 for constant.
        self.classifier_scaler_ = StandardScaler().fit(X[rows])
        labels = np.r_[np.zeros(len(rows)), np.ones(len(synthetic))].astype(int)
        self.distance_feature_ = own_distance = synthetic_distance = None
        # A subsample of copies of one row (max_classifier_rows of heavily repeated data) has no
        # distance between distinct rows to measure: the classifier sees the columns alone.
        if self.distance_feature and (X[rows] != X[rows[0]]).any():
            neighbours, own_distance = NeighbourDistance.fit(X[rows], rng)
            synthetic_distance = neighbours.transform(synthetic)
            # The column tells rows far from the data. Synthetic rows no farther from it than the
            # normal rows (SMOTE's interpolations) could only teach the trees the reverse, and
            # the normal test rows nearest the data would then score as anomalies: leave it out.
            if _roc_auc(labels, np.r_[own_distance, synthetic_distance]) > 0.5:
                self.distance_feature_ = neighbours
        data = np.vstack(
            [
                self._classifier_input(X[rows], own_distance),
                self._classifier_input(synthetic, synthetic_distance),
            ]
        )
        clf = self._make_classifier(len(data))
        clf.fit(data, labels)
        scores = _out_of_sample_scores(clf, data, labels)
        self.classifier_ = clf
        self.separability_ = _roc_auc(labels, scores)
        self._set_weight(len(rows), len(synthetic))

        clf_train = np.empty(len(X))
        clf_train[rows] = scores[: len(rows)]
        if len(rows) < len(X):
            rest = np.setdiff1d(np.arange(len(X)), rows, assume_unique=True)
            clf_train[rest] = self._classifier_scores(X[rest])
        return clf_train

    def _set_weight(self, n_normal: int, n_synthetic: int) -> None:
        """``weight_`` from ``separability_`` (``weight="auto"``) or as given; warns when the
        classifier trained on so few rows that chance alone moves its separability much."""
        if self.weight != "auto":
            self.weight_ = float(self.weight)
            return
        self.weight_ = separability_weight(self.separability_, self.weight_scale_)
        spread = chance_auc_spread(n_normal, n_synthetic)
        if spread > _MAX_CHANCE_AUC_SPREAD:
            outcome = (
                "came out 0 this time, but another seed may give a weight of noise"
                if self.weight_ == 0
                else f"of {self.weight_:.2f} is mostly noise"
            )
            warnings.warn(
                f"only {n_normal} training and {n_synthetic} synthetic rows: a classifier with no "
                f"skill would still reach a separability of 0.5 ± {spread:.2f}, so the weight "
                f"{outcome}; pass weight=0 to use the base detector {self.detector_name_} alone",
                SmallSampleWarning,
                stacklevel=5,  # fit's caller: fit -> _fit_fusion -> _fit_classifier -> here
            )

    def _make_classifier(self, n_rows: int):
        if self.classifier is not None:
            return clone(self.classifier)
        # Small bootstrap samples keep each tree cheap on large data and leave every row out of
        # many trees, so out-of-bag estimates exist for all rows.
        max_samples = _DEFAULT_TREE_ROWS / n_rows if n_rows > _DEFAULT_TREE_ROWS else None
        return ExtraTreesClassifier(
            n_estimators=_DEFAULT_TREES,
            bootstrap=True,
            max_samples=max_samples,
            oob_score=True,
            random_state=self._seed,
            n_jobs=self.n_jobs,
        )

    # -------------------------------------------------------------------------------- scoring
    def decision_function(self, X) -> np.ndarray:
        """Fused anomaly scores of ``X`` (higher = more anomalous)."""
        parts = self.score_parts(X)
        return parts.base + parts.classifier

    def predict_proba(self, X, method: str = "linear", return_confidence: bool = False):
        """PyOD's outlier probabilities of ``X`` (``method`` is ``"linear"`` or ``"unify"``).

        The method is checked before ``X`` is scored: PyOD finds a wrong one only afterwards, and
        names it in a tuple rather than a sentence.
        """
        if method not in ("linear", "unify"):
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
        return super().predict_proba(X, method=method, return_confidence=return_confidence)

    def score_parts(self, X) -> ScoreParts:
        """The two summands of each fused score of ``X``: the detector's and the classifier's.

        ``decision_function(X) == parts.base + parts.classifier``. ``base`` is the detector's
        normalised evidence ``T(f_t(x))``; ``classifier`` is ``weight_ * C(f~(x))``, with the
        default ``normalization="tail"`` the ``-log`` tail p-value of the classifier's score among
        its out-of-sample scores of the training rows (0 for the rows it rates least anomalous, about
        ``log(n_train)`` at the training rows' highest score, and more past it). A row flagged
        mostly through ``classifier`` is one the detector alone scores as ordinary but that
        resembles the synthetic anomalies.
        """
        check_is_fitted(self, _FITTED)
        X = self._check_scoring_input(X)
        base = self._base_evidence(score_detector(self.detector_, X, reference=self.base_scores_))
        if self.classifier_ is None or self.weight_ == 0:
            return ScoreParts(base, np.zeros(len(X)))
        scores = self._classifier_scores(X)
        return ScoreParts(base, self.weight_ * self._clf_norm.transform(scores))

    def _mapped(self, scores: np.ndarray) -> np.ndarray:
        """Base scores on the scale ``T`` is fitted on (:class:`~llmdas.fusion.LogGap` or none)."""
        base_map = getattr(self, "_base_map", None)  # None in models saved before it
        return scores if base_map is None else base_map(scores)

    def _base_evidence(self, scores: np.ndarray) -> np.ndarray:
        """``T`` of base scores: the detector's share of the fused score."""
        return self._base_norm.transform(self._mapped(scores))

    def _classifier_scores(self, X: np.ndarray) -> np.ndarray:
        """The classifier's score of class 1 (synthetic anomaly) for each row of ``X``.

        By chunks of rows, so that the standardised copy of ``X`` stays small on large data.
        """
        score = getattr(self.classifier_, _score_method(self.classifier_))
        parts = []
        for start in range(0, len(X), _SCORING_CHUNK_ROWS):
            chunk = X[start : start + _SCORING_CHUNK_ROWS]
            parts.append(_class_1(score(self._classifier_input(chunk))))
        return np.concatenate(parts) if parts else np.empty(0)

    def _classifier_input(self, X: np.ndarray, distance: np.ndarray | None = None) -> np.ndarray:
        """What the classifier sees of ``X``: its standardised columns, then its neighbour distance.

        ``distance`` is the distance column when it is already known (as in the fit); otherwise
        it is measured.
        """
        scaler = getattr(self, "classifier_scaler_", None)  # None in models saved before it
        neighbours = getattr(self, "distance_feature_", None)  # likewise
        columns = X if scaler is None else scaler.transform(X)
        if neighbours is not None:
            extra = neighbours.transform(X) if distance is None else distance
            columns = np.column_stack([columns, extra])
        return _in_float32_range(columns)

    def base_decision_function(self, X) -> np.ndarray:
        """The base detector's own (finite) scores of ``X``, for comparison."""
        check_is_fitted(self, _FITTED)
        X = self._check_scoring_input(X)
        return score_detector(self.detector_, X, reference=self.base_scores_)

    def _check_scoring_input(self, X) -> np.ndarray:
        """``X`` as a checked array; a data frame's columns must be the fitted ones, in order."""
        fitted, given = getattr(self, "feature_names_in_", None), feature_names(X)
        if (fitted is None) != (given is None):
            warnings.warn(
                "X has no column names, but this detector was fitted with column names; the "
                "columns are taken to be the fitted ones in their order"
                if given is None
                else "X has column names, but this detector was fitted without them; they are "
                "not checked",
                FeatureNamesWarning,
                stacklevel=3,
            )
        check_feature_names(fitted, given)
        return check_X(X, n_features=self.n_features_in_)

    # ---------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Pickle the fitted detector to ``path`` with joblib; read it back with :func:`load`."""
        check_is_fitted(self, _FITTED)  # a file that scores nothing
        path = Path(path)
        with replacing(path) as tmp:  # a failed save keeps the model file that was there
            joblib.dump({"llmdas_model": self, "format": MODEL_FORMAT}, tmp)
        return path


def _a_kind_of(value: object) -> str:
    """``a dict``, ``an IsolationForest``: what an unpickled object is, for an error."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _package_versions(detector: str) -> dict[str, str]:
    """Installed versions of the packages that compute a ``detector`` model's scores."""
    from llmdas import __version__  # also right when llmdas runs from a source tree

    packages = _SCORING_PACKAGES + (("torch",) if detector == "DRL" else ())
    return {"llmdas": __version__} | {package: _installed_version(package) for package in packages}


@functools.cache  # reading package metadata takes milliseconds, fits may not
def _installed_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _is_integer(value) -> bool:
    """An integer parameter: Python's or NumPy's, but not a bool (which Python counts as one)."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _subsample_index(n: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``limit`` of ``n`` rows (all of them when ``limit`` is None)."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(rng.choice(n, size=limit, replace=False))


def _score_method(clf) -> str:
    """How a classifier scores rows as anomalous: its probability if it has one."""
    return "predict_proba" if hasattr(clf, "predict_proba") else "decision_function"


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _in_float32_range(X: np.ndarray) -> np.ndarray:
    """``X`` with values beyond float32's range clipped to it.

    scikit-learn's trees compare float32 copies of the features, and refuse a value that becomes
    infinite as float32 (a finite 1e300, say). Clipped, such a value still lies beyond every split
    threshold, so the trees' answers stay those of the value itself.
    """
    if X.size and max(X.max(), -X.min()) > _FLOAT32_MAX:  # no |X| copy of a large X
        return np.clip(X, -_FLOAT32_MAX, _FLOAT32_MAX)
    return X


def _class_1(scores: np.ndarray) -> np.ndarray:
    """Class 1's column of ``predict_proba``'s output; ``decision_function``'s is 1-D already."""
    return scores[:, 1] if scores.ndim == 2 else scores


def _out_of_sample_scores(clf, data: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The anomaly score of every training row from models that did not see it (OOB or 5-fold)."""
    oob = getattr(clf, "oob_decision_function_", None)
    if oob is not None:
        proba = oob[:, 1]
        # A row that no tree left out has no OOB estimate (NaN): call it undecided.
        return np.where(np.isfinite(proba), proba, 0.5)
    n_synthetic, n_normal = int(labels.sum()), int((labels == 0).sum())
    n_splits = min(5, n_synthetic, n_normal)
    if n_splits < 2:
        raise ValueError(
            f"cross-fitting the classifier needs at least 2 synthetic and 2 normal rows, got "
            f"{n_synthetic} and {n_normal}: raise n_synthetic, or use a classifier with "
            "out-of-bag estimates (the default has them)"
        )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
    method = _score_method(clf)
    return _class_1(cross_val_predict(clone(clf), data, labels, cv=folds, method=method))


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def load(path: str | Path) -> EnhancedDetector:
    """Load a detector saved with :meth:`EnhancedDetector.save` (only open files you trust)."""
    require_file(path, "model file")
    try:
        payload = joblib.load(Path(path))
    except ModuleNotFoundError as exc:  # e.g. a DRL model, and no PyTorch in this environment
        package = (exc.name or "").partition(".")[0] or "a package"
        raise ImportError(
            f"{path} needs the package {package}, which is not installed here: pip install "
            f"{install_hint(package)}, or load it where it was saved"
        ) from None
    except Exception as exc:  # unpickling a file of another kind can raise almost anything
        raise ValueError(
            f"{path} is not an llmdas model file (joblib could not read it: {exc!r})"
        ) from None
    if isinstance(payload, EnhancedDetector):  # joblib.dump(detector, path), as with scikit-learn
        raise ValueError(
            f"{path} holds a detector pickled without its model format; save it with "
            "detector.save(path), which records the format that load checks (no refit needed: "
            f"joblib.load({str(path)!r}).save({str(path)!r}))"
        )
    if not isinstance(payload, dict) or "llmdas_model" not in payload:
        raise ValueError(f"{path} is not an llmdas model file (it holds {_a_kind_of(payload)})")
    if payload.get("format") not in _READABLE_FORMATS:
        *older, newest = map(str, _READABLE_FORMATS)
        readable = f"{', '.join(older)} and {newest}" if older else newest
        raise ValueError(
            f"{path} was saved by another llmdas version (model format {payload.get('format')}, "
            f"this one reads {readable}); fit and save the detector again"
        )
    model = payload["llmdas_model"]
    if not isinstance(model, EnhancedDetector) or not all(hasattr(model, a) for a in _FITTED):
        raise ValueError(f"{path} holds no fitted llmdas detector (fit one, then save it)")
    fitted_with = getattr(model, "versions_", None)  # None in files from before llmdas recorded it
    if fitted_with:
        now = _package_versions(model.detector_name_)
        changed = [name for name in fitted_with if now.get(name) != fitted_with[name]]
        if changed:
            then = ", ".join(f"{name} {fitted_with[name]}" for name in changed)
            here = ", ".join(f"{name} {now.get(name, 'not installed')}" for name in changed)
            warnings.warn(
                f"{path} was fitted with {then}; this environment has {here}: its scores may "
                "differ from those it gave when fitted (fit it again here to be sure)",
                ModelVersionWarning,
                stacklevel=2,
            )
    return model
