import numpy as np
import pytest
from pyod.models.iforest import IForest
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from llmdas.detectors import (
    DETECTOR_NAMES,
    NonFiniteScoresWarning,
    canonical_name,
    detector_name,
    fit_scores_are_plain,
    make_detector,
    sanitize_scores,
    score_detector,
    training_scores,
)


@pytest.mark.parametrize("name", [n for n in DETECTOR_NAMES if n != "DRL"])
@pytest.mark.filterwarnings("error:Precision loss occurred in moment calculation:RuntimeWarning")
def test_every_registry_detector_fits_with_a_constant_column(name, split):
    X_train, X_test, y_test = split
    det = make_detector(name, random_state=0).fit(X_train)
    scores = score_detector(det, X_test)
    assert scores.shape == (len(X_test),) and np.isfinite(scores).all()
    # Planted uniform anomalies are easy: every detector should rank them above chance.
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y_test, scores) > 0.6


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_fit_scores_are_called_plain_exactly_when_they_equal_the_scores_of_the_rows(name):
    if name == "DRL":
        pytest.importorskip("torch")
    X = np.random.default_rng(1).normal(size=(150, 5))
    det = make_detector(name, random_state=0).fit(X)
    plain = np.array_equal(score_detector(det, X), sanitize_scores(det.decision_scores_))
    assert fit_scores_are_plain(det) == plain
    assert name not in ("ECOD", "COPOD", "KNN", "LOF") or not plain  # the ones that differ


def test_fit_scores_are_not_called_plain_for_other_classes_or_non_finite_scores():
    registry_iforest = type(make_detector("IForest"))

    class MyIForest(registry_iforest):
        pass

    assert not fit_scores_are_plain(IForest().fit(np.eye(4)))  # PyOD's own class: not ours
    det = registry_iforest().fit(np.eye(4))
    assert fit_scores_are_plain(det)
    assert not fit_scores_are_plain(MyIForest().fit(np.eye(4)))
    det.decision_scores_[0] = np.inf  # replaced relative to a reference: not reusable as is
    assert not fit_scores_are_plain(det)


def test_names_are_case_insensitive_and_unknown_names_fail():
    assert type(make_detector("iforest")).__name__ == "IForest"
    assert detector_name("ocsvm") == "OCSVM"
    with pytest.raises(ValueError, match="unknown detector 'Nope'.*PCA.*PyOD detector instance"):
        make_detector("Nope")
    with pytest.raises(ValueError, match=r"choose one of PCA, .*, DRL$"):  # for the command line
        canonical_name("Nope")


def test_instances_pass_through_and_random_state_is_set():
    det = IForest(n_estimators=10)
    assert make_detector(det) is det
    assert make_detector("IForest", random_state=3).random_state == 3
    with pytest.raises(TypeError, match="PyOD-style detector, got object"):
        make_detector(object())


def test_a_class_or_a_scikit_learn_outlier_detector_is_refused_with_what_to_pass_instead():
    # A class has fit and decision_function as attributes; scikit-learn's detectors score normal
    # rows higher, so either would be fitted and then score wrongly (or fail deep inside).
    with pytest.raises(TypeError, match=r"got the class IForest; pass IForest\(\)"):
        make_detector(IForest)
    with pytest.raises(TypeError, match="IsolationForest follows scikit-learn's .* use 'IForest'"):
        make_detector(IsolationForest())
    with pytest.raises(TypeError, match="OneClassSVM follows .* use 'OCSVM'"):
        detector_name(OneClassSVM())
    with pytest.raises(TypeError, match="EllipticEnvelope follows .* use a registry name"):
        make_detector(EllipticEnvelope())


def test_named_detectors_take_their_constructor_arguments_and_refuse_others():
    assert make_detector("KNN", n_neighbors=3).n_neighbors == 3
    with pytest.raises(
        ValueError, match="KNN has no parameter 'n_neighbor'; it takes .*n_neighbors"
    ):
        make_detector("KNN", n_neighbor=3)


