"""The command line, through typer's runner: exit codes, messages, files written."""

import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from llmdas import EnhancedDetector, FeatureNamesWarning, SynthesisProgram, load
from llmdas.cli import app
from llmdas.data import load_demo
from llmdas.fusion import EcdfNormalizer

runner = CliRunner()


def test_help_everywhere():
    for args in (
        [],
        ["demo"],
        ["enhance"],
        ["score"],
        ["info"],
        ["programs"],
        ["programs", "list"],
        ["programs", "show"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output


def test_version_is_the_installed_package_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"llmdas {version('llmdas')}"


def test_demo_prints_base_and_enhanced_figures():
    result = runner.invoke(app, ["demo", "--detectors", "ECOD,IForest"])
    assert result.exit_code == 0, result.output
    assert "Base vs enhanced" in " ".join(result.output.split())
    assert "ECOD" in result.output and "IForest" in result.output and "AUC-PR" in result.output


def test_demo_reads_the_labels_of_a_table_from_the_column_named(tmp_path):
    X, y = load_demo()
    table = tmp_path / "labelled.csv"  # the labels first, under a name, as many exports have them
    names = ",".join(["Class", *(f"f{i}" for i in range(X.shape[1]))])
    np.savetxt(table, np.column_stack([y, X]), delimiter=",", header=names, comments="")
    demo = ["demo", "--detectors", "ECOD", "--data", str(table)]
    result = runner.invoke(app, [*demo, "--label-column", "Class"])
    words = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert f"({int(y.sum())} anomalies)" in words  # every anomaly is a test row
    assert f"{X.shape[1]} features" in words  # the label column is not one
    result = runner.invoke(app, [*demo, "--label-column", "none"])
    words = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "demo compares AUCs on the test rows" in words, words


def test_enhance_writes_scores_and_model(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out, model = tmp_path / "scores.csv", tmp_path / "m.joblib"
    result = runner.invoke(
        app,
        [
            "enhance",
            "--detector",
            "ECOD",
            "--data",
            str(tmp_path / "d.npz"),
            "--scores-out",
            str(out),
            "--save",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    fitted = load(model)
    assert f"classifier weight {fitted.weight_:.2f}" in " ".join(result.output.split())
    scores = np.loadtxt(out, skiprows=1)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    assert np.allclose(fitted.decision_function(X), scores, rtol=1e-8)


def test_enhance_on_a_system_without_the_sandbox_says_so_in_one_line(tmp_path, monkeypatch):
    from llmdas.sandbox import session

    monkeypatch.setattr(session, "_POSIX", False)
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "scores.csv"
    args = [
        "enhance",
        "--detector",
        "PCA",
        "--data",
        str(tmp_path / "d.npz"),
        "--scores-out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "error:" in result.output and "WSL" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_enhance_passes_detector_parameters_and_the_weight(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out, model = tmp_path / "s.csv", tmp_path / "m.joblib"
    fit = ["enhance", "--detector", "IForest", "--data", str(tmp_path / "d.npz")]
    fit += ["--scores-out", str(out), "--save", str(model)]
    params = ["--detector-param", "n_estimators=20", "--detector-param", "max_samples=0.5"]
    result = runner.invoke(app, [*fit, *params, "--weight", "0", "--n-jobs", "2"])
    assert result.exit_code == 0, result.output
    fitted = load(model)
    assert fitted.detector_.n_estimators == 20 and fitted.detector_.max_samples == 0.5
    assert fitted.n_jobs == 2 and fitted.classifier_.n_jobs == 2
    assert fitted.weight_ == 0
    # Weight 0: the scores rank the rows as the base detector alone does.
    scores, base = np.loadtxt(out, skiprows=1), fitted.base_decision_function(X)
    assert np.array_equal(np.argsort(scores, kind="stable"), np.argsort(base, kind="stable"))
    result = runner.invoke(app, ["info", str(model)])
    assert "IForest(max_samples=0.5," in result.output and "n_estimators=20" in result.output
    result = runner.invoke(app, ["info", str(model), "--json"])
    about = json.loads(result.output)
    assert about["detector_params"]["n_estimators"] == 20 and about["weight"] == 0
    assert about["n_train"] == int((y == 0).sum()) and about["n_features"] == X.shape[1]
    assert about["program"]["sha256"] == fitted.program_.sha256
    assert about["versions"] == fitted.versions_ and about["program_error"] is None
    for bad, message in [
        (["--detector-param", "n_estimator=20"], "IForest has no parameter 'n_estimator'"),
        (["--detector-param", "n_estimators"], "--detector-param takes NAME=VALUE"),
        (
            ["--detector-param", "random_state=5"],
            "seeds the program and the classifier; pass --seed",
        ),
        (["--weight", "high"], "--weight must be 'auto' or a number >= 0, got 'high'"),
    ]:
        result = runner.invoke(app, [*fit, *bad])
        assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output


def test_enhance_takes_the_papers_fusion_rule_and_amount(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.joblib"
    fit = ["enhance", "--detector", "PCA", "--data", str(tmp_path / "d.npz")]
    fit += ["--scores-out", str(tmp_path / "s.csv"), "--save", str(model)]
    paper = ["--normalization", "minmax", "--weight", "1", "--n-synthetic", "0.1"]
    result = runner.invoke(app, [*fit, *paper, "--no-distance-feature"])
    assert result.exit_code == 0, result.output
    fitted = load(model)
    assert fitted.normalization == "minmax" and fitted.weight_ == 1.0
    assert fitted.distance_feature_ is None and fitted.classifier_.n_features_in_ == X.shape[1]
    assert len(fitted.synthetic_) == int(np.ceil(0.1 * (y == 0).sum()))
    result = runner.invoke(app, [*fit, "--n-synthetic", "25"])  # a whole number is a count
    assert result.exit_code == 0 and len(load(model).synthetic_) == 25
    result = runner.invoke(app, [*fit, "--weight-scale", "2"])
    assert result.exit_code == 0 and load(model).weight_scale_ == 2.0
    result = runner.invoke(app, [*fit, "--n-synthetic", "many"])
    assert result.exit_code == 1 and "--n-synthetic must be a fraction" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--weight", "-1"], "--weight must be 'auto' or a finite number >= 0, got -1.0"),
        (["--weight-scale", "x"], "--weight-scale must be 'auto' or a number >= 0, got 'x'"),
        (["--weight-scale", "nan"], "--weight-scale must be 'auto' or a finite number >= 0"),
        (["--n-synthetic", "0"], "--n-synthetic must be a positive fraction or count, got 0"),
        (["--contamination", "0.7"], "--contamination must be in (0, 0.5]"),
        (["--program-timeout", "0"], "--program-timeout must be a finite number of seconds > 0"),
        (["--normalization", "zz"], "--normalization must be 'tail' or 'minmax', got 'zz'"),
        (["--on-program-error", "skip"], "--on-program-error must be 'raise' or 'base'"),
    ],
)
def test_enhance_refuses_bad_settings_by_option_before_reading_the_data(bad, message, tmp_path):
    data = tmp_path / "unreadable.csv"  # reading it would fail with another message
    data.write_text("a,b\n1,x\n")
    args = ["enhance", "--detector", "PCA", "--data", str(data), "--label-column", "none"]
    result = runner.invoke(app, [*args, "--scores-out", str(tmp_path / "s.csv"), *bad])
    assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output


def test_warnings_print_as_one_line_without_a_source_location(tmp_path):
    data = tmp_path / "few.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=(20, 3)), delimiter=",")
    fit = ["enhance", "--detector", "PCA", "--data", str(data), "--label-column", "none"]
    result = runner.invoke(app, [*fit, "--scores-out", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning: only 20 training and 10 synthetic rows" in output
    assert "SmallSampleWarning" not in output and ".py:" not in output


def test_enhance_fits_and_scores_csv_files_without_labels(tmp_path):
    X, y = load_demo()
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    np.savetxt(train, X[y == 0], delimiter=",")
    np.savetxt(new, X[:40], delimiter=",")
    out = tmp_path / "scores.csv"
    args = ["enhance", "--detector", "ECOD", "--data", str(train), "--scores-out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "--label-column none" in " ".join(result.output.split())
    result = runner.invoke(app, [*args, "--label-column", "none", "--score-data", str(new)])
    assert result.exit_code == 0, result.output
    assert f"on {(y == 0).sum()} normal rows" in " ".join(result.output.split())
    assert np.loadtxt(out, skiprows=1).shape == (40,)
    # Labelled training rows, unlabelled rows to score.
    labelled = tmp_path / "labelled.csv"
    np.savetxt(labelled, np.column_stack([X, y]), delimiter=",")
    result = runner.invoke(
        app,
        [*args[:4], str(labelled), *args[5:], "--score-data", str(new)]
        + ["--score-label-column", "none"],
    )
    assert result.exit_code == 0, result.output
    assert f"on {(y == 0).sum()} normal rows" in " ".join(result.output.split())
    # Said, so that a 0/1 feature taken for the labels by default does not drop rows unseen.
    left_out = f"{y.sum()} of {len(y)} rows are labelled 1 (anomaly) in the last column"
    assert left_out in " ".join(result.output.split())
    # Every row labelled 1: a clear error instead of "0 rows".
    ones = tmp_path / "ones.csv"
    np.savetxt(ones, np.column_stack([X[:20], np.ones(20)]), delimiter=",")
    result = runner.invoke(app, [*args[:4], str(ones), *args[5:]])
    assert result.exit_code == 1 and "no normal rows to fit on" in " ".join(result.output.split())


def test_score_reuses_a_saved_model_and_writes_labels(tmp_path):
    X, y = load_demo()
    train, model = tmp_path / "train.npy", tmp_path / "m.joblib"
    np.save(train, X[y == 0])
    fit_scores, fit_labels = tmp_path / "a.csv", tmp_path / "a_labels.csv"
    result = runner.invoke(
        app,
        ["enhance", "--detector", "IForest", "--data", str(train), "--label-column", "none"]
        + ["--scores-out", str(fit_scores), "--labels-out", str(fit_labels)]
        + ["--contamination", "0.2", "--save", str(model)],
    )
    assert result.exit_code == 0, result.output
    squeezed = "".join(result.output.split())  # however rich wraps the paths
    assert f"andtheirlabelsto{fit_labels}" in squeezed
    new = tmp_path / "new.csv"
    np.savetxt(new, X, delimiter=",")
    scores, labels = tmp_path / "b.npy", tmp_path / "b_labels.npy"
    result = runner.invoke(
        app,
        ["score", "--model", str(model), "--data", str(new), "--scores-out", str(scores)]
        + ["--labels-out", str(labels)],
    )
    assert result.exit_code == 0, result.output
    assert f"wrote{scores}and{labels}" in "".join(result.output.split())
    fitted = load(model)
    assert fitted.contamination == 0.2
    assert np.allclose(np.load(scores), fitted.decision_function(X), rtol=1e-12)
    assert np.array_equal(np.load(labels), fitted.predict(X))
    assert np.array_equal(np.loadtxt(fit_labels, skiprows=1), fitted.predict(X[y == 0]))
    # Anomalies are flagged far more often than normal rows.
    flagged = np.load(labels)
    assert flagged[y == 1].mean() > 2 * flagged[y == 0].mean()


def test_score_reads_files_in_chunks_and_threads_with_the_same_result(tmp_path):
    X, y = load_demo()
    model, new = tmp_path / "m.joblib", tmp_path / "new.csv"
    EnhancedDetector("ECOD", random_state=0).fit(X[y == 0]).save(model)
    np.savetxt(new, X, delimiter=",")

    def score(chunk_rows: str, out, n_jobs: str = "1"):
        return runner.invoke(
            app,
            ["score", "--model", str(model), "--data", str(new), "--scores-out", str(out)]
            + ["--parts", "--chunk-rows", chunk_rows, "--n-jobs", n_jobs],
        )

    outputs = []
    for chunk_rows, n_jobs in [("100000", "1"), ("7", "1"), ("7", "2")]:
        out = tmp_path / f"s{chunk_rows}-{n_jobs}.npy"
        result = score(chunk_rows, out, n_jobs)
        assert result.exit_code == 0, result.output
        outputs.append(np.load(out))
    assert np.array_equal(outputs[0], outputs[1]) and np.array_equal(outputs[0], outputs[2])
    assert np.array_equal(outputs[0][:, 0], load(model).decision_function(X))
    # A bad row in a later chunk: one line naming its rows, and no partial output.
    X[20, 3] = np.nan
    np.savetxt(new, X, delimiter=",")
    result = score("7", tmp_path / "bad.npy")
    assert result.exit_code == 1
    assert "X of new.csv (rows 15-21) contains 1 NaN" in " ".join(result.output.split())
    assert not (tmp_path / "bad.npy").exists()


def test_enhance_scores_other_rows_in_chunks_after_checking_them_all_before_the_fit(tmp_path):
    X, y = load_demo()
    train, new = tmp_path / "train.npy", tmp_path / "new.csv"
    np.save(train, X[y == 0])
    np.savetxt(new, X, delimiter=",")
    fit = ["enhance", "--detector", "ECOD", "--data", str(train), "--label-column", "none"]
    fit += ["--score-data", str(new), "--parts"]

    def enhance(chunk_rows: str, out, model):
        return runner.invoke(
            app,
            [*fit, "--chunk-rows", chunk_rows, "--scores-out", str(out), "--save", str(model)],
        )

    outputs = []
    for chunk_rows in ("100000", "7"):
        out, model = tmp_path / f"s{chunk_rows}.npy", tmp_path / f"m{chunk_rows}.joblib"
        result = enhance(chunk_rows, out, model)
        assert result.exit_code == 0, result.output
        outputs.append(np.load(out))
    assert np.array_equal(outputs[0], outputs[1])
    assert np.array_equal(outputs[0][:, 0], load(model).decision_function(X))
    # A bad row in a later chunk stops the command before the fit: no model, no scores.
    X[20, 3] = np.nan
    np.savetxt(new, X, delimiter=",")
    result = enhance("7", tmp_path / "bad.npy", tmp_path / "bad.joblib")
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "X of new.csv (rows 15-21) contains 1 NaN" in output
    assert "fitted" not in output
    assert not (tmp_path / "bad.npy").exists() and not (tmp_path / "bad.joblib").exists()


def test_info_says_how_the_scores_are_fused(tmp_path):
    X, y = load_demo()
    for detector, normalization, ceiling in (("OCSVM", "tail", True), ("PCA", "minmax", False)):
        det = EnhancedDetector(detector, normalization=normalization, weight=1.0).fit(X[y == 0])
        model = det.save(tmp_path / f"{detector}.joblib")
        fusion = json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)["fusion"]
        assert fusion["normalization"] == normalization
        assert fusion["classifier"] == ("tail" if normalization == "tail" else "minmax")
        assert fusion["base_ceiling"] == (det._base_map.ceiling if ceiling else None)
        text = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
        assert ("-log(" in text) == ceiling and ("min-max" in text) == (not ceiling)
        wide = runner.invoke(app, ["info", str(model)], env={"COLUMNS": "250"}).output
        assert ("weight x tail evidence of the classifier score" in wide) == (
            normalization == "tail"
        )
    # What the classifier sees: the distance column by default (the 357 normal demo rows, all distinct), or not.
    about = json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)
    assert about["distance_feature"] == {"neighbours": 5, "reference_rows": 357}
    text = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
    assert "classifier input" in text and "357" in text  # the table folds the long line
    det.set_params(distance_feature=False).fit(X[y == 0]).save(model)
    about = json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)
    assert about["distance_feature"] is None
    # The automatic weight's scale: the built-in PCA program's, and none for a fixed weight.
    assert about["weight"] == 1.0 and about["weight_scale"] is None
    det.set_params(weight="auto", normalization="tail").fit(X[y == 0]).save(model)
    about = json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)
    assert about["weight_scale"] == 0.7 and about["weight"] == det.weight_
    text = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
    assert f"{det.weight_:.3f} of at most 0.7" in text

    # A model fitted before the classifier's score became tail evidence says so.
    det = EnhancedDetector("OCSVM").fit(X[y == 0])
    det._clf_norm = EcdfNormalizer.fit(det.classifier_scores_, power=2.0)
    det.save(model)
    about = json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)
    assert about["fusion"]["classifier"] == "squared-rank"
    wide = runner.invoke(app, ["info", str(model)], env={"COLUMNS": "250"}).output
    assert "weight x squared classifier rank" in wide


def test_info_json_of_a_model_that_fell_back_to_its_detector(tmp_path):
    crash = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n    return 1 / 0\n", name="crash"
    )
    X, y = load_demo()
    model = tmp_path / "m.joblib"
    with pytest.warns(UserWarning, match="falling back to the base detector"):
        det = EnhancedDetector("ECOD", program=crash, on_program_error="base").fit(X[y == 0])
    det.save(model)
    result = runner.invoke(app, ["info", str(model), "--json"])
    assert result.exit_code == 0, result.output
    about = json.loads(result.output)  # strict JSON: the NaN separability is null
    assert about["separability"] is None and about["classifier"] is None
    assert "ZeroDivisionError" in about["program_error"] and about["n_synthetic"] == 0
    # A program that names no author or generator: null, and left out of the table.
    assert about["program"]["author"] is None and about["program"]["generator"] is None
    table = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
    assert f"crash (sha256 {about['program']['sha256'][:12]})" in table and "?" not in table
    assert about["distance_feature"] is None and "classifier input │ none" in table


def test_info_lists_feature_names_so_that_a_comma_in_one_is_not_two(tmp_path):
    import pandas as pd

    X, _ = load_demo()
    frame = pd.DataFrame(X[:, :3], columns=["x, mm", "y", "z"])
    model = EnhancedDetector("ECOD", random_state=0).fit(frame).save(tmp_path / "m.joblib")
    table = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
    assert "'x, mm', 'y', 'z'" in table, table
    frame.columns = ["a", "b", "c"]
    EnhancedDetector("ECOD", random_state=0).fit(frame).save(model)
    assert "a, b, c" in " ".join(runner.invoke(app, ["info", str(model)]).output.split())


def test_enhance_and_info_say_when_the_program_was_written_for_another_detector(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.joblib"
    fit = ["enhance", "--data", str(tmp_path / "d.npz"), "--scores-out", str(tmp_path / "s.csv")]
    result = runner.invoke(app, [*fit, "--detector", "ecod", "--program", "PCA", "--save", model])
    words = " ".join(result.output.split())
    assert (
        result.exit_code == 0
        and "fitted ECOD + pca-minor-directions-shell (written for PCA)" in words
    )
    table = " ".join(runner.invoke(app, ["info", str(model)]).output.split())
    assert "human, written for PCA)" in table
    assert (
        json.loads(runner.invoke(app, ["info", str(model), "--json"]).output)["program"]["detector"]
        == "PCA"
    )
    # Its own program, or a baseline written for any detector: nothing to say.
    result = runner.invoke(app, [*fit, "--detector", "ECOD", "--save", model])
    assert result.exit_code == 0 and "written for" not in result.output, result.output
    assert "written for" not in runner.invoke(app, ["info", str(model)]).output
    result = runner.invoke(app, [*fit, "--detector", "ECOD", "--program", "uniform"])
    assert result.exit_code == 0 and "written for" not in result.output, result.output


def test_score_rejects_files_that_are_no_model(tmp_path):
    bogus = tmp_path / "m.joblib"
    bogus.write_text("1,2,3\n")
    args = ["score", "--model", str(bogus), "--data", "demo", "--scores-out", "x.csv"]
    result = runner.invoke(app, args)
    output = " ".join(result.output.split())  # rich wraps long messages
    assert result.exit_code == 1 and "is not an llmdas model file" in output
    result = runner.invoke(app, [*args[:2], str(tmp_path / "none.joblib"), *args[3:]])
    assert result.exit_code == 1 and "does not exist" in " ".join(result.output.split())


def test_user_errors_exit_1_with_one_line():
    result = runner.invoke(
        app, ["enhance", "--detector", "PCA", "--data", "/no/such.npz", "--scores-out", "x.csv"]
    )
    assert result.exit_code == 1
    assert "error:" in result.output and "not found" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["demo", "--detectors", "Nope"])
    assert result.exit_code == 1 and "unknown detector 'Nope'" in " ".join(result.output.split())
    assert "instance" not in result.output  # a Python object is no choice on the command line
    for detectors, message in (("", "no detectors given"), ("PCA,pca", "PCA more than once")):
        result = runner.invoke(app, ["demo", "--detectors", detectors])
        assert result.exit_code == 2 and message in result.output, result.output  # no empty table
    # The name is checked before the data are read.
    result = runner.invoke(
        app, ["enhance", "--detector", "Nope", "--data", "/no/such.npz", "--scores-out", "x.csv"]
    )
    assert result.exit_code == 1 and "unknown detector 'Nope'" in " ".join(result.output.split())
    assert "instance" not in result.output


def test_generate_names_the_options_that_are_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for args, option in (
        (["--provider", "anthropic"], "--model"),
        (["--provider", "replay"], "--base-url"),
        (["--provider", "openai", "--model", "m"], "--base-url"),  # no key: a local server?
    ):
        result = runner.invoke(
            app, ["generate", "--detector", "PCA", *args, "--out", str(tmp_path / "out")]
        )
        message = " ".join(result.output.split())
        assert result.exit_code == 1 and f"on the command line: {option})" in message, message
        assert not (tmp_path / "out").exists()


def test_programs_list_and_show():
    result = runner.invoke(app, ["programs", "list"])
    assert result.exit_code == 0 and "pca-minor" in result.output and "human" in result.output
    result = runner.invoke(app, ["programs", "show", "PCA"])
    assert (
        result.exit_code == 0
        and "Policy" in result.output
        and "generate_hard_anomalies" in result.output
    )
    # The policy, wrapped at about 100 columns in the file, is one paragraph the terminal wraps:
    # no line of it but the last is cut short.
    policy = result.output.split("Policy\n")[1].split("\n\n")[0].splitlines()
    assert len(policy) > 3 and min(len(line) for line in policy[:-1]) > 60, policy
    result = runner.invoke(app, ["programs", "show", "nope"])
    assert result.exit_code == 1 and "unknown program" in " ".join(result.output.split())


def test_reflow_joins_the_lines_of_a_paragraph_and_keeps_lists_and_indented_lines():
    from llmdas._terminal import reflow

    text = "one two\nthree\n\n- a\n- b\n  indented\n1. x\ny\n"
    assert reflow(text) == "one two three\n\n- a\n- b\n  indented\n1. x y"


def test_text_from_programs_and_errors_is_shown_as_written(tmp_path):
    # Square brackets in a program's metadata or in an error are text, not console markup.
    program = SynthesisProgram.from_source(
        "def generate_hard_anomalies(n_samples, model, X_train):\n    return X_train[:n_samples]\n",
        detector="PCA",
        name="brackets",
        policy="values in [0, 1]; [bold]not bold[/]",
    )
    path = program.save(tmp_path / "p.py")
    result = runner.invoke(app, ["programs", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "values in [0, 1]; [bold]not bold[/]" in " ".join(result.output.split())
    text = path.read_text().replace("# ///\n", '# provenance = "me"\n# ///\n', 1)
    path.write_text(text)
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    args = ["enhance", "--detector", "PCA", "--data", str(tmp_path / "d.npz"), "--program"]
    result = runner.invoke(app, [*args, str(path), "--scores-out", str(tmp_path / "s.csv")])
    assert result.exit_code == 1
    assert "('[provenance]', then lines" in " ".join(result.output.split())


def test_score_checks_csv_headers_against_the_fitted_columns(tmp_path):
    X, y = load_demo()
    names = [f"f{i}" for i in range(X.shape[1])]
    train, model = tmp_path / "train.csv", tmp_path / "m.joblib"
    np.savetxt(train, np.column_stack([X, y]), delimiter=",", header=",".join([*names, "y"]))
    result = runner.invoke(
        app,
        ["enhance", "--detector", "ECOD", "--data", str(train), "--label-column", "y"]
        + ["--scores-out", str(tmp_path / "s.csv"), "--save", str(model)],
    )
    assert result.exit_code == 0, result.output
    assert list(load(model).feature_names_in_) == names
    score = ["score", "--model", str(model), "--scores-out", str(tmp_path / "t.csv")]
    same = tmp_path / "same.csv"
    np.savetxt(same, X[:20], delimiter=",", header=",".join(names), comments="")
    result = runner.invoke(app, [*score, "--data", str(same)])
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    # Without a header the columns cannot be checked, and a warning says so.
    headerless = tmp_path / "headerless.csv"
    np.savetxt(headerless, X[:20], delimiter=",")
    result = runner.invoke(app, [*score, "--data", str(headerless)])
    output = " ".join(result.output.split())
    assert result.exit_code == 0 and "warning: headerless.csv does not name its columns" in output
    # An empty file names no columns either, but it is refused for having no rows, not warned of.
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, [*score, "--data", str(empty)])
    assert result.exit_code == 1 and "holds no rows" in result.output, result.output
    assert "warning" not in result.output
    # The same numbers under a header in another order would be scored wrongly: refused.
    swapped = tmp_path / "swapped.csv"
    order = [1, 0, *range(2, len(names))]
    header = ",".join(names[i] for i in order)
    np.savetxt(swapped, X[:20, order], delimiter=",", header=header, comments="")
    result = runner.invoke(app, [*score, "--data", str(swapped)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "different order" in output, result.output
    # A label column left in gets a hint.
    labelled = tmp_path / "labelled.csv"
    header = ",".join([*names, "y"])
    np.savetxt(labelled, np.column_stack([X, y]), delimiter=",", header=header, comments="")
    result = runner.invoke(app, [*score, "--data", str(labelled)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "not seen at fit 'y'" in output, result.output
    assert "pass --label-column" in output
    result = runner.invoke(app, [*score, "--data", str(labelled), "--label-column", "y"])
    assert result.exit_code == 0, result.output
    # Without a header, the extra column is found by the count of columns, with the same hint.
    bare = tmp_path / "bare.csv"
    np.savetxt(bare, np.column_stack([X, y]), delimiter=",")
    result = runner.invoke(app, [*score, "--data", str(bare)])
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert f"bare.csv has {X.shape[1] + 1} feature columns, the model was fitted on" in output
    assert "pass --label-column" in output
    # Rows to score without the training file's label column: the fix is named.
    fit = ["enhance", "--detector", "ECOD", "--data", str(train), "--label-column", "y"]
    fit += ["--scores-out", str(tmp_path / "u.csv"), "--score-data", str(same)]
    result = runner.invoke(app, fit)
    output = " ".join(result.output.split())
    assert result.exit_code == 1 and "pass --score-label-column none" in output, result.output
    result = runner.invoke(app, [*fit, "--score-label-column", "none"])
    assert result.exit_code == 0, result.output
    wide = [*fit[:-1], str(bare), "--score-label-column", "none"]  # checked before the fit
    result = runner.invoke(app, wide)
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert f"bare.csv has {X.shape[1] + 1} feature columns, train.csv has {X.shape[1]}" in output
    # A label column for rows to score, but no rows to score: refused, not ignored.
    alone = [*fit[:-2], "--score-label-column", "none"]
    result = runner.invoke(app, alone)
    output = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "--score-label-column is the label column of --score-data: give both" in output
    # `llmdas info` describes the saved model.
    result = runner.invoke(app, ["info", str(model)])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    fitted = load(model)
    assert "ECOD" in output and fitted.program_.name in output and "f0, f1, f2" in output
    assert f"{len(X[y == 0])} rows x {X.shape[1]} features" in output
    assert f"{fitted.weight_:.3f}" in output and f"{fitted.threshold_:.6g}" in output
    assert f"numpy {np.__version__}" in output and "pyod" in output


def test_parquet_files_fit_and_score_by_column_name(tmp_path):
    import pandas as pd

    X, y = load_demo()
    names = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names).assign(label=y)
    frame.to_parquet(tmp_path / "train.parquet")
    model, out = tmp_path / "m.joblib", tmp_path / "s.csv"
    result = runner.invoke(
        app,
        ["enhance", "--detector", "IForest", "--data", str(tmp_path / "train.parquet")]
        + ["--label-column", "label", "--scores-out", str(out), "--save", str(model)],
    )
    assert result.exit_code == 0, result.output
    fitted = load(model)
    assert list(fitted.feature_names_in_) == names
    with pytest.warns(FeatureNamesWarning):  # the model knows the file's column names
        assert np.allclose(np.loadtxt(out, skiprows=1), fitted.decision_function(X))
    # New rows in another column order are refused; in the fitted order they score.
    score = ["score", "--model", str(model), "--scores-out", str(tmp_path / "t.csv")]
    frame[names[::-1]].to_parquet(tmp_path / "reversed.parquet")
    result = runner.invoke(app, [*score, "--data", str(tmp_path / "reversed.parquet")])
    assert result.exit_code == 1 and "different order" in " ".join(result.output.split())
    frame[names].iloc[:10].to_parquet(tmp_path / "new.parquet")
    result = runner.invoke(app, [*score, "--data", str(tmp_path / "new.parquet")])
    assert result.exit_code == 0, result.output
    with pytest.warns(FeatureNamesWarning):
        expected = fitted.decision_function(X[:10])
    assert np.allclose(np.loadtxt(tmp_path / "t.csv", skiprows=1), expected)


def test_parts_are_written_beside_the_scores(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out, model, npy = tmp_path / "s.csv", tmp_path / "m.joblib", tmp_path / "s.npy"
    result = runner.invoke(
        app,
        ["enhance", "--detector", "IForest", "--data", str(tmp_path / "d.npz"), "--parts"]
        + ["--scores-out", str(out), "--save", str(model)],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == "score,base,classifier"
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    fitted = load(model)
    assert np.allclose(table[:, 0], fitted.decision_function(X), rtol=1e-8)
    assert np.allclose(table[:, 1] + table[:, 2], table[:, 0], rtol=1e-8)
    assert table[:, 2].max() > 0  # the classifier took part
    args = ["score", "--model", str(model), "--data", str(tmp_path / "d.npz")]
    result = runner.invoke(app, [*args, "--scores-out", str(npy), "--parts"])
    assert result.exit_code == 0, result.output
    assert np.allclose(np.load(npy), table, rtol=1e-8)
    # Parquet keeps the column names and the full precision; labels stay integers.
    import pandas as pd

    pq, flags = tmp_path / "s.parquet", tmp_path / "flags.parquet"
    result = runner.invoke(
        app, [*args, "--scores-out", str(pq), "--parts", "--labels-out", str(flags)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(pq)
    assert list(frame.columns) == ["score", "base", "classifier"]
    assert np.array_equal(frame["score"], fitted.decision_function(X))
    assert frame["score"].tolist() == (frame["base"] + frame["classifier"]).tolist()
    expected = (fitted.decision_function(X) > fitted.threshold_).astype(np.int64)
    assert np.array_equal(pd.read_parquet(flags)["label"], expected)


def test_an_output_file_of_unknown_format_is_refused_before_the_fit(tmp_path, monkeypatch):
    from llmdas.enhanced import EnhancedDetector

    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    fits = []
    monkeypatch.setattr(EnhancedDetector, "fit", lambda self, X, y=None: fits.append(X))
    fit = ["enhance", "--detector", "PCA", "--data", str(tmp_path / "d.npz")]
    s_txt, s_csv, l_xlsx = (str(tmp_path / name) for name in ("s.txt", "s.csv", "l.xlsx"))
    for out in (["--scores-out", s_txt], ["--scores-out", s_csv, "--labels-out", l_xlsx]):
        result = runner.invoke(app, fit + out)
        output = " ".join(result.output.split())
        assert result.exit_code == 1 and "name a .csv, .npy or .parquet file" in output, output
    assert not fits and not list(tmp_path.glob("s.*"))


def _ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_during_a_fit_says_so_and_writes_nothing(tmp_path, monkeypatch):
    from llmdas.enhanced import EnhancedDetector

    monkeypatch.setattr(EnhancedDetector, "fit", _ctrl_c)
    scores = tmp_path / "s.csv"
    args = ["enhance", "--detector", "PCA", "--data", "demo", "--scores-out", str(scores)]
    result = runner.invoke(app, [*args, "--save", str(tmp_path / "m.joblib")])
    output = " ".join(result.output.split())
    assert result.exit_code == 130 and "interrupted: stopped before the end" in output, output
    assert not list(tmp_path.iterdir())


def test_ctrl_c_while_programs_are_validated_says_so(tmp_path, monkeypatch):
    import llmdas.store

    monkeypatch.setattr(llmdas.store, "validate_store", _ctrl_c)
    result = runner.invoke(app, ["programs", "validate", str(tmp_path)])
    output = " ".join(result.output.split())
    assert result.exit_code == 130 and "interrupted: stopped before the end" in output, output


def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path, monkeypatch):
    from llmdas.enhanced import EnhancedDetector

    X, y = load_demo()
    data = tmp_path / "d.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",")
    original = data.read_bytes()
    fits = []
    monkeypatch.setattr(EnhancedDetector, "fit", lambda self, X, y=None: fits.append(X))
    fit = ["enhance", "--detector", "PCA", "--data", str(data)]
    scores = str(tmp_path / "s.csv")
    cases = [
        (["--scores-out", str(data)], "--scores-out", "--data"),
        (["--scores-out", scores, "--save", str(data)], "--save", "--data"),
        (["--scores-out", scores, "--labels-out", scores], "--labels-out", "--scores-out"),
        (["--scores-out", scores, "--score-data", scores], "--scores-out", "--score-data"),
        (["--scores-out", scores, "--save", str(tmp_path)], "--save", None),
    ]
    (tmp_path / "s.csv").write_bytes(original)  # an existing --score-data file
    for options, output, other in cases:
        result = runner.invoke(app, fit + options)
        message = " ".join(result.output.split())
        assert result.exit_code == 1, message
        reason = (
            "is a directory; name a file in it" if other is None else f"is also the {other} file"
        )
        assert f"{output} " in message and reason in message, message
    assert not fits and data.read_bytes() == original
    # llmdas score reads --data too (a model file is refused by its suffix already).
    (tmp_path / "m.joblib").touch()
    result = runner.invoke(
        app,
        [
            "score",
            "--model",
            str(tmp_path / "m.joblib"),
            "--data",
            str(data),
            "--scores-out",
            str(data),
        ],
    )
    message = " ".join(result.output.split())
    assert (
        result.exit_code == 1 and "--scores-out" in message and "is also the --data file" in message
    )
    assert data.read_bytes() == original


def test_a_directory_where_a_file_is_needed_and_a_path_inside_a_file_are_named(
    tmp_path, monkeypatch
):
    from llmdas.enhanced import EnhancedDetector

    X, y = load_demo()
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y)
    fits = []
    monkeypatch.setattr(EnhancedDetector, "fit", lambda self, X, y=None: fits.append(X))
    folder = str(tmp_path)
    bench = ["benchmark", "--data", folder, "--detectors", "PCA", "--seeds", "0", "--quiet"]
    enhance = ["enhance", "--detector", "PCA", "--data", str(data), "--scores-out"]
    cases = [
        (
            ["score", "--model", folder, "--data", str(data), "--scores-out", f"{folder}/s.csv"],
            f"model file {folder} is a directory, not a file",
        ),
        (["summary", folder], f"result store {folder} is a directory, not a file"),
        (["info", os.devnull], f"model file {os.devnull} is not a regular file"),
        (["programs", "show", folder], f"program file {folder} is a directory, not a file"),
        (
            ["benchmark", "--data", str(data), "--detectors", "PCA", "--store", f"{folder}/r.db"],
            f"data directory {data} is a file, not a directory",
        ),
        ([*bench, "--store", str(data / "r.db")], f"cannot be written: {data} is a file"),
        ([*enhance, str(data / "out" / "s.csv")], f"cannot be written: {data} is a file"),
    ]
    if Path("/proc/self").is_dir():  # Linux: a folder where no one, root included, makes files
        cases += [
            (
                [*enhance, "/proc/s.csv"],
                "--scores-out /proc/s.csv cannot be written: nothing can be created in /proc",
            ),
            ([*bench, "--store", "/proc/r.db"], "nothing can be created in /proc"),
        ]
    for args, reason in cases:
        result = runner.invoke(app, args)
        message = " ".join(result.output.split())
        assert result.exit_code == 1 and message.startswith("error:"), message
        assert reason in message, message
    assert not fits


def test_enhance_checks_the_program_before_it_reads_the_data(tmp_path):
    broken = "def generate_hard_anomalies(n_samples, model, X_train)\n    return X_train\n"
    SynthesisProgram.from_source(broken, detector="PCA", name="broken").save(tmp_path / "b.py")
    (tmp_path / "d.npz").write_bytes(b"not read yet")  # reading it would fail first
    line = (tmp_path / "b.py").read_text().splitlines().index(broken.splitlines()[0]) + 1
    args = ["enhance", "--detector", "PCA", "--data", str(tmp_path / "d.npz")]
    args += ["--scores-out", str(tmp_path / "s.csv")]
    result = runner.invoke(app, [*args, "--program", str(tmp_path / "b.py")])
    message = " ".join(result.output.split())
    assert result.exit_code == 1 and f"syntax error at line {line}: expected ':'" in message
    result = runner.invoke(app, [*args, "--program", "no-such-program"])
    assert result.exit_code == 1 and "unknown program 'no-such-program'" in result.output
    # With --on-program-error base a program that cannot run is a warning at fit, as before.
    result = runner.invoke(
        app, [*args, "--program", str(tmp_path / "b.py"), "--on-program-error", "base"]
    )
    assert result.exit_code == 1 and "not an .npz archive" in result.output


def test_on_program_error_base_falls_back_to_the_detector(tmp_path):
    X, y = load_demo()
    np.savez(tmp_path / "d.npz", X=X, y=y)
    crash = "def generate_hard_anomalies(n_samples, model, X_train):\n    raise RuntimeError('x')\n"
    program = SynthesisProgram.from_source(crash, detector="PCA", name="crash")
    program.save(tmp_path / "crash.py")
    fit = ["enhance", "--detector", "PCA", "--data", str(tmp_path / "d.npz")]
    fit += ["--program", str(tmp_path / "crash.py"), "--scores-out", str(tmp_path / "s.csv")]
    result = runner.invoke(app, fit)
    assert result.exit_code == 1 and "synthesis program crashed" in " ".join(result.output.split())
    raise_line = (
        (tmp_path / "crash.py").read_text().splitlines().index("    raise RuntimeError('x')")
    )
    assert f"(line {raise_line + 1})" in " ".join(result.output.split())  # the file's line
    assert not (tmp_path / "s.csv").exists()
    result = runner.invoke(app, [*fit, "--on-program-error", "base", "--save", str(tmp_path / "m")])
    message = " ".join(result.output.split())
    assert result.exit_code == 0, message
    assert (
        "falling back to the base detector PCA" in message and "the base detector alone" in message
    )
    model = load(tmp_path / "m")
    assert model.classifier_ is None and model.weight_ == 0
    # The scores written are the detector's evidence alone (CSV keeps 10 digits).
    scores = np.loadtxt(tmp_path / "s.csv", skiprows=1)
    assert np.allclose(scores, model.score_parts(X).base, rtol=1e-9)
