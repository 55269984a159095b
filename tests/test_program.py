import pytest

from llmdas.program import ProgramFormatError, SynthesisProgram

SOURCE = "def generate_hard_anomalies(n_samples, model, X_train):\n    return X_train[:n_samples]\n"


def test_round_trip_keeps_every_field(tmp_path):
    program = SynthesisProgram(
        source=SOURCE,
        detector="PCA",
        name="copy-rows",
        policy='Line one\nline two with "quotes" and a back\\slash',
        explanation="because",
        provenance={"author": "tests", "review": {"hardness": 0.5, "ok": True}, "repair_rounds": 2},
    )
    path = program.save(tmp_path / "p.py")
    loaded = SynthesisProgram.from_file(path)
    assert loaded == program
    assert loaded.sha256 == program.sha256


def test_file_is_valid_python_with_metadata_in_comments(tmp_path):
    text = SynthesisProgram(source=SOURCE, detector="PCA", name="x").to_text()
    compile(text, "p.py", "exec")
    assert text.startswith("# /// llmdas-program\n")


def test_sha_depends_on_source_only():
    a = SynthesisProgram(source=SOURCE, detector="PCA", name="a", policy="p")
    b = SynthesisProgram(source=SOURCE, detector="ECOD", name="b", policy="q")
    c = SynthesisProgram(source=SOURCE + "# x\n", detector="PCA", name="a", policy="p")
    assert a.sha256 == b.sha256 != c.sha256


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SOURCE, "no '# /// llmdas-program' metadata block"),
        ("# /// llmdas-program\n# name = \n# ///\n" + SOURCE, "not valid TOML"),
        ('# /// llmdas-program\n# name = "x"\n# ///\n' + SOURCE, "lacks detector"),
        (
            '# /// llmdas-program\n# name = 5\n# detector = "PCA"\n# ///\n' + SOURCE,
            "name must be a quoted string, got 5",
        ),
        (
            '# /// llmdas-program\n# name = "x"\n# detector = "PCA"\n# provenance = "me"\n# ///\n'
            + SOURCE,
            r"provenance must be a table .*got str 'me'",
        ),
    ],
)
def test_malformed_files_raise_clear_errors(text, message):
    with pytest.raises(ProgramFormatError, match=message):
        SynthesisProgram.from_text(text)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(ProgramFormatError, match="cannot read program file"):
        SynthesisProgram.from_file(tmp_path / "nope.py")


def test_program_files_are_read_as_utf8_text_with_or_without_a_byte_order_mark(tmp_path):
    program = SynthesisProgram(source=SOURCE, detector="PCA", name="x", policy="grün")
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + program.to_text().encode())
    assert SynthesisProgram.from_file(tmp_path / "bom.py") == program
    (tmp_path / "latin1.py").write_bytes(program.to_text().encode("latin-1"))
    with pytest.raises(ProgramFormatError, match=r"latin1.py is not UTF-8 text"):
        SynthesisProgram.from_file(tmp_path / "latin1.py")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": 123}, "source must be text, got 123"),
        ({"name": None}, "name must be text"),
        ({"provenance": "me"}, "provenance must be a dict"),
    ],
)
def test_a_program_with_a_field_of_the_wrong_type_is_refused_where_it_is_made(fields, message):
    with pytest.raises(ProgramFormatError, match=message):
        SynthesisProgram(**{"source": SOURCE, "detector": "PCA", "name": "x", **fields})


def test_a_file_without_metadata_is_told_the_lines_to_add(tmp_path):
    import ast
    import re

    bare = tmp_path / "mine.py"
    bare.write_text(SOURCE)
    with pytest.raises(ProgramFormatError, match="no '# /// llmdas-program' metadata block") as err:
        SynthesisProgram.from_file(bare)
    quoted = re.search(r"start the file with the lines (.*) \(llmdas", str(err.value)).group(1)
    lines = [ast.literal_eval(item) for item in re.findall(r"'[^']*'", quoted)]
    bare.write_text("\n".join(lines).replace("DETECTOR", "PCA") + "\n" + SOURCE)
    program = SynthesisProgram.from_file(bare)  # the advice, followed, gives a program
    assert (program.name, program.detector) == ("mine", "PCA")


def test_load_program_names_what_it_takes():
    from llmdas.programs import load_program

    with pytest.raises(TypeError, match="a SynthesisProgram, a .py file or a built-in program"):
        load_program(42)
    # Source text, which a long program would otherwise turn into "File name too long"
    with pytest.raises(ValueError, match=r"given as source text; wrap it as .*from_source"):
        load_program(SOURCE + "# padding\n" * 300)


