"""EnhancedDetector: the PyOD API, the fusion, reproducibility, fallbacks and persistence."""

import copy
import dataclasses
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from pyod.models.iforest import IForest
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score

from llmdas import EnhancedDetector, SynthesisProgram, load
from llmdas.detectors import make_detector
from llmdas.enhanced import (
    ConstantColumnWarning,
    ConstantScoreWarning,
    FeatureNamesWarning,
    ModelVersionWarning,
    ProgramFallbackWarning,
    SlowFitWarning,
    SmallSampleWarning,
    SyntheticCopiesWarning,
)
from llmdas.fusion import EcdfNormalizer, TailNormalizer
from llmdas.programs import builtin_program
from llmdas.sandbox import BadOutputError, ProgramCrashError

JITTER = SynthesisProgram.from_source(
    "def generate_hard_anomalies(n_samples, model, X_train):\n"
    "    import numpy as np\n"
    "    rng = np.random.default_rng()\n"
    "    rows = X_train[rng.integers(len(X_train), size=n_samples)]\n"
    "    return rows + rng.normal(scale=2.0, size=rows.shape)\n",
    name="jitter",
)
CRASH = SynthesisProgram.from_source(
    "def generate_hard_anomalies(n_samples, model, X_train):\n    return 1 / 0\n", name="crash"
)


def classifier_view(det, X):
    """The rows as the classifier of ``det`` sees them: standardised columns, then the distance."""
    return np.column_stack(
        [det.classifier_scaler_.transform(X), det.distance_feature_.transform(X)]
    )


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(7)
    cov = 0.6 * np.ones((6, 6)) + 0.4 * np.eye(6)
    X_train = rng.multivariate_normal(np.zeros(6), cov, size=200)
    return EnhancedDetector("IForest", program=JITTER, random_state=0).fit(X_train), X_train


def test_pyod_attributes_and_shapes(fitted):
    det, X_train = fitted
    n = len(X_train)
    assert det.decision_scores_.shape == (n,)
    assert det.labels_.shape == (n,) and set(np.unique(det.labels_)) <= {0, 1}
    assert np.isclose((det.decision_scores_ > det.threshold_).mean(), 0.1, atol=0.02)
    assert det.synthetic_.shape == (100, 6)  # ceil(0.5 * 200)
    assert det.program_.name == "jitter"
    assert set(det.timings_) == {"base_fit", "synthesis", "classifier_fit"}
    X_new = np.vstack([X_train[:5], X_train[:5] + 6.0])
    proba = det.predict_proba(X_new)
    assert proba.shape == (10, 2) and np.allclose(proba.sum(axis=1), 1)
    assert det.predict(X_new)[5:].all()


def test_predict_proba_names_a_wrong_method(fitted, monkeypatch):
    det, X_train = fitted
    unify = det.predict_proba(X_train[:5], method="unify")
    assert unify.shape == (5, 2) and np.allclose(unify.sum(axis=1), 1)
    scored = []  # the method is checked before any row is scored
    monkeypatch.setattr(det, "decision_function", lambda X: scored.append(X))
    with pytest.raises(ValueError, match=r"method must be 'linear' or 'unify', got 'softmax'"):
        det.predict_proba(X_train[:5], method="softmax")
    assert scored == []


def test_labels_given_to_fit_are_not_used_and_say_so(fitted):
    det, X_train = fitted
    X_new = np.vstack([X_train[:5], X_train[:5] + 6.0])
    all_normal = clone(det).fit(X_train, np.zeros(len(X_train)))  # e.g. y of the paper's split
    assert np.array_equal(all_normal.decision_function(X_new), det.decision_function(X_new))
    assert np.array_equal(all_normal.predict_proba(X_new), det.predict_proba(X_new))
    y = np.arange(len(X_train)) % 3  # neither 0/1 nor used: still two probability columns
    with pytest.warns(UserWarning, match=r"fit ignores y: .* the 133 row\(s\) that y marks"):
        flagged = clone(det).fit(X_train, y)
    assert flagged.predict_proba(X_new).shape == (10, 2)
    with pytest.raises(ValueError, match=r"one label per row of X \(200\), got shape \(5,\)"):
        clone(det).fit(X_train, y[:5])


def test_paper_fusion_is_minmax_base_plus_weighted_classifier(fitted):
    _, X_train = fitted
    det = EnhancedDetector(
        "IForest", program=JITTER, normalization="minmax", weight=0.5, random_state=0
    ).fit(X_train)
    X_new = X_train[:30] * 1.5
    base = det.base_decision_function(X_new)
    base_train = det.base_scores_
    expected_base = (base - base_train.min()) / (base_train.max() - base_train.min())
    proba = det.classifier_.predict_proba(classifier_view(det, X_new))[:, 1]
    clf_train = det.classifier_.oob_decision_function_[: len(X_train), 1]
    expected_clf = (proba - clf_train.min()) / (clf_train.max() - clf_train.min())
    assert det.weight_ == 0.5
    assert np.allclose(det.decision_function(X_new), expected_base + 0.5 * expected_clf)


def test_default_fusion_adds_auto_weighted_tail_evidence_of_both_scores(fitted):
    det, X_train = fitted
    oob = det.classifier_.oob_decision_function_[:, 1]
    labels = np.r_[np.zeros(len(X_train)), np.ones(len(det.synthetic_))]
    auc = roc_auc_score(labels, oob)
    assert det.separability_ == pytest.approx(auc)
    assert det.weight_ == pytest.approx(0.7 * max(0.0, 2 * auc - 1))
    assert np.array_equal(det.classifier_scores_, oob[: len(X_train)])
    X_new = np.vstack([X_train[:30], X_train[:5] + 10.0])
    T = TailNormalizer.fit(det.base_scores_)
    C = TailNormalizer.fit(oob[: len(X_train)])
    proba = det.classifier_.predict_proba(classifier_view(det, X_new))[:, 1]
    expected = T.transform(det.base_decision_function(X_new)) + det.weight_ * C.transform(proba)
    assert np.allclose(det.decision_function(X_new), expected)
    # Far-out rows keep growing past the training range instead of saturating.
    assert det.decision_function(X_new)[30:].min() > det.decision_scores_.max()


