# /// llmdas-program
# name = "gaussian"
# detector = "any"
# policy = """
# Pick training rows uniformly at random and add independent Gaussian noise to every feature, with a
# standard deviation equal to that feature's standard deviation in the training data (scale 1).
# Constant features stay constant. The detector is never consulted."""
# explanation = """
# Baseline for the benchmark: the classic 'noisy copies of normal data' recipe for synthetic
# anomalies. It does not look at the detector, so it shows how much of LLM-DAS's gain comes from
# detector-aware synthesis rather than from adding any classifier at all."""
#
# [provenance]
# author = "llmdas authors"
# generator = "human"
# created = "2026-11-24"
# note = "baseline, not detector-aware"
# ///
def generate_hard_anomalies(n_samples: int, model, X_train):
    import numpy as np

    rng = np.random.default_rng()
    X = np.asarray(X_train, dtype=float)
    n, d = X.shape
    spread = X.std(axis=0)
    seeds = X[rng.integers(n, size=n_samples)]
    return seeds + rng.normal(size=(n_samples, d)) * spread
