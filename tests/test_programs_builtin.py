"""Every built-in program: format, provenance, static check, and behaviour on real detectors."""

import numpy as np
import pytest

from llmdas.detectors import DETECTOR_NAMES, make_detector, score_detector
from llmdas.programs import builtin_program, list_builtin, load_program
from llmdas.sandbox import check_source, run_program

PYOD_NAMES = [n for n in DETECTOR_NAMES if n != "DRL"]


def test_one_program_per_registry_detector():
    detectors = {p.detector for p in list_builtin()}
    assert set(PYOD_NAMES) <= detectors


@pytest.mark.parametrize("program", list_builtin(), ids=lambda p: p.name)
def test_provenance_is_honest_and_code_passes_the_static_check(program):
    assert program.provenance["generator"] == "human"
    assert "not produced by an LLM" in program.provenance["note"]
    assert len(program.policy) > 100 and len(program.explanation) > 100
    check_source(program.source)


def _run_builtin(name: str, X_train: np.ndarray, n_samples: int):
    """The detector ``name`` fitted on ``X_train``, its training scores, and the result of its
    built-in program asked for ``n_samples`` rows."""
    det = make_detector(name, random_state=0).fit(X_train)
    train_scores = score_detector(det, X_train)
    result = run_program(
        builtin_program(name).source,
        lambda Z: score_detector(det, Z, reference=train_scores),
        X_train,
        n_samples,
        seed=0,
    )
    return det, train_scores, result


@pytest.mark.parametrize("name", PYOD_NAMES)
def test_program_makes_hard_but_novel_rows(name, split):
    X_train, _, _ = split
    det, train_scores, result = _run_builtin(name, X_train, 40)
    synthetic = result.X
    assert synthetic.shape == (40, X_train.shape[1]) and np.isfinite(synthetic).all()
    assert result.n_score_calls >= 1
    # Not copies of training rows.
    nearest = np.min(np.linalg.norm(synthetic[:, None, :] - X_train[None, :, :], axis=2), axis=1)
    assert (nearest > 1e-6).mean() > 0.9
    # Hard: most synthetic rows score below the detector's most anomalous training rows.
    syn_scores = score_detector(det, synthetic, reference=train_scores)
    assert np.median(syn_scores) < np.max(train_scores)


@pytest.mark.parametrize("name", PYOD_NAMES)
def test_program_returns_as_many_rows_as_asked_even_a_few(name, split):
    # The programs split the rows they make between kinds (hard, shell, noisy copies); a split of
    # one, two or four rows must still add up, and a kind may get none.
    X_train = split[0][:60]
    for n_samples in (1, 2, 4):
        assert _run_builtin(name, X_train, n_samples)[2].X.shape == (n_samples, X_train.shape[1])


@pytest.mark.parametrize("name", PYOD_NAMES)
def test_program_makes_distinct_rows_from_few_seeds_on_narrow_data(name):
    # 200 rows of 3 columns: 20 borderline seed rows and 100 rows to make. COPOD's program once
    # moved each seed's column to one fixed quantile, so it could make only 60 distinct rows.
    X_train = np.random.default_rng(0).normal(size=(200, 3))
    synthetic = _run_builtin(name, X_train, 100)[2].X
    assert len(np.unique(synthetic, axis=0)) > 90


@pytest.mark.parametrize("program", list_builtin(), ids=lambda p: p.name)
def test_program_moves_rows_alike_whatever_the_scale_and_keeps_constant_columns(program, split):
    # Tolerances relative to each column's magnitude: with absolute ones (1e-12), data whose columns
    # all vary by less than that had every column taken for constant. A power of two scales every
    # number exactly, so a scale-free program returns exactly the scaled rows. A column that does
    # not vary keeps its value in every synthetic row: any other value gives the row away.
    X_train, _, _ = split
    X_train = np.hstack([X_train, np.zeros((len(X_train), 1))])  # a constant 3.0 and a constant 0

    def run(X):
        mean, spread = X.mean(axis=0), np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        return run_program(
            program.source, lambda Z: (((Z - mean) / spread) ** 2).sum(axis=1), X, 40, seed=0
        ).X

    rows = run(X_train)
    for scale in (2.0**-40, 2.0**40):
        assert np.array_equal(run(X_train * scale), rows * scale)
    constant = (X_train == X_train[0]).all(axis=0)
    assert constant.sum() == 2
    assert (rows[:, constant] == X_train[0, constant]).all()


def test_lookup_by_name_detector_and_file(tmp_path):
    pca = builtin_program("pca")
    assert load_program(pca.name) == pca
    assert load_program("PCA") == pca
    path = pca.save(tmp_path / "mine.py")
    assert load_program(path) == pca
    with pytest.raises(LookupError, match="unknown program 'nope'"):
        load_program("nope")
    with pytest.raises(FileNotFoundError):
        load_program(tmp_path / "missing.py")


@pytest.mark.parametrize("name", PYOD_NAMES)
def test_enhancement_runs_on_wide_sparse_binary_data(name):
    # InternetAds-like: more (binary, mostly zero, partly constant) features than rows.
    from llmdas import EnhancedDetector

    rng = np.random.default_rng(0)
    X = (rng.random((120, 700)) < 0.03).astype(float)
    det = EnhancedDetector(name, random_state=0).fit(X[:80])
    scores = det.decision_function(X[80:])
    assert det.synthetic_.shape == (40, 700) and np.isfinite(det.synthetic_).all()
    assert scores.shape == (40,) and np.isfinite(scores).all()


def test_iforest_program_probes_very_wide_data_within_its_memory_limit():
    # Its finite-difference probe shifted every feature of 2 rows: 4 d^2 cells, 3.2 GB at
    # d = 10 000, past the sandbox's 4 GB limit. It now probes a random subset of the features.
    from llmdas import EnhancedDetector

    X = np.random.default_rng(0).normal(size=(60, 10_000))
    det = EnhancedDetector("IForest", program_memory_mb=2048, random_state=0).fit(X)
    assert det.synthetic_.shape == (30, 10_000) and np.isfinite(det.synthetic_).all()


@pytest.mark.slow
def test_pca_program_fits_very_wide_data_well_inside_the_time_limit():
    # Its SVD of up to 5000 standardised rows took 110 s of synthesis on 5000 x 10 000 rows, just
    # under the default 120 s limit; with fewer rows on very wide data it takes about 30 s.
    from llmdas import EnhancedDetector

    X = np.random.default_rng(0).normal(size=(5000, 10_000))
    det = EnhancedDetector("PCA", program_timeout=60, random_state=0).fit(X)
    assert det.synthetic_.shape == (2500, 10_000) and np.isfinite(det.synthetic_).all()