def test_auto_weight_scale_is_tuned_only_for_a_shipped_program_and_the_default_fit(split):
    X_train = split[0][:150]
    shipped = builtin_program("IForest")
    edited = dataclasses.replace(shipped, source=shipped.source + "\n# edited\n")
    scales = {
        "shipped": EnhancedDetector("IForest", random_state=0),
        "by name": EnhancedDetector("IForest", program=shipped.name, random_state=0),
        "edited": EnhancedDetector("IForest", program=edited, random_state=0),
        "other classifier": EnhancedDetector(
            "IForest", classifier=ExtraTreesClassifier(10, random_state=0), random_state=0
        ),
        "explicit": EnhancedDetector("IForest", weight_scale=2.5, random_state=0),
        "min-max fusion": EnhancedDetector("IForest", normalization="minmax", random_state=0),
    }
    scales = {key: det.fit(X_train).weight_scale_ for key, det in scales.items()}
    assert scales == {
        "shipped": 1.5,
        "by name": 1.5,
        "edited": 0.7,
        "other classifier": 0.7,
        "explicit": 2.5,
        "min-max fusion": 0.7,
    }
    assert EnhancedDetector("ECOD", random_state=0).fit(X_train).weight_scale_ == 0.6


def test_score_parts_add_up_to_the_fused_score(fitted):
    det, X_train = fitted
    X_new = np.vstack([X_train[:30], X_train[:5] + 10.0])
    base, classifier = det.score_parts(X_new)
    assert np.array_equal(base + classifier, det.decision_function(X_new))
    T = TailNormalizer.fit(det.base_scores_)
    assert np.array_equal(base, T.transform(det.base_decision_function(X_new)))
    assert det.weight_ > 0 and (classifier >= 0).all()
    assert classifier[30:].min() > np.median(classifier[:30])  # far-out rows look synthetic
    alone = EnhancedDetector("IForest", program=JITTER, weight=0.0, random_state=0).fit(X_train)
    assert not alone.score_parts(X_new).classifier.any()


def test_data_frames_must_be_scored_with_their_fitted_columns(fitted):
    pd = pytest.importorskip("pandas")
    _, X_train = fitted
    columns = [f"f{i}" for i in range(X_train.shape[1])]
    frame = pd.DataFrame(X_train, columns=columns)
    det = EnhancedDetector("IForest", program=JITTER, random_state=0).fit(frame)
    assert list(det.feature_names_in_) == columns
    with pytest.warns(FeatureNamesWarning):  # an array has no names to check
        expected = det.decision_function(X_train[:10])
    assert np.array_equal(det.decision_function(frame.iloc[:10]), expected)
    with pytest.raises(ValueError, match="different order"):
        det.decision_function(frame[columns[::-1]])
    with pytest.raises(ValueError, match="missing 'f5'; not seen at fit 'label'"):
        det.predict(frame.rename(columns={"f5": "label"}))
    with pytest.raises(ValueError, match="different order"):
        det.base_decision_function(frame[columns[::-1]])
    det.fit(X_train)  # refitted on an array: no names left to check against
    assert not hasattr(det, "feature_names_in_")
    assert det.decision_function(frame[columns[::-1]].to_numpy()).shape == (len(X_train),)


def test_unseparable_synthetic_rows_get_weight_zero(split):
    X_train, X_test, _ = split
    copies = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    import numpy as np\n"
        "    rng = np.random.default_rng()\n"
        "    rows = X_train[rng.integers(len(X_train), size=n_samples)]\n"
        "    return rows + 1e-9 * rng.normal(size=rows.shape)\n",
        name="near-copies",
    )
    det = EnhancedDetector("ECOD", program=copies, n_synthetic=0.5, random_state=0).fit(X_train)
    assert det.separability_ < 0.6 and det.weight_ < 0.2 * det.weight_scale_
    if det.weight_ == 0:
        T = TailNormalizer.fit(det.base_scores_)
        assert np.allclose(
            det.decision_function(X_test), T.transform(det.base_decision_function(X_test))
        )


def test_a_classifier_sure_of_every_normal_row_keeps_a_bounded_share(split):
    # Rows far from the data: every normal row's out-of-bag probability is 0. The classifier's
    # evidence must stay of the order of the detector's, not 1e12 per unit of probability.
    X_train, X_test, _ = split
    far = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    return X_train[:n_samples] + 100.0\n",
        name="far",
    )
    det = EnhancedDetector("IForest", program=far, random_state=0).fit(X_train)
    assert det.separability_ == 1.0 and np.ptp(det.classifier_scores_) == 0
    parts = det.score_parts(np.vstack([X_test, X_train[:5] + 100.0]))
    assert 0 < parts.classifier.max() <= 10 * det.weight_  # a probability of at most 1, in tenths
    assert np.abs(parts.base).max() < 1e3


def test_weight_zero_keeps_the_detectors_ranking_exactly():
    # 30 training rows: most test scores fall between the same two training scores.
    rng = np.random.default_rng(3)
    X_train, X_test = rng.normal(size=(30, 4)), rng.normal(size=(200, 4)) * 1.5
    det = EnhancedDetector("ECOD", weight=0.0, random_state=0).fit(X_train)
    base, fused = det.base_decision_function(X_test), det.decision_function(X_test)
    order = np.argsort(base)
    steps, base_steps = np.diff(fused[order]), np.diff(base[order])
    # Same order; a tie only where the base scores differ by float rounding.
    assert (steps >= 0).all() and ((steps > 0) | (base_steps < 1e-9)).all()


def test_few_training_rows_warn_that_the_automatic_weight_is_noise(recwarn):
    rng = np.random.default_rng(4)
    with pytest.warns(SmallSampleWarning, match="only 16 training and 8 synthetic rows"):
        EnhancedDetector("ECOD", random_state=0).fit(rng.normal(size=(16, 4)))
    # No warning with a weight the user chose, nor with enough rows for the AUC to mean something.
    EnhancedDetector("ECOD", weight=1.0, random_state=0).fit(rng.normal(size=(16, 4)))
    EnhancedDetector("ECOD", random_state=0).fit(rng.normal(size=(40, 4)))
    assert not [w for w in recwarn if issubclass(w.category, SmallSampleWarning)]


