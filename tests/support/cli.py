"""The CLI run as a user runs it, and its tables read back."""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds

from tests.support.paths import REPO


def run_cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def read_table(root, name):
    return ds.dataset(Path(root) / name, format="parquet", partitioning="hive").to_table()
