"""The CLI run as a user runs it, and its tables read back."""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds

from tests.support.paths import REPO


def run_cli_status(*args, cwd=REPO) -> tuple[int, str, str]:
    """``newsbeam <args>`` as a user runs it: (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def run_cli(*args, cwd=REPO) -> str:
    """The stdout of ``newsbeam <args>``, which must succeed."""
    code, stdout, stderr = run_cli_status(*args, cwd=cwd)
    assert code == 0, stderr[-3000:]
    return stdout


def run_cli_here(*args) -> tuple[int, str, str]:
    """``newsbeam <args>`` in this process (``pipelines.cli.main``, Python-level output captured):
    (exit code, stdout, stderr).  For commands that stop before running a job, or only read or
    repair an output (``sql --csv``, ``report``, ``repair``): they skip a new interpreter's imports
    (~2.5 s on a 2-core box)."""
    from pipelines import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, stdout.getvalue(), stderr.getvalue()


def run_cli_here_stdout(*args) -> str:
    """The stdout of ``newsbeam <args>`` in this process, which must succeed."""
    code, stdout, stderr = run_cli_here(*args)
    assert code == 0, stderr[-3000:]
    return stdout


def read_table(root, name):
    return ds.dataset(Path(root) / name, format="parquet", partitioning="hive").to_table()
