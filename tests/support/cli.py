"""The CLI run as a user runs it, and its tables read back."""

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


def read_table(root, name):
    return ds.dataset(Path(root) / name, format="parquet", partitioning="hive").to_table()