def test_sanitize_is_order_preserving_and_warns():
    raw = np.array([1.0, np.inf, -np.inf, np.nan, 2.0])
    with pytest.warns(NonFiniteScoresWarning, match="3 non-finite"):
        out = sanitize_scores(raw)
    assert np.isfinite(out).all()
    assert out[2] < out[0] < out[4] < out[1]
    assert out[3] >= out[1]


def test_sanitize_uses_reference_range():
    with pytest.warns(NonFiniteScoresWarning):
        out = sanitize_scores([np.inf, 0.0], reference=np.array([0.0, 10.0]))
    assert out[0] > 10.0


def test_pca_ranks_rows_despite_near_constant_and_collinear_columns():
    from pyod.models.pca import PCA as PyODPCA
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    clean = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0, 0, 1.0]])
    noise_const = 1.0 + 1e-13 * rng.normal(size=(300, 1))  # constant up to rounding noise
    collinear = clean[:, :1] + clean[:, 1:2]  # like one-hot columns summing to a constant
    X = np.hstack([clean, noise_const, collinear])
    with np.errstate(all="ignore"):
        stock = PyODPCA().fit(X).decision_scores_
    assert not (np.abs(stock) < 1e10).any()  # the bug fixed here: inf or rounding-noise scale
    det = make_detector("PCA").fit(X)
    assert np.isfinite(det.decision_scores_).all()  # finite without any sanitation
    test = np.vstack([X[:50], X[50:60] + np.r_[4.0, -4.0, 4.0, 0.0, 0.0]])
    scores = det.decision_function(test)
    assert np.isfinite(scores).all()
    assert roc_auc_score(np.r_[np.zeros(50), np.ones(10)], scores) > 0.9


@pytest.mark.parametrize(
    "params",
    [{}, {"weighted": False}, {"n_selected_components": 3}, {"standardization": False}],
)
def test_pca_fits_and_scores_as_pyod_does_in_every_scoring_block(monkeypatch, params):
    from pyod.models.pca import PCA as PyODPCA

    import llmdas.detectors.pca as pca_module

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
    new = 3.0 * rng.normal(size=(57, 8))
    monkeypatch.setattr(pca_module, "_SCORING_CELLS", 40)  # at most 40 cells: 5 or 13 rows a block
    ours, stock = pca_module.PCA(**params).fit(X), PyODPCA(**params).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, stock.decision_scores_, rtol=1e-9)
    assert ours.threshold_ == pytest.approx(stock.threshold_, rel=1e-9)
    np.testing.assert_allclose(ours.decision_function(new), stock.decision_function(new), rtol=1e-9)


def test_only_an_rbf_one_class_svm_has_a_score_ceiling():
    from llmdas.detectors import score_ceiling

    X = np.random.default_rng(0).normal(size=(100, 3))
    svm = make_detector("OCSVM").fit(X)
    ceiling = score_ceiling(svm, X)
    far = svm.decision_function(np.r_[X[:5] * 3, X[:5] * 100])
    assert (far <= ceiling).all() and far[-1] == ceiling  # reached where the kernel underflows
    assert score_ceiling(make_detector("OCSVM", kernel="linear").fit(X), X) is None
    assert score_ceiling(make_detector("IForest").fit(X), X) is None
    assert score_ceiling(make_detector("OCSVM"), X) is None  # not fitted

    class Flipped(type(svm)):  # the same fitted SVM, scored the other way round
        def decision_function(self, X):
            return -super().decision_function(X)

    flipped = Flipped().fit(X)
    assert score_ceiling(flipped, X) is None


def test_iforest_refuses_training_values_that_its_float32_trees_would_make_infinite():
    X = np.random.default_rng(0).normal(size=(100, 3))
    with np.errstate(over="ignore"):  # the cast to float32 overflows
        assert np.ptp(IForest(random_state=0).fit(X * 1e100).decision_scores_) == 0  # PyOD: all 0
    with pytest.raises(ValueError, match=r"column 1 holds values as large as 3.*e\+100, beyond"):
        make_detector("IForest").fit(X * [1, 1e100, 1])
    make_detector("IForest").fit(X * 1e38)  # within float32's range


