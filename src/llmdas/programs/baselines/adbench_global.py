# /// llmdas-program
# name = "adbench_global"
# detector = "any"
# policy = """
# ADBench's 'global' synthetic anomalies, as we understand its generator: every feature is drawn
# independently from Uniform(alpha * min, alpha * max) with alpha = 1.1. We apply the formula to
# standardised features (zero mean, unit variance), where min < 0 < max, so the box grows by 10 % on
# both sides relative to the mean, and map the draws back. The detector is never consulted."""
# explanation = """
# Baseline for the benchmark: ADBench's synthetic 'global' anomaly type, scattered points in a box a
# little larger than the data. A re-implementation from ADBench's description, not its code."""
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
    mean, spread = X.mean(axis=0), X.std(axis=0)
    spread[spread == 0] = 1.0
    Z = (X - mean) / spread
    alpha = 1.1
    draws = rng.uniform(alpha * Z.min(axis=0), alpha * Z.max(axis=0), size=(n_samples, X.shape[1]))
    return draws * spread + mean
