# /// llmdas-program
# name = "adbench_dependency"
# detector = "any"
# policy = """
# ADBench's 'dependency' synthetic anomalies, as we understand its generator: keep every feature's
# marginal distribution but break the dependencies between features. ADBench models the joint with a
# vine copula and samples the marginals independently from kernel density estimates; we sample every
# feature independently from its empirical marginal (a random training value of that feature) plus
# Gaussian kernel jitter with Silverman's bandwidth, which is sampling from the marginal KDE. The
# detector is never consulted."""
# explanation = """
# Baseline for the benchmark: ADBench's synthetic 'dependency' anomaly type. Each coordinate looks
# normal on its own; only the combination is unusual, which is hard for detectors that score
# features independently. A re-implementation from ADBench's description, not its code."""
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
    out = X[rng.integers(n, size=(n_samples, d)), np.arange(d)]
    bandwidth = 1.06 * X.std(axis=0) * n ** (-0.2)
    return out + rng.normal(size=(n_samples, d)) * bandwidth
