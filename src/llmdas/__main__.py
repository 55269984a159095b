"""``python -m llmdas``: the ``llmdas`` command, where the scripts folder is not on ``PATH``."""

from llmdas.cli import app

if __name__ == "__main__":
    app(prog_name="llmdas")