def test_training_scores_are_out_of_sample(fitted):
    det, _ = fitted
    # In-sample forest probabilities on memorised rows are ~0; out-of-bag ones vary.
    oob = det.classifier_.oob_decision_function_[: len(det.base_scores_), 1]
    assert oob.std() > 0.01


def test_enhancement_helps_on_dependency_anomalies():
    # Strongly correlated normal rows; anomalies keep the marginals but break the correlation,
    # which IForest's axis-parallel splits see only partly.
    rng = np.random.default_rng(0)
    cov = 0.95 * np.ones((6, 6)) + 0.05 * np.eye(6)
    X = rng.multivariate_normal(np.zeros(6), cov, size=600)
    X_train, X_test = X[:400], np.vstack([X[400:], rng.normal(size=(40, 6))])
    y_test = np.r_[np.zeros(200), np.ones(40)]
    for params, margin in (({}, 0.005), ({"normalization": "minmax", "weight": 1.0}, 0.02)):
        det = EnhancedDetector(
            "IForest", program=JITTER, n_synthetic=1.0, random_state=0, **params
        ).fit(X_train)
        base_auc = roc_auc_score(y_test, det.base_decision_function(X_test))
        enhanced_auc = roc_auc_score(y_test, det.decision_function(X_test))
        assert enhanced_auc > base_auc + margin, params


def test_the_distance_column_finds_rows_between_the_clusters_of_normal_rows():
    # Digits: every value of an unseen digit is an ordinary pixel value, but the image lies far
    # from every training image. Trees on the pixels alone see that poorly (docs/method.md).
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    normal, unseen = X[digit != 4], X[digit == 4][:30]
    X_test = np.vstack([normal[1::2], unseen])
    y_test = np.r_[np.zeros(len(normal[1::2])), np.ones(len(unseen))]
    found = {}
    for distance_feature in (True, False):
        det = EnhancedDetector("PCA", distance_feature=distance_feature, random_state=0)
        det.fit(normal[::2])
        found[distance_feature] = average_precision_score(y_test, det.decision_function(X_test))
    assert det.classifier_.n_features_in_ == X.shape[1]  # no distance column when switched off
    assert found[True] > found[False] + 0.03


def test_rows_closer_to_the_data_than_normal_rows_are_not_taken_for_anomalies(split):
    # SMOTE-style rows interpolate between training rows, so they lie closer to the data than
    # training rows do to one another. With the distance column, trees learned "near the data:
    # synthetic" and ranked the normal test rows nearest the data as anomalies; the column is
    # left out of such a fit.
    X_train, _, _ = split
    det = EnhancedDetector("PCA", program="smote", random_state=0).fit(X_train)
    assert det.distance_feature_ is None and det.classifier_.n_features_in_ == X_train.shape[1]
    assert det.weight_ < 0.1 * det.weight_scale_
    kept = EnhancedDetector("PCA", program=JITTER, random_state=0).fit(X_train)
    assert kept.distance_feature_ is not None


def test_a_classifier_subsample_of_one_repeated_row_fits_without_the_distance_column():
    # Heavily repeated data and a small max_classifier_rows can leave the classifier copies of a
    # single row, between which there is no distance to measure.
    X = np.vstack([np.zeros((50, 3)), np.ones((1, 3))])
    with pytest.warns(SmallSampleWarning):  # 2 rows: the weight is noise, and fit says so
        det = EnhancedDetector("PCA", max_classifier_rows=2, random_state=0).fit(X)
    assert det.distance_feature_ is None and det.classifier_.n_features_in_ == 3
    assert np.isfinite(det.decision_function(X)).all()


def test_reproducible_with_random_state(split):
    X_train, X_test, _ = split
    a = EnhancedDetector("IForest", random_state=1).fit(X_train).decision_function(X_test)
    b = EnhancedDetector("IForest", random_state=1).fit(X_train).decision_function(X_test)
    c = EnhancedDetector("IForest", random_state=2).fit(X_train).decision_function(X_test)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("make_source", [np.random.RandomState, np.random.default_rng])
def test_a_random_source_seeds_each_fit_anew_and_reproducibly(split, make_source):
    """As in scikit-learn: a RandomState (or Generator) gives every fit a seed drawn from it."""
    X_train, X_test, _ = split

    def two_fits(source):
        det = EnhancedDetector("IForest", random_state=source)
        return [det.fit(X_train).decision_function(X_test) for _ in range(2)]

    first, second = two_fits(make_source(7))
    again = two_fits(make_source(7))
    assert not np.allclose(first, second)  # the source moved on between the fits
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])


def test_program_error_raises_by_default_and_falls_back_on_request(split):
    X_train, X_test, _ = split
    with pytest.raises(ProgramCrashError, match="ZeroDivisionError"):
        EnhancedDetector("ECOD", program=CRASH).fit(X_train)
    with pytest.warns(ProgramFallbackWarning, match="falling back to the base detector ECOD"):
        det = EnhancedDetector("ECOD", program=CRASH, on_program_error="base").fit(X_train)
    assert det.classifier_ is None and det.synthetic_ is None
    assert isinstance(det.program_error_, ProgramCrashError) and det.weight_ == 0
    expected = TailNormalizer.fit(det.base_scores_).transform(det.base_decision_function(X_test))
    assert np.allclose(det.decision_function(X_test), expected)


def test_garbage_output_is_a_bad_output_error(split):
    X_train, _, _ = split
    nan_program = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    import numpy as np\n"
        "    return np.full((n_samples, X_train.shape[1]), np.nan)\n"
    )
    with pytest.raises(BadOutputError):
        EnhancedDetector("PCA", program=nan_program).fit(X_train)