def test_a_failed_save_keeps_the_program_file_that_was_there(tmp_path, monkeypatch):
    from pathlib import Path

    path = SynthesisProgram(source=SOURCE, detector="PCA", name="old").save(tmp_path / "p.py")
    old = path.read_text()

    def interrupted(self, text, **kwargs):
        Path.write_bytes(self, text[:20].encode())
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        SynthesisProgram(source=SOURCE, detector="PCA", name="new").save(path)
    monkeypatch.undo()
    assert path.read_text() == old and [p.name for p in tmp_path.iterdir()] == ["p.py"]


def test_a_store_skips_hidden_files_and_folders(tmp_path):
    from llmdas.program import program_files
    from llmdas.programs import load_store

    mine = SynthesisProgram(source=SOURCE, detector="PCA", name="mine").save(tmp_path / "PCA/m.py")
    stale = SynthesisProgram(source=SOURCE, detector="PCA", name="stale")
    stale.save(tmp_path / "PCA/.m.123-456.tmp.py")  # what an interrupted save leaves
    stale.save(tmp_path / ".ipynb_checkpoints/m-checkpoint.py")
    assert program_files(tmp_path) == [mine]
    assert load_store(tmp_path)["PCA"].name == "mine"


def test_first_line_is_where_the_code_begins_in_the_file(tmp_path):
    program = SynthesisProgram(source=SOURCE, detector="PCA", name="x", policy="a\nb")
    text = program.to_text()
    loaded = SynthesisProgram.from_text(text)
    def_line = text.splitlines().index(SOURCE.splitlines()[0]) + 1
    assert loaded.first_line == def_line > 1
    assert loaded.file_aligned_source.splitlines()[def_line - 1] == SOURCE.splitlines()[0]
    assert loaded == program  # where the code sits is not part of the program
    assert SynthesisProgram.from_text(text.replace("# ///\n", "# ///\n\n\n", 1)).first_line == (
        def_line + 2
    )
    # Code before the metadata block keeps its own line numbers.
    assert SynthesisProgram.from_text("import math\n" + text).first_line == 1
    with pytest.raises(ProgramFormatError, match="first_line"):
        SynthesisProgram(source=SOURCE, detector="PCA", name="x", first_line=0)


def test_a_store_with_two_programs_for_a_detector_uses_the_one_created_last(tmp_path):
    import os
    import warnings

    from llmdas.programs import load_store

    def save(name: str, created: str, mtime: int) -> None:
        program = SynthesisProgram(
            source=SOURCE, detector="PCA", name=name, provenance={"created": created}
        )
        os.utime(program.save(tmp_path / "PCA" / f"{name}.py"), (mtime, mtime))

    save("newer", "2026-11-30T10:00:00Z", mtime=1_000)  # e.g. checked out first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_store(tmp_path)["PCA"].name == "newer"  # one program: no warning
    save("older", "2026-11-01T10:00:00Z", mtime=2_000)
    with pytest.warns(UserWarning, match=r"2 programs for PCA; using the one created last, PCA/"):
        assert load_store(tmp_path)["PCA"].name == "newer"
    # Programs written by hand may not say when they were made: the file name decides, and the
    # warning says so rather than "created last (created unknown)".
    undated = tmp_path / "undated"
    for name in ("b-second", "a-first"):
        SynthesisProgram(source=SOURCE, detector="PCA", name=name).save(undated / f"{name}.py")
    with pytest.warns(UserWarning, match=r"using b-second.py, the last by file name \(none of"):
        assert load_store(undated)["PCA"].name == "b-second"


def test_a_store_program_in_another_detectors_folder_is_named(tmp_path):
    import warnings

    from llmdas.programs import load_store

    program = SynthesisProgram(source=SOURCE, detector="PCA", name="pca-copy")
    program.save(tmp_path / "notes" / "pca-copy.py")  # a folder that names no detector: fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert set(load_store(tmp_path)) == {"PCA"}
    (tmp_path / "iforest").mkdir()
    (tmp_path / "notes" / "pca-copy.py").rename(tmp_path / "iforest" / "pca-copy.py")
    match = r"iforest/pca-copy.py in program store .* declares detector PCA, .* not for IForest"
    with pytest.warns(UserWarning, match=match):
        assert set(load_store(tmp_path)) == {"PCA"}
