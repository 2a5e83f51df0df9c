"""Memory reuse for jobs that hold the pipeline's shuffles in their own process (the FnApiRunner).

The FnApiRunner keeps every PCollection between stages in the launching process and copies a
shuffle several times while grouping it (buffers of GBs at a million articles).  With glibc's
defaults, large buffers are mmapped and unmapped again and free memory at the top of the heap
goes back to the OS, so each stage faults in fresh zeroed pages.  On VMs that hand freed guest
memory back to the host (free page reporting, as on the 2-core box of our benchmarks) a page
faulted in again costs ~8x a reused one (11 us against 1.4 us per 4 KB page).  ``KEEP_FREED``
has glibc keep freed memory and reuse it: reading and deduplicating 1M articles took 196-200 s
instead of 245-248 s.  The price: the process stays at its peak size until it exits (a batch run
does).

glibc reads these settings only at start-up, so ``restart_keeping_freed_memory`` runs the
command again with them, once; settings already in the environment are kept as they are.
"""

import argparse
import os
import platform
import sys

KEEP_FREED = {
    "MALLOC_TRIM_THRESHOLD_": str(100 * 10**9),  # never give the free top of the heap back
    "MALLOC_MMAP_THRESHOLD_": str(4 << 30),  # buffers up to 4 GB come from the heap, so freed ones are reused
    "MALLOC_TOP_PAD_": str(256 << 20),  # grow the heap 256 MB at a time
}
DEFAULT_RUNNER = "FnApiRunner"  # a local batch job's runner (Beam's DirectRunner would first try to download Prism)
IN_PROCESS_RUNNERS = frozenset({DEFAULT_RUNNER, "DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner"})


def runs_in_process(beam_args: list) -> bool:
    """Whether a job with these flags runs on a runner inside this process (the default)."""
    runner = argparse.ArgumentParser(add_help=False)
    runner.add_argument("--runner")
    return (runner.parse_known_args(beam_args)[0].runner or DEFAULT_RUNNER) in IN_PROCESS_RUNNERS


def runs_in_this_process(options) -> bool:
    """Whether a job with these ``PipelineOptions`` runs wholly in this process: an in-process
    runner, not in its multi-processing mode."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    runner = options.view_as(StandardOptions).runner or DEFAULT_RUNNER
    mode = options.view_as(DirectOptions).direct_running_mode
    return getattr(runner, "__name__", str(runner)) in IN_PROCESS_RUNNERS and mode != "multi_processing"


def local_processes(processes: int, options) -> int:
    """A ``processes`` setting (``extract``, ``dedup``) as a job with these options uses it: 0 is
    one per core the job may use when it runs in this process (one worker for the whole job),
    else 1 (runners that start a worker per core)."""
    if processes:
        return processes
    return len(os.sched_getaffinity(0)) if runs_in_this_process(options) else 1


def restart_keeping_freed_memory(beam_args: list) -> None:
    """Re-run this command (``sys.orig_argv``) with ``KEEP_FREED`` in its environment when its
    job runs in-process on glibc and the settings are not all there yet; else (or when the
    restart itself fails) return, and the job runs with glibc's defaults."""
    if platform.libc_ver()[0] != "glibc" or not runs_in_process(beam_args):
        return
    if all(name in os.environ for name in KEEP_FREED):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, sys.orig_argv, {**KEEP_FREED, **os.environ})
    except OSError:  # e.g. an embedded interpreter without an executable: slower, not broken
        return
