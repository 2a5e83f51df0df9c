"""A mistyped flag or a misplaced subcommand stops the run (exit 2, with a hint) instead of
ingesting the bundled sample into your output; the sample runs only when asked for."""

import pytest

from tests.support.cli import run_cli_here


@pytest.mark.parametrize("args, message", [
    (["--inptu", "pages/", "--output", "{out}"], "unknown flag --inptu (did you mean --input?)"),
    (["--output", "{out}", "--runnr=FnApiRunner", "--input", "pages/"], "unknown flag --runnr (did you mean --runner?)"),
    (["--output", "{out}", "watch", "--once"], "unexpected argument 'watch': subcommands go first (newsbeam watch ...)"),
    (["--output", "{out}"], "nothing to read: give --input, --warc, --feed or --url-list"),
    (["watch", "--once", "--output", "{out}", "--intervall", "5"], "unknown flag --intervall"),
], ids=["typo", "beam-typo", "misplaced-subcommand", "no-input", "watch-typo"])
def test_the_run_stops_before_writing_anything(tmp_path, args, message):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli_here(*[arg.format(out=out) for arg in args])  # (the exit code of `newsbeam`)
    assert code == 2 and message in stderr, stderr[-2000:]
    assert not out.exists()
