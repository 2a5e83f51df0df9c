"""pipelines.runners.memory: in-process batch jobs restart with glibc keeping freed memory for reuse
(each case in a process of its own)."""

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.runners import memory
from pipelines.runners.memory import KEEP_FREED, local_processes, runs_in_process, runs_in_this_process
from tests.support.paths import REPO

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not Path("/proc/self/statm").exists(), reason="glibc's malloc on Linux only"
)

FREE_300_MB = """
import json, os

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

buffer = b"x" * (300 << 20)
before = rss_mb()
del buffer
print(json.dumps(before - rss_mb()))
"""

RESTART = """
import json, os, sys
from pipelines.runners.memory import restart_keeping_freed_memory

restart_keeping_freed_memory(sys.argv[1:])
print(json.dumps(os.environ.get("MALLOC_MMAP_THRESHOLD_")))
"""


def python(code: str, *args, keep_freed: bool = False) -> list:
    """Lines printed by ``code`` run in a new interpreter, glibc's defaults or ``KEEP_FREED``."""
    env = {name: value for name, value in os.environ.items() if name not in KEEP_FREED}
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**env, **(KEEP_FREED if keep_freed else {})})
    return [json.loads(line) for line in out.stdout.splitlines()]


@glibc_only
def test_kept_settings_keep_a_freed_buffer_in_the_process():
    assert python(FREE_300_MB)[0] > 250  # glibc's default: a large buffer is unmapped when freed
    assert python(FREE_300_MB, keep_freed=True)[0] < 50  # kept, for the next stage's buffers


@glibc_only
def test_in_process_jobs_restart_once_with_the_settings():
    assert python(RESTART) == [KEEP_FREED["MALLOC_MMAP_THRESHOLD_"]]  # printed once: by the restarted command
    assert python(RESTART, "--runner=FnApiRunner", "--direct_num_workers=2") == [KEEP_FREED["MALLOC_MMAP_THRESHOLD_"]]
    assert python(RESTART, "--runner=DataflowRunner") == [None]


def test_runs_in_process():
    assert runs_in_process([])  # the batch job's default, the FnApiRunner
    assert runs_in_process(["--input", "x", "--runner", "DirectRunner"])
    assert not runs_in_process(["--runner=DataflowRunner", "--project", "p"])
    assert not runs_in_process(["--runner=DaskRunner"])


@glibc_only
def test_a_failed_restart_runs_the_job_with_the_defaults(monkeypatch, tmp_path):
    for name in KEEP_FREED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    memory.restart_keeping_freed_memory([])  # returns instead of raising
    assert not any(name in os.environ for name in KEEP_FREED)


def test_a_job_runs_in_this_process_on_the_local_runners_unless_they_start_workers():
    from apache_beam.options.pipeline_options import PipelineOptions

    assert runs_in_this_process(PipelineOptions([]))
    assert runs_in_this_process(PipelineOptions(["--runner=DirectRunner"]))
    assert not runs_in_this_process(PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"]))
    assert not runs_in_this_process(PipelineOptions(["--runner=DataflowRunner"]))


def test_processes_0_is_one_per_core_only_when_the_job_runs_in_this_process():
    from apache_beam.options.pipeline_options import PipelineOptions

    cores = len(os.sched_getaffinity(0))
    assert local_processes(0, PipelineOptions([])) == cores
    assert local_processes(0, PipelineOptions(["--runner=DataflowRunner"])) == 1  # Dataflow, Dask: a worker per core
    assert local_processes(3, PipelineOptions(["--runner=DataflowRunner"])) == 3
