"""Shared fixtures: small deterministic data sets, so the default suite stays fast, and an
environment without PyTorch."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def gaussian_data():
    """300 normal rows and 30 planted anomalies in 6 correlated features, plus a constant column."""
    rng = np.random.default_rng(7)
    cov = 0.6 * np.ones((6, 6)) + 0.4 * np.eye(6)
    normal = rng.multivariate_normal(np.zeros(6), cov, size=330)
    anomalies = rng.uniform(-4, 4, size=(30, 6))
    X = np.vstack([normal, anomalies])
    X = np.hstack([X, np.full((len(X), 1), 3.0)])  # constant column must not break anything
    y = np.r_[np.zeros(330), np.ones(30)].astype(int)
    return X, y


@pytest.fixture
def split(gaussian_data):
    from llmdas.data import paper_split

    return paper_split(*gaussian_data)


@pytest.fixture
def no_torch(monkeypatch):
    """PyTorch blocked for the test, as if it were not installed (and llmdas's DRL unloaded)."""
    import importlib.abc
    import sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.partition(".")[0] == "torch":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(sys, "meta_path", [NoTorch(), *sys.meta_path])
    for name in [n for n in sys.modules if n.partition(".")[0] == "torch"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "llmdas.detectors.drl", raising=False)
