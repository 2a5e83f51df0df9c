"""CLI runs on the bundled sample, shared by the whole session: a run costs a Beam job and the
start of the isolated extractors (~10 s on a 2-core box), and several modules check different
things on the same output.

Exposed to pytest as fixtures (``pytest_plugins`` in tests/conftest.py).  Their outputs are
read-only: a test that changes one (a rerun, damage, a repair) works on ``copy_output(...)``."""

import csv
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.cli import run_cli_status
from tests.support.paths import REPO

SAMPLE = REPO / "pipelines" / "sample"


class SampleRun(NamedTuple):
    output: Path
    stdout: str
    stderr: str


class SampleInParts(NamedTuple):
    output: Path
    stdouts: list  # of each run, in order
    stderrs: list
    parts: dict  # {"reprints": folder, "originals": folder}: the inputs of the runs


def copy_output(output: Path, tmp_path: Path) -> Path:
    """A copy of a shared output to change: ``tmp_path``/out."""
    out = tmp_path / "out"
    shutil.copytree(output, out)
    return out


def files(root: Path) -> dict:
    """{path: (size, mtime)} of the files under ``root``: a shared output must end the session as it began."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


CHANGED = "a test changed the shared output {}: change a copy_output(...) instead"


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> SampleRun:
    """``newsbeam --sample`` into a fresh output, as a user runs it, printing a progress line every
    0.5 s on stderr (not a terminal)."""
    out = tmp_path_factory.mktemp("sample") / "out"
    code, stdout, stderr = run_cli_status("--sample", "--output", str(out), "--progress_every_s=0.5")
    assert code == 0, stderr[-3000:]
    before = files(out)
    yield SampleRun(out, stdout, stderr)
    assert files(out) == before, CHANGED.format(out)


# the third run of sample_in_parts: the originals again, with --quiet and a progress interval it
# would print ~100 lines at
RERUN_FLAGS = ("--quiet", "--progress_every_s=0.05")


@pytest.fixture(scope="session")
def sample_in_parts(tmp_path_factory) -> SampleInParts:
    """The sample in three runs into one output: the reprints (and the copy) first, their
    originals in the second run, which re-anchors their stories (corrections), then the originals
    again (20 DuplicateUrl rows) with ``RERUN_FLAGS``; with one dedup shard and batches spilled
    to files (``sample_run``: 64 shards, small batches in memory)."""
    root = tmp_path_factory.mktemp("sample-in-parts")
    parts = {"reprints": root / "reprints", "originals": root / "originals"}
    for row in csv.DictReader((SAMPLE / "manifest.csv").open(encoding="utf-8")):
        target = parts["originals" if row["is_original"] == "true" else "reprints"] / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / "pages" / row["path"], target)
    out, spill = root / "out", root / "spill"
    spill.mkdir()
    # one shard: every article, node and index batch is large enough to go through a spill file
    config = root / "one-shard.yaml"
    config.write_text(f"dedup:\n  lsh_shards: 1\n  spill_dir: {spill}\n", encoding="utf-8")
    runs = [("reprints", ()), ("originals", ()), ("originals", RERUN_FLAGS)]
    stdouts, stderrs = [], []
    for part, flags in runs:
        code, stdout, stderr = run_cli_status("--input", str(parts[part]), "--output", str(out), "--config", str(config), *flags)
        assert code == 0, stderr[-3000:]
        stdouts.append(stdout)
        stderrs.append(stderr)
    assert list(spill.iterdir()) == []  # each run removed its spill folder
    before = files(out)
    yield SampleInParts(out, stdouts, stderrs, parts)
    assert files(out) == before, CHANGED.format(out)
