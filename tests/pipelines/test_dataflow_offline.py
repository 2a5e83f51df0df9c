"""The README's Dataflow command with ``--dry_run=True`` translates offline as written (gs:// input
and output): any attempt to reach the network ends the process at once with exit code 97."""

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.support.paths import REPO

NETWORK_GUARD = '''
import os, socket, sys, traceback

def _refuse(*args, **kwargs):
    sys.stderr.write("network attempt in an offline run:\\n" + "".join(traceback.format_stack()))
    sys.stderr.flush()
    os._exit(97)

_connect = socket.socket.connect

def _connect_local_only(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        _refuse()
    return _connect(sock, address)

socket.getaddrinfo = _refuse
socket.socket.connect = _connect_local_only
'''


def readme_dataflow_command() -> list[str]:
    """The arguments of the first command of the README's "Run on Dataflow" section."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Run on Dataflow", 1)[1]
    command = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1).replace("\\\n", " ")
    args = shlex.split(command)
    assert args[:2] == ["newsbeam", "batch"] and any(a.startswith("gs://") for a in args)
    return args[1:]


def test_the_readme_dry_run_translates_without_the_network(tmp_path):
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")
    pytest.importorskip("build", reason="--setup_file=pyproject.toml needs the 'build' package")
    (tmp_path / "sitecustomize.py").write_text(NETWORK_GUARD, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    args = [sys.executable, "-m", "pipelines.cli", *readme_dataflow_command(), "--dry_run=True"]
    proc = subprocess.run(args, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "translated for Dataflow, not run here (dry run)" in proc.stdout
    assert {"ReadHtml", "ReadStoryIndex", "WriteArticles"} <= set(re.search(r"steps: (.*)", proc.stdout).group(1).split(", "))