@pytest.mark.parametrize(
    "params",
    [{}, {"max_features": 0.5}, {"n_estimators": 7, "max_samples": 40, "bootstrap": True}],
)
def test_iforest_scores_as_pyod_does_bit_for_bit(params, monkeypatch):
    import pandas as pd
    from joblib import parallel_config
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    new = np.asfortranarray(3.0 * rng.normal(size=(80, 6)))
    ours = make_detector("IForest", random_state=4, **params).fit(X)
    stock = IForest(random_state=4, **params).fit(X)
    assert type(ours) is not IForest  # the registry's own subclass is the one under test
    assert np.array_equal(ours.decision_scores_, stock.decision_scores_)
    for rows in (new, new[:1], X, pd.DataFrame(new)):
        assert np.array_equal(ours.decision_function(rows), stock.decision_function(rows))
    with pytest.raises(TypeError, match="dense data is required"):  # as PyOD's own
        ours.decision_function(csr_matrix(new))
    with pytest.raises(TypeError, match="dense data is required"):
        make_detector("IForest").fit(csr_matrix(X))
    with pytest.raises(ValueError, match="features"):
        ours.decision_function(new[:, :5])
    # Left to PyOD's own scoring: trees scored in parallel threads, as a caller asked joblib, and
    # a scikit-learn without the private helper the loop uses.
    import llmdas.detectors.iforest as iforest_module

    expected, pyod_calls = stock.decision_function(new), []
    pyod_scoring = iforest_module._PyODIForest.decision_function
    monkeypatch.setattr(
        iforest_module._PyODIForest,
        "decision_function",
        lambda self, X: pyod_calls.append(len(X)) or pyod_scoring(self, X),
    )
    assert np.array_equal(ours.decision_function(new), expected) and pyod_calls == []
    with parallel_config(backend="threading", n_jobs=2):
        np.testing.assert_allclose(ours.decision_function(new), expected)
    assert pyod_calls == [80]
    monkeypatch.setattr(iforest_module, "_average_path_length", None)
    assert np.array_equal(ours.decision_function(new), expected) and pyod_calls == [80, 80]


def test_ecod_keeps_pyod_training_scores_and_scores_rows_independently():
    from pyod.models.ecod import ECOD as PyODECOD

    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.normal(size=400), np.round(rng.normal(size=400)), rng.exponential(size=400)]
    )
    ours, theirs = make_detector("ECOD").fit(X), PyODECOD().fit(X)
    assert np.allclose(ours.decision_scores_, theirs.decision_scores_)
    new = rng.normal(scale=2.0, size=(6, 3))
    one_at_a_time = [PyODECOD().fit(X).decision_function(new[i : i + 1])[0] for i in range(6)]
    assert np.allclose(ours.decision_function(new), one_at_a_time)
    # A row's score does not depend on the rows scored with it.
    assert np.allclose(ours.decision_function(new[:2]), ours.decision_function(new)[:2])


def test_training_scores_are_the_fit_scores_when_there_is_one_per_row():
    from pyod.models.knn import KNN

    X = np.random.default_rng(0).normal(size=(80, 3))
    knn = KNN(n_neighbors=5).fit(X)  # leave-one-out fit scores, lower than scoring X again
    assert np.array_equal(training_scores(knn, X), knn.decision_scores_)
    assert np.all(training_scores(knn, X) > score_detector(knn, X))
    # Other rows than the fit's (here, half of them) are scored.
    assert np.array_equal(training_scores(knn, X[:40]), score_detector(knn, X[:40]))
    knn.decision_scores_ = knn.decision_scores_.copy()
    knn.decision_scores_[0] = np.nan  # made finite, as any score is, and said
    with pytest.warns(NonFiniteScoresWarning):
        assert np.isfinite(training_scores(knn, X)).all()


def test_ecod_fits_a_constant_column_without_scipy_warnings():
    import warnings

    X = np.column_stack([np.random.default_rng(0).normal(size=100), np.ones(100)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = make_detector("ECOD").fit(X)
    assert det.skewness_sign_[1] == 0  # PyOD's convention for a column without skewness


def test_drl_without_pytorch_names_the_extra_that_installs_it(no_torch):
    with pytest.raises(ImportError, match=r"missing \(torch\); .*pip install 'llmdas\[deep\]'"):
        make_detector("DRL")