def test_discrete_columns_of_synthetic_rows_hold_only_values_they_can_take():
    rng = np.random.default_rng(3)
    X_train = np.column_stack([rng.integers(0, 2, (300, 4)), rng.integers(0, 50, (300, 2))])
    X_train = X_train.astype(float)
    snapped = EnhancedDetector("IForest", program=JITTER, random_state=0).fit(X_train)
    assert set(np.unique(snapped.synthetic_[:, :4])) <= {0.0, 1.0}
    assert np.array_equal(snapped.synthetic_, np.round(snapped.synthetic_))
    raw = EnhancedDetector("IForest", program=JITTER, snap_discrete=False, random_state=0)
    raw.fit(X_train)
    assert not np.array_equal(raw.synthetic_, np.round(raw.synthetic_))
    # Off the support, synthetic rows give themselves away: the classifier separates them
    # perfectly and would get the largest weight for a signal that no test row carries.
    assert raw.separability_ > 0.99 and raw.weight_ > snapped.weight_
    assert snapped.separability_ < 0.99


def test_custom_classifier_and_instance_detector(split):
    X_train, X_test, y_test = split
    base = IForest(n_estimators=50, random_state=0)
    for clf in (ExtraTreesClassifier(n_estimators=50, random_state=0), LogisticRegression()):
        det = EnhancedDetector(base, classifier=clf, random_state=0).fit(X_train)
        assert np.isfinite(det.decision_function(X_test)).all()
    assert not hasattr(base, "decision_scores_")  # the user's instance was cloned, not fitted
    # Without out-of-bag estimates the training rows are scored by cross-fitting, which needs
    # two synthetic rows at least: the error says which count is short and how to raise it.
    one = EnhancedDetector("PCA", classifier=LogisticRegression(), n_synthetic=1, random_state=0)
    with pytest.raises(ValueError, match=r"at least 2 synthetic and 2 normal rows, got 1 and"):
        one.fit(X_train)


def test_a_classifier_without_probabilities_is_fused_by_its_decision_function(split):
    from sklearn.svm import SVC

    X_train, X_test, _ = split
    det = EnhancedDetector("PCA", classifier=SVC(), random_state=0).fit(X_train)  # the paper's SVM
    assert not hasattr(det.classifier_, "predict_proba")
    assert det.weight_ > 0 and 0.5 < det.separability_ <= 1
    parts = det.score_parts(X_test)
    margin = det.classifier_.decision_function(classifier_view(det, X_test))
    # The classifier's share of each score follows its margin's order among the training rows.
    order = np.argsort(margin, kind="stable")
    assert (np.diff(parts.classifier[order]) >= 0).all() and np.ptp(parts.classifier) > 0


@pytest.mark.parametrize(
    "classifier", [LinearRegression(), "rf", object()], ids=["regressor", "name", "object"]
)
def test_a_classifier_that_cannot_score_rows_is_refused_before_the_fit(classifier, split):
    with pytest.raises(ValueError, match="classifier must be a scikit-learn classifier with"):
        EnhancedDetector("PCA", classifier=classifier).fit(split[0])


@pytest.mark.parametrize("prefit", [False, True])
def test_a_scikit_learn_outlier_detector_is_refused_even_with_a_program(prefit, split):
    # Its decision_function is higher for normal rows: fitted and fused, it would rank backwards.
    from sklearn.ensemble import IsolationForest

    base = IsolationForest(random_state=0)
    if prefit:
        base.fit(split[0])
    det = EnhancedDetector(base, program="IForest", prefit=prefit)
    with pytest.raises(TypeError, match="IsolationForest follows scikit-learn's convention"):
        det.fit(split[0])
    with pytest.raises(TypeError, match="PyOD-style detector, got NoneType"):
        EnhancedDetector(None).fit(np.full((3, 2), np.nan))  # before the rows are looked at


def test_a_pyod_iforest_instance_is_scored_by_the_registry_class(split):
    from llmdas.detectors.iforest import IForest as LlmdasIForest

    X_train, X_test, _ = split
    base = IForest(n_estimators=30, max_samples=64, random_state=3)
    det = EnhancedDetector(base, random_state=0).fit(X_train)
    assert type(det.detector_) is LlmdasIForest
    assert det.detector_.get_params() == base.get_params()
    assert type(base) is IForest and not hasattr(base, "decision_scores_")
    # The same scores as the user's own class gives.
    own = clone(base).fit(X_train)
    assert np.array_equal(det.base_scores_, own.decision_scores_)
    assert np.array_equal(det.base_decision_function(X_test), own.decision_function(X_test))
    named = EnhancedDetector(
        make_detector("IForest", n_estimators=30, max_samples=64, random_state=3), random_state=0
    ).fit(X_train)
    assert np.array_equal(det.decision_function(X_test), named.decision_function(X_test))


def test_a_detector_without_a_built_in_program_needs_one_named(split, monkeypatch):
    from pyod.models.gmm import GMM

    X_train, X_test, _ = split
    fits = []
    monkeypatch.setattr(GMM, "fit", lambda self, X, y=None: fits.append(X))
    with pytest.raises(LookupError, match="no built-in synthesis program for the detector GMM"):
        EnhancedDetector(GMM()).fit(X_train)
    assert not fits  # refused before the (possibly long) base fit
    monkeypatch.undo()
    det = EnhancedDetector(GMM(), program="adbench_local", random_state=0).fit(X_train)
    assert det.program_.name == "adbench_local" and np.isfinite(det.decision_function(X_test)).all()


def test_a_base_detector_that_cannot_fit_the_rows_is_named():
    X = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(
        ValueError, match="base detector KNN could not be fitted on 4 rows x 3 feat"
    ):
        EnhancedDetector("KNN").fit(X)  # n_neighbors=5 needs more rows
    # PyOD's KNN takes any method and then fails on it with an AttributeError deep in its fit;
    # the message names the changed parameter and keeps the original error's type.
    with pytest.raises(ValueError, match=r"KNN\(method='foo'\) could not .*: AttributeError"):
        EnhancedDetector(make_detector("KNN", method="foo")).fit(np.tile(X, (5, 1)))


