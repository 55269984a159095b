"""Fast CPU tests for the DRL detector and its built-in synthesis program."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from llmdas.program import ENTRY_POINT, SynthesisProgram

PROGRAM_PATH = (
    Path(__file__).resolve().parents[1] / "src" / "llmdas" / "programs" / "builtin" / "drl.py"
)
FAST = {"epochs": 15, "hidden_dim": 32, "device": "cpu", "n_jobs": 1}


@pytest.fixture(scope="module")
def DRL():
    pytest.importorskip("torch")
    from llmdas.detectors.drl import DRL

    return DRL


@pytest.fixture(scope="module")
def toy():
    """Correlated Gaussian normals; test set = fresh normals + planted far-away outliers."""
    rng = np.random.RandomState(0)
    mixing = rng.randn(6, 6)
    X_train = rng.randn(400, 6) @ mixing
    X_norm = rng.randn(100, 6) @ mixing
    X_out = rng.randn(20, 6) @ mixing * 0.3 + 8.0 * np.abs(mixing).sum(axis=0)
    X_test = np.vstack([X_norm, X_out])
    y_test = np.r_[np.zeros(100), np.ones(20)]
    return X_train, X_test, y_test


@pytest.fixture(scope="module")
def fitted(DRL, toy):
    return DRL(random_state=7, **FAST).fit(toy[0])


def _load_program():
    program = SynthesisProgram.from_file(PROGRAM_PATH)
    namespace: dict = {}
    exec(compile(program.source, str(PROGRAM_PATH), "exec"), namespace)
    return program, namespace[ENTRY_POINT]


class _ScoreOnly:
    def __init__(self, detector):
        self._detector = detector
        self.calls = 0

    def predict_score(self, X):
        self.calls += 1
        return self._detector.decision_function(X)


# ---------------------------------------------------------------------------- detector
def test_pyod_api(fitted, toy):
    X_train, X_test, _ = toy
    assert fitted.decision_scores_.shape == (len(X_train),)
    assert np.isfinite(fitted.decision_scores_).all()
    assert np.isscalar(fitted.threshold_) or np.ndim(fitted.threshold_) == 0
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    assert abs(fitted.labels_.mean() - 0.1) < 0.05
    scores = fitted.decision_function(X_test)
    assert scores.shape == (len(X_test),) and scores.dtype == np.float64
    labels = fitted.predict(X_test)
    assert labels.shape == (len(X_test),)
    np.testing.assert_array_equal(labels, (scores > fitted.threshold_).astype(int))
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert fitted.get_params()["epochs"] == FAST["epochs"]
    assert len(fitted.loss_history_) == FAST["epochs"]


def test_detects_planted_outliers(fitted, toy):
    _, X_test, y_test = toy
    assert roc_auc_score(y_test, fitted.decision_function(X_test)) > 0.9


def test_deterministic_with_random_state(DRL, toy, fitted):
    import torch

    X_train, X_test, _ = toy
    before = torch.random.get_rng_state()
    again = DRL(random_state=7, **FAST).fit(X_train)
    assert torch.equal(before, torch.random.get_rng_state()), "fit must not touch torch's RNG"
    np.testing.assert_array_equal(again.decision_scores_, fitted.decision_scores_)
    np.testing.assert_array_equal(again.decision_function(X_test), fitted.decision_function(X_test))
    other = DRL(random_state=8, **FAST).fit(X_train)
    assert not np.array_equal(other.decision_scores_, fitted.decision_scores_)


def test_batched_scoring_matches_unbatched(fitted, toy):
    X_test = toy[1]
    full = fitted.decision_function(X_test)
    state = pickle.loads(pickle.dumps(fitted))
    state.score_batch_size = 7
    np.testing.assert_allclose(state.decision_function(X_test), full, rtol=1e-5, atol=1e-9)


def test_pickle_round_trip(fitted, toy):
    clone = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(clone.decision_function(toy[1]), fitted.decision_function(toy[1]))
    np.testing.assert_array_equal(clone.decision_scores_, fitted.decision_scores_)
    assert clone.threshold_ == fitted.threshold_


def test_a_device_that_cannot_be_used_is_named(DRL, toy, fitted):
    import torch

    with pytest.raises(ValueError, match="device 'tpu' is not a torch device"):
        DRL(**{**FAST, "device": "tpu"}).fit(toy[0])
    if torch.cuda.is_available():
        return
    with pytest.raises(ValueError, match="device 'cuda': no CUDA device is available"):
        DRL(**{**FAST, "device": "cuda"}).fit(toy[0])
    fitted_on_cuda = pickle.loads(pickle.dumps(fitted))  # as if saved on a CUDA machine
    fitted_on_cuda.device = "cuda"
    loaded = pickle.loads(pickle.dumps(fitted_on_cuda))
    assert loaded.device_.type == "cpu"
    np.testing.assert_array_equal(
        loaded.decision_function(toy[1]), fitted.decision_function(toy[1])
    )


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0]]), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), "infinity"),
        (np.arange(5.0), "2D"),
        (np.ones((1, 3)), "sample"),
        (np.array([["a", "b"], ["c", "d"]]), "float"),
    ],
)
def test_bad_training_input(DRL, X, match):
    with pytest.raises(ValueError, match=match):
        DRL(**FAST).fit(X)


def test_bad_scoring_input(DRL, fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.decision_function(np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.decision_function(np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="fit"):
        DRL(**FAST).decision_function(np.ones((3, 6)))


@pytest.mark.parametrize(
    "params",
    [
        {"epochs": 0},
        {"n_basis": 200, "hidden_dim": 32},
        {"separation_fraction": 0.0},
        {"preprocess": "quantile"},
    ],
)
def test_bad_parameters(DRL, toy, params):
    with pytest.raises(ValueError):
        DRL(**{**FAST, **params}).fit(toy[0])


@pytest.mark.parametrize("preprocess", ["standard", "minmax", "none"])
def test_preprocess_options_and_constant_feature(DRL, preprocess):
    rng = np.random.RandomState(1)
    X = np.c_[rng.randn(100, 3), np.full(100, 5.0)]
    det = DRL(random_state=0, preprocess=preprocess, **{**FAST, "epochs": 3}).fit(X)
    assert np.isfinite(det.decision_function(X)).all()


# ---------------------------------------------------------------------------- program
def test_builtin_program_metadata():
    program, _ = _load_program()
    assert program.name == "drl-residual-drift"
    assert program.detector == "DRL"
    assert program.policy and program.explanation
    assert program.provenance["generator"] == "human"
    assert "torch" not in program.source


def test_builtin_program_runs(fitted, toy):
    X_train = toy[0]
    _, generate = _load_program()
    model = _ScoreOnly(fitted)
    np.random.seed(3)
    synth = generate(37, model, X_train.copy())
    assert synth.shape == (37, X_train.shape[1])
    assert np.isfinite(synth).all()
    assert model.calls <= 10, "the program must score in batches"
    # Deterministic given numpy's global seed.
    np.random.seed(3)
    np.testing.assert_array_equal(generate(37, _ScoreOnly(fitted), X_train.copy()), synth)
    # Hard anomalies: they move away from their seeds yet score below obvious outliers.
    obvious = X_train[:37] + 20.0 * X_train.std(axis=0)
    assert np.median(fitted.decision_function(synth)) < np.min(fitted.decision_function(obvious))
    nearest = np.min(np.linalg.norm(synth[:, None, :] - X_train[None, :, :], axis=2), axis=1)
    assert np.all(nearest > 1e-6), "synthetic rows must not copy training rows"
