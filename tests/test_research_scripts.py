"""The rule that picked the built-in programs' shares and scales (benchmarks/), on made-up data."""

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import pick_defaults  # noqa: E402
from split_halves import pick_on_tune_half  # noqa: E402


def test_rule_takes_the_largest_mean_that_keeps_the_bar_and_wins_often_enough():
    wins_17 = [0.05] * 14 + [0.0] * 3  # 14 of 17 wins: enough
    candidates = {
        "larger mean, too deep a loss": [0.2] * 16 + [-0.05],
        "larger mean, too few wins": [0.1] * 13 + [0.0] * 4,
        "kept": wins_17,
        "smaller mean": [0.01] * 17,
    }
    assert pick_on_tune_half(candidates) == "kept"


def test_rule_falls_back_to_the_bar_then_to_the_mean():
    few_wins = {"a": [0.03] * 10 + [0.0] * 7, "b": [0.05] * 10 + [-0.01] * 7}
    assert pick_on_tune_half(few_wins) == "b"  # none wins on 14: the largest mean within the bar
    all_deep = {"a": [0.1, -0.5], "b": [0.2, -0.3]}
    assert pick_on_tune_half(all_deep) == "b"  # none keeps the bar: the largest mean


def _cells(dataset: str, detector: str, helpful: bool, rng) -> list[dict]:
    """Cells as ``fusion_rules.collect`` writes them: the classifier's evidence ``C`` either
    finds the anomalies the base score ``T`` misses, or is noise."""
    y = np.r_[np.zeros(80), np.ones(20)]
    T = rng.normal(size=100) + 0.5 * y
    C = (3.0 * y if helpful else 0.0) + rng.exponential(size=100)
    return [{"dataset": dataset, "detector": detector, "y": y, "T": T, "C": C, "clf_sep": 0.9}]


@pytest.mark.parametrize("helpful, expected", [(True, "@ 3.0 (pick)"), (False, "@ 0.5 (pick)")])
def test_pick_defaults_prints_the_rules_pick(tmp_path, monkeypatch, capsys, helpful, expected):
    rng = np.random.default_rng(0)
    cells = [c for i in range(6) for c in _cells(f"set{i}", "PCA", helpful, rng)]
    cache = tmp_path / "shares.pkl"
    cache.write_bytes(pickle.dumps(cells))
    monkeypatch.setattr(sys, "argv", ["pick_defaults.py", str(cache)])
    pick_defaults.main()
    out = capsys.readouterr().out
    assert f"**PCA: shares {expected}**" in out
    assert "IForest" not in out  # only detectors with cells are listed


def test_pick_defaults_merges_caches_whose_cells_score_alike(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    cells = [c for i in range(6) for c in _cells(f"set{i}", "PCA", True, rng)]
    paths = [tmp_path / "shipped.pkl", tmp_path / "thirds.pkl"]
    for path in paths:
        path.write_bytes(pickle.dumps(cells))
    monkeypatch.setattr(sys, "argv", ["pick_defaults.py", *map(str, paths)])
    pick_defaults.main()
    out = capsys.readouterr().out
    assert "**PCA: shipped = thirds @ 3.0 (pick)**" in out
    assert "| PCA: thirds @" not in out and "| PCA: shipped @" not in out