def test_a_failed_refit_leaves_the_detector_unfitted(split):
    from sklearn.exceptions import NotFittedError

    X_train, X_test, _ = split
    det = EnhancedDetector("PCA", random_state=0).fit(X_train)
    with pytest.raises(ValueError):  # bad input is refused before anything changes
        det.fit(X_train[:, :1] * np.nan)
    assert det.decision_function(X_test).shape == (len(X_test),)
    det.set_params(program=CRASH)
    with pytest.raises(ProgramCrashError):
        det.fit(X_train[: len(X_train) // 2])
    for score in (det.decision_function, det.predict, det.base_decision_function):
        with pytest.raises(NotFittedError):  # not the new base detector with the old classifier
            score(X_test)
    det.set_params(detector=make_detector("KNN", method="foo"), program=None)
    with pytest.raises(ValueError, match="could not be fitted"):
        det.fit(X_train)
    assert not hasattr(det, "detector_")  # not the detector that failed to fit


def test_prefit_reuses_the_given_detector(split):
    X_train, X_test, _ = split
    base = IForest(random_state=0).fit(X_train)
    det = EnhancedDetector(base, prefit=True, random_state=0).fit(X_train)
    assert det.detector_ is base
    with pytest.raises(ValueError, match="prefit=True needs a fitted detector"):
        EnhancedDetector("IForest", prefit=True).fit(X_train)
    # An unfitted detector, or one fitted on other columns, is named before the program runs.
    for detector in (IForest(random_state=0), IForest(random_state=0).fit(X_train[:, :-1])):
        with pytest.raises(
            ValueError, match=r"prefit=True: IForest\(random_state=0\) cannot score rows of"
        ):
            EnhancedDetector(detector, prefit=True, random_state=0).fit(X_train)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weight": -1.0}, "weight must be"),
        ({"weight": "big"}, "weight must be"),
        ({"weight_scale": float("nan")}, "weight_scale must be"),
        ({"normalization": "zscore"}, "normalization must be 'tail' or 'minmax'"),
        ({"n_synthetic": 0}, "n_synthetic must be"),
        ({"on_program_error": "ignore"}, "on_program_error must be"),
        ({"snap_discrete": "yes"}, "snap_discrete must be True or False"),
        ({"random_state": -5}, r"random_state must be None, an integer in \[0, 2\*\*32 - 1\]"),
        ({"random_state": 1.5}, "random_state must be None, an integer .* a numpy RandomState"),
        ({"program_timeout": 0}, "program_timeout must be a finite number of seconds > 0"),
        ({"program_timeout": True}, "program_timeout must be a finite number of seconds > 0"),
        ({"program_memory_mb": 16}, "program_memory_mb must be an integer >= 64"),
        ({"n_jobs": 0}, "n_jobs must be None or a nonzero integer"),
        ({"n_jobs": "2"}, "n_jobs must be None or a nonzero integer"),
        ({"n_synthetic": float("inf")}, "n_synthetic must be a positive fraction or count"),
        ({"prefit": "yes"}, "prefit must be True or False"),
        ({"contamination": "auto"}, r"contamination must be a number in \(0, 0.5\]"),
    ],
)
def test_bad_parameters(params, message, split):
    with pytest.raises(ValueError, match=message):
        EnhancedDetector("ECOD", **params).fit(split[0])


@pytest.mark.parametrize("share", [0.9, 0, np.nan, True])
def test_contamination_set_after_construction_is_checked_before_fitting(share, split):
    # PyOD checks contamination only in __init__; set_params (as a grid search uses it) skips that.
    det = EnhancedDetector("ECOD").set_params(contamination=share)
    with pytest.raises(ValueError, match="contamination must be a number in"):
        det.fit(split[0])
    assert not hasattr(det, "detector_")


def test_a_grid_search_sets_the_detector_and_its_parameters(split):
    from sklearn.model_selection import ParameterGrid

    from llmdas import make_detector

    # What GridSearchCV does with each candidate: clone, then one set_params call with all of it.
    grid = ParameterGrid({"detector": [make_detector("IForest")], "detector__n_estimators": [7]})
    det = clone(EnhancedDetector("ECOD", random_state=0)).set_params(**next(iter(grid)))
    assert det.fit(split[0]).detector_.n_estimators == 7
    with pytest.raises(
        ValueError, match=r"detector__n_estimators: the detector is the name 'ECOD'"
    ):
        EnhancedDetector("ECOD").set_params(detector__n_estimators=7)


def test_bad_input_at_fit_and_score(fitted):
    det, _ = fitted
    with pytest.raises(ValueError, match="NaN"):
        EnhancedDetector("ECOD").fit(np.array([[1.0, np.nan], [2.0, 3.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="fewer than the 2 needed"):
        EnhancedDetector("ECOD").fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="every column of X is constant"):
        EnhancedDetector("ECOD").fit(np.ones((20, 3)))
    with pytest.raises(ValueError, match="5 features, but the detector was fitted with 6"):
        det.decision_function(np.zeros((3, 5)))


def test_pickle_and_save_load_round_trip(fitted, tmp_path):
    det, X_train = fitted
    expected = det.decision_function(X_train[:20])
    assert np.array_equal(pickle.loads(pickle.dumps(det)).decision_function(X_train[:20]), expected)
    path = det.save(tmp_path / "model.joblib")
    assert np.array_equal(load(path).decision_function(X_train[:20]), expected)
    import joblib

    joblib.dump({"llmdas_model": det, "format": 1}, tmp_path / "old.joblib")
    with pytest.raises(ValueError, match=r"model format 1, this one reads 2, 3, 4 and 5\)"):
        load(tmp_path / "old.joblib")
    (tmp_path / "other.joblib").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="other.joblib is not an llmdas model file"):
        load(tmp_path / "other.joblib")
    with pytest.raises(IsADirectoryError, match="model file .* is a directory, not a file"):
        load(tmp_path)
    # An unfitted detector is not saved, and one saved anyway (by hand) is refused on load.
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EnhancedDetector("PCA").save(tmp_path / "unfitted.joblib")
    assert not (tmp_path / "unfitted.joblib").exists()
    from llmdas.enhanced import MODEL_FORMAT

    unfitted = {"llmdas_model": EnhancedDetector("PCA"), "format": MODEL_FORMAT}
    joblib.dump(unfitted, tmp_path / "u.joblib")
    with pytest.raises(ValueError, match="u.joblib holds no fitted llmdas detector"):
        load(tmp_path / "u.joblib")
    joblib.dump(det, tmp_path / "bare.joblib")  # the scikit-learn habit
    with pytest.raises(ValueError, match=r"without its model format; save it with detector.save"):
        load(tmp_path / "bare.joblib")
    joblib.load(tmp_path / "bare.joblib").save(tmp_path / "bare.joblib")  # the fix it names
    assert np.array_equal(load(tmp_path / "bare.joblib").decision_function(X_train[:20]), expected)
    # Another library's model is named, as the likely mix-up.
    from sklearn.ensemble import IsolationForest

    joblib.dump(IsolationForest(n_estimators=2).fit(X_train), tmp_path / "sk.joblib")
    with pytest.raises(
        ValueError, match=r"sk.joblib is not an llmdas model file \(it holds an IsolationForest\)"
    ):
        load(tmp_path / "sk.joblib")


def test_loading_a_model_that_needs_a_missing_package_names_it(tmp_path, monkeypatch, no_torch):
    """A DRL model where PyTorch is not installed, say: not 'not an llmdas model file'."""
    import importlib
    import sys

    import joblib

    (tmp_path / "gone_pkg").mkdir()
    (tmp_path / "gone_pkg" / "__init__.py").write_text("class Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    net = importlib.import_module("gone_pkg").Net()
    joblib.dump({"llmdas_model": net, "format": 4}, tmp_path / "m.joblib")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    monkeypatch.delitem(sys.modules, "gone_pkg")
    with pytest.raises(ImportError, match="m.joblib needs the package gone_pkg, which is not"):
        load(tmp_path / "m.joblib")
    # PyTorch, blocked here as if not installed (no_torch), is installed with llmdas's extra.
    (tmp_path / "drl.joblib").write_bytes(b"\x80\x02ctorch.nn\nModule\n)\x81.")  # a pickle
    with pytest.raises(
        ImportError, match=r"needs the package torch, .*pip install 'llmdas\[deep\]'"
    ):
        load(tmp_path / "drl.joblib")


def test_loading_a_model_fitted_with_other_library_versions_warns(fitted, tmp_path, recwarn):
    det, _ = fitted
    assert det.versions_["numpy"] == np.__version__ and "pyod" in det.versions_
    load(det.save(tmp_path / "same.joblib"))
    assert not [w for w in recwarn if issubclass(w.category, ModelVersionWarning)]
    other = copy.deepcopy(det)
    other.versions_ = {**det.versions_, "numpy": "1.0.0", "pyod": "0.1"}
    with pytest.warns(ModelVersionWarning, match=r"fitted with numpy 1\.0\.0, pyod 0\.1; this"):
        load(other.save(tmp_path / "other.joblib"))
    # A model saved before versions were recorded loads without a warning.
    del other.versions_
    load(other.save(tmp_path / "older.joblib"))
    assert not [w for w in recwarn if issubclass(w.category, ModelVersionWarning)]


def test_a_model_saved_before_the_squared_rank_keeps_its_scores(fitted, tmp_path):
    # Format-2 files written before EcdfNormalizer had ``power`` hold no such field, nor the
    # classifier_scaler_ that came later; they must still load and score as they were fitted:
    # with the plain rank, and the classifier on the rows as they are.
    _, X_train = fitted
    det = EnhancedDetector("IForest", program=JITTER, distance_feature=False, random_state=0)
    det.fit(X_train)
    old = copy.deepcopy(det)
    old._clf_norm = EcdfNormalizer.fit(det.classifier_scores_)  # the normaliser then
    del old._clf_norm.__dict__["power"]
    del old.classifier_scaler_
    del old._base_map  # format 4
    del old.distance_feature_  # format 5
    path = old.save(tmp_path / "old.joblib")
    import joblib

    joblib.dump({**joblib.load(path), "format": 2}, path)
    rank = EcdfNormalizer.fit(det.classifier_scores_).transform(
        det.classifier_.predict_proba(X_train[:20])[:, 1]
    )
    expected = (
        det._base_norm.transform(det.base_decision_function(X_train[:20])) + det.weight_ * rank
    )
    assert np.allclose(load(path).decision_function(X_train[:20]), expected)
    assert not np.allclose(det.decision_function(X_train[:20]), expected)


def test_ocsvm_keeps_its_order_of_far_rows_and_leaves_only_its_ties_to_the_classifier(tmp_path):
    # An RBF one-class SVM scores every row far from its support vectors just below its ceiling.
    # On the raw scale those rows were all within the classifier's weight of one another, and the
    # classifier reordered them; OCSVM, which ranks them well on digits, lost 0.16 AUC-PR on
    # average over 20 digit data sets (docs/results.md). Rows whose kernel mass OCSVM rounds to
    # 0 are tied at the ceiling, and only there does the classifier still decide.
    from sklearn.datasets import load_digits

    X, digit = load_digits(return_X_y=True)
    det = EnhancedDetector("OCSVM", random_state=0).fit(X[digit != 0][:300])
    far = X[digit == 0][:60]
    base, fused = det.base_decision_function(far), det.decision_function(far)
    assert det.weight_ > det.weight_scale_ / 3 and (base > det.base_scores_.max()).all()
    assert len(np.unique(base)) == len(far)
    assert np.array_equal(np.argsort(base), np.argsort(fused))
    tied = np.r_[far[:10] * 4, far[:10] * 5]
    parts = det.score_parts(tied)
    assert len(np.unique(det.base_decision_function(tied))) == 1 == len(np.unique(parts.base))
    assert np.ptp(parts.classifier) > 0
    assert np.array_equal(load(det.save(tmp_path / "m.joblib")).decision_function(far), fused)


def test_row_limits_change_nothing_when_the_data_fits(split):
    X_train, X_test, _ = split
    unlimited = EnhancedDetector(
        "IForest", random_state=0, max_program_rows=None, max_classifier_rows=None
    ).fit(X_train)
    limited = EnhancedDetector(
        "IForest", random_state=0, max_program_rows=len(X_train), max_classifier_rows=len(X_train)
    ).fit(X_train)
    assert np.array_equal(unlimited.decision_function(X_test), limited.decision_function(X_test))


def test_program_gets_the_fit_scores_for_x_train_and_the_same_output(split, monkeypatch):
    import llmdas.enhanced

    X_train, X_test, _ = split
    calls = []
    original = llmdas.enhanced.score_detector

    def counting(detector, Z, **kwargs):
        calls.append(len(Z))
        return original(detector, Z, **kwargs)

    monkeypatch.setattr(llmdas.enhanced, "score_detector", counting)
    reused = EnhancedDetector("IForest", random_state=0).fit(X_train)
    reused_calls = list(calls)
    monkeypatch.setattr(llmdas.enhanced, "fit_scores_are_plain", lambda detector: False)
    calls.clear()
    scored = EnhancedDetector("IForest", random_state=0).fit(X_train)
    assert len(X_train) in calls and len(X_train) not in reused_calls
    assert len(reused_calls) == len(calls) - 1
    assert np.array_equal(reused.synthetic_, scored.synthetic_)
    assert np.array_equal(reused.decision_function(X_test), scored.decision_function(X_test))


def test_row_limits_subsample_program_and_classifier_rows(split):
    X_train, X_test, y_test = split
    det = EnhancedDetector(
        "IForest", random_state=0, max_program_rows=60, max_classifier_rows=80
    ).fit(X_train)
    assert det.synthetic_.shape == (30, X_train.shape[1])  # ceil(0.5 * 60)
    assert det.classifier_.n_features_in_ == X_train.shape[1] + 1  # and the distance column
    assert len(det.classifier_.oob_decision_function_) == 80 + 30
    assert det.decision_scores_.shape == (len(X_train),) and np.isfinite(det.decision_scores_).all()
    assert roc_auc_score(y_test, det.decision_function(X_test)) > 0.7
    with pytest.raises(ValueError, match="max_program_rows must be None or an integer >= 2"):
        EnhancedDetector("IForest", max_program_rows=1).fit(X_train)


def test_synthetic_count_is_capped(split):
    det = EnhancedDetector("ECOD", n_synthetic=3.0, max_synthetic=50, random_state=0).fit(split[0])
    assert len(det.synthetic_) == 50
    # 7 synthetic rows are too few for the automatic weight to mean much, whatever the normal rows.
    with pytest.warns(SmallSampleWarning, match="and 7 synthetic rows"):
        det = EnhancedDetector("ECOD", n_synthetic=7, random_state=0).fit(split[0])
    assert len(det.synthetic_) == 7


def test_a_failed_save_keeps_the_model_file_that_was_there(fitted, tmp_path, monkeypatch):
    import joblib

    det, X_train = fitted
    path = det.save(tmp_path / "model.joblib")
    old = path.read_bytes()

    def interrupted(value, filename, **kwargs):
        Path(filename).write_bytes(b"half a pickle")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        det.save(path)
    assert path.read_bytes() == old and [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


def test_saving_to_a_directory_names_it(fitted, tmp_path):
    # Not the temporary file's name, which os.replace would give after all the writing.
    with pytest.raises(IsADirectoryError, match=f"^{tmp_path} is a directory; name a file in it$"):
        fitted[0].save(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_constant_training_columns_are_named_in_a_warning(split):
    import pandas as pd

    X_train = split[0]  # its last column is constant
    with pytest.warns(ConstantColumnWarning, match=r"1 of the 7 training columns .*\(indices 6\)"):
        EnhancedDetector("PCA", random_state=0).fit(X_train)
    frame = pd.DataFrame(X_train, columns=[f"c{j}" for j in range(7)])
    with pytest.warns(ConstantColumnWarning, match=r"\(names 'c6'\)"):
        EnhancedDetector("PCA", random_state=0).fit(frame)
    wide = np.hstack([X_train[:, :6], np.zeros((len(X_train), 8))])
    with pytest.warns(ConstantColumnWarning, match=r"8 of the 14 .*6, 7, 8, 9, 10 and 3 more"):
        EnhancedDetector("PCA", random_state=0).fit(wide)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no constant column, no warning
        EnhancedDetector("PCA", random_state=0).fit(X_train[:, :6])


def test_a_detector_that_scores_every_training_row_alike_is_named_in_a_warning(split):
    # OCSVM's default kernel width (1 / n_features) makes every pair of rows measured at 1e-12
    # look identical, and every row gets the same score.
    X_train, X_test = split[0][:, :6], split[1][:, :6]
    tiny = 2.0**-40
    with pytest.warns(ConstantScoreWarning, match=r"OCSVM gives all 165 training rows the same"):
        det = EnhancedDetector("OCSVM", random_state=0).fit(X_train * tiny)
    assert np.ptp(det.score_parts(X_test * tiny).base) == 0
    assert det.weight_ > 0
    # With the classifier switched off, nothing ranks the rows, and the warning says so.
    with pytest.warns(ConstantScoreWarning, match=r"classifier has weight 0, so the fused score"):
        det = EnhancedDetector("OCSVM", weight=0, random_state=0).fit(X_train * tiny)
    assert np.ptp(det.decision_scores_) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EnhancedDetector("OCSVM", random_state=0).fit(X_train)


def test_a_program_that_returns_copies_of_training_rows_is_named_in_a_warning(split):
    X_train = split[0][:, :6]
    copies = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    return X_train[:n_samples].copy()\n",
        name="copier",
    )
    with pytest.warns(SyntheticCopiesWarning, match=r"83 of the 83 rows that program 'copier'"):
        det = EnhancedDetector("PCA", program=copies, random_state=0).fit(X_train)
    assert det.weight_ < det.weight_scale_ / 6
    binary = (X_train > np.median(X_train, axis=0)).astype(float)
    with warnings.catch_warnings():
        # The built-in program moves rows; snapping them back onto the 0/1 support afterwards
        # may land them on training rows, which is no reason to warn.
        warnings.simplefilter("error", SyntheticCopiesWarning)
        EnhancedDetector("PCA", random_state=0).fit(binary)


def test_a_program_that_repeats_a_few_rows_is_named_in_a_warning(split):
    X_train = split[0][:, :6]
    repeats = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    import numpy as np\n"
        "    return (X_train[:3] * 1.5)[np.arange(n_samples) % 3]\n",
        name="repeater",
    )
    with pytest.warns(
        SyntheticCopiesWarning, match=r"'repeater' returned only 3 distinct rows among 83"
    ):
        EnhancedDetector("PCA", program=repeats, random_state=0).fit(X_train)


def test_an_ocsvm_fit_on_very_many_rows_warns_before_it_starts(split, monkeypatch):
    import llmdas.fit_checks

    X_train = split[0][:, :6]
    # The real bound, 50 000 rows, would make this test take minutes.
    monkeypatch.setattr(llmdas.fit_checks, "_SLOW_FIT_ROWS", len(X_train) - 1)
    with pytest.warns(SlowFitWarning, match=rf"OCSVM on {len(X_train)} rows: .* may take hours"):
        EnhancedDetector("OCSVM", random_state=0).fit(X_train)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlowFitWarning)  # the others' fits grow with the rows
        EnhancedDetector("IForest", random_state=0).fit(X_train)
        monkeypatch.setattr(llmdas.fit_checks, "_SLOW_FIT_ROWS", len(X_train))
        EnhancedDetector("OCSVM", random_state=0).fit(X_train)


def test_values_beyond_float32_range_are_scored_and_too_large_ones_refused_at_fit(fitted):
    det, X_train = fitted
    # The classifier's trees compare float32 copies; 1e300 used to fail deep inside scikit-learn.
    extreme = np.vstack([X_train[:3], np.full((1, 6), 1e300), np.full((1, 6), -1e300)])
    scores = det.decision_function(extreme)
    assert np.isfinite(scores).all() and set(np.argsort(scores)[-2:]) == {3, 4}
    parts = det.score_parts(extreme)
    assert np.array_equal(parts.classifier[:3], det.score_parts(X_train[:3]).classifier)
    huge = X_train.copy()
    huge[:, 4] *= 1e300
    with pytest.raises(ValueError, match="column 4 of X holds values as large as .*rescale"):
        EnhancedDetector("IForest").fit(huge)


def test_scoring_warns_when_only_one_side_has_column_names(fitted):
    import pandas as pd

    det, X_train = fitted  # fitted on an array
    X_test = X_train[:20] + 0.5
    frame = pd.DataFrame(X_test, columns=[f"c{j}" for j in range(X_test.shape[1])])
    with pytest.warns(FeatureNamesWarning, match="fitted without them"):
        det.decision_function(frame)
    named = EnhancedDetector("PCA", random_state=0).fit(
        pd.DataFrame(X_train, columns=frame.columns)
    )
    with pytest.warns(FeatureNamesWarning, match="X has no column names"):
        named.score_parts(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureNamesWarning)
        named.decision_function(frame)  # names on both sides: checked, no warning
        det.decision_function(X_test)


@pytest.mark.parametrize("offset, scale", [(1.7e9, 100.0), (0.0, 1e-9)])
def test_the_classifier_sees_a_column_whatever_its_offset_and_scale(split, offset, scale):
    # The trees compare float32 values and take a span under 1e-7 for constant: unstandardised,
    # a column of Unix times (steps of 128 s as float32) or of values near 1e-9 was lost to them.
    X_train, X_test, _ = split
    moved_train, moved_test = X_train.copy(), X_test.copy()
    for X in (moved_train, moved_test):
        X[:, 0] = offset + scale * X[:, 0]
    # Without the distance column, which is measured on the columns as they are and so rightly
    # changes when one column is scaled (the tests of llmdas.neighbours check that one).
    reference = EnhancedDetector("ECOD", distance_feature=False, random_state=0).fit(X_train)
    moved = EnhancedDetector("ECOD", distance_feature=False, random_state=0).fit(moved_train)
    assert moved.separability_ == pytest.approx(reference.separability_, abs=0.005)
    share = np.corrcoef(
        moved.score_parts(moved_test).classifier, reference.score_parts(X_test).classifier
    )[0, 1]
    assert share > 0.99


def test_the_classifier_scores_the_same_by_chunks_of_rows(fitted, monkeypatch):
    import llmdas.enhanced

    _, X_train = fitted

    def fit():  # the classifier trains on 50 rows and scores the other 150 in fit
        return EnhancedDetector(
            "IForest", program=JITTER, max_classifier_rows=50, random_state=0
        ).fit(X_train)

    whole = fit()
    monkeypatch.setattr(llmdas.enhanced, "_SCORING_CHUNK_ROWS", 7)
    chunked = fit()
    assert np.array_equal(chunked.decision_scores_, whole.decision_scores_)
    parts = whole.score_parts(X_train)
    assert np.array_equal(chunked.score_parts(X_train).classifier, parts.classifier)
    assert np.ptp(parts.classifier) > 0


def test_fit_warnings_point_at_the_call_of_fit(split, monkeypatch):
    import llmdas.fit_checks

    X_train = split[0][:, :6]
    copies = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n"
        "    return X_train[:n_samples].copy()\n",
        name="copier",
    )
    monkeypatch.setattr(llmdas.fit_checks, "_SLOW_FIT_ROWS", 10)
    fits = {
        ConstantColumnWarning: lambda: EnhancedDetector("PCA").fit(
            np.column_stack([X_train, np.ones(len(X_train))])
        ),
        SlowFitWarning: lambda: EnhancedDetector("OCSVM").fit(X_train),
        SyntheticCopiesWarning: lambda: EnhancedDetector("PCA", program=copies).fit(X_train),
        ProgramFallbackWarning: lambda: EnhancedDetector(
            "PCA", program=CRASH, on_program_error="base"
        ).fit(X_train),
        SmallSampleWarning: lambda: EnhancedDetector("ECOD").fit(X_train[:16]),
    }
    for category, fit in fits.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        assert [Path(w.filename).name for w in caught if w.category is category] == [
            Path(__file__).name
        ], category.__name__
