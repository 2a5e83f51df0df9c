"""Progress of a local run on stderr: pages read, extracted and clustered so far, the rate and,
when the input size is known (HTML files only), the time left to extract them.

    newsbeam --input pages/ --output out             # progress on stderr
    newsbeam --input pages/ --output out --quiet     # none

On a terminal one line is rewritten in place every second; elsewhere (a cron log) a plain line is
written every ``--progress_every_s`` seconds.  The counts are a side channel inside this process:
steps that count elements (``attach``) and a thread that prints them (``shown``).  So only runners
that run the job in this process show progress (the FnApiRunner, the DirectRunner unless in
multi_processing mode); other runs, like ``--quiet`` ones, get neither the steps nor the thread.
"""

import sys
import threading
import time
from contextlib import contextmanager
from typing import TextIO

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
)

from pipelines.config import SourcesConfig
from pipelines.runners.memory import IN_PROCESS_RUNNERS
from transforms.sources.files import file_patterns
from transforms.sources.read import match_files

STAGES = ("read", "extracted", "clustered")
TERMINAL_EVERY_S = 1.0
_counts = dict.fromkeys(STAGES, 0)
_lock = threading.Lock()


class ProgressOptions(PipelineOptions):
    """``--quiet`` and ``--progress_every_s`` (a Beam options class, so every Beam flag check knows them)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
        parser.add_argument("--progress_every_s", type=float, default=30.0,
                            help="seconds between progress lines when stderr is not a terminal (default: 30)")


def enabled(options: PipelineOptions) -> bool:
    """Whether a job with these options shows progress: not ``--quiet``, and run in this process."""
    return (
        not options.view_as(ProgressOptions).quiet
        and str(options.view_as(StandardOptions).runner) in IN_PROCESS_RUNNERS
        and options.view_as(DirectOptions).direct_running_mode != "multi_processing"
    )


def tick(element, stage: str) -> tuple:
    """Count one element of ``stage``; emit nothing."""
    with _lock:
        _counts[stage] += 1
    return ()


def attach(pipeline: beam.Pipeline, stages: dict[str, list[beam.PCollection]]) -> None:
    """Count the elements of each stage's PCollections as they go by, when progress is shown."""
    if not enabled(pipeline.options):
        return
    for stage, pcollections in stages.items():
        for i, pcollection in enumerate(pcollections):
            pcollection | f"Progress{stage.title()}{i}" >> beam.FlatMap(tick, stage)


def input_size(sources: SourcesConfig) -> int | None:
    """The pages a run over ``sources`` reads, when that is known: HTML files only (a WARC file
    holds any number of pages, a feed any number of entries)."""
    if sources.warc or sources.fetches():
        return None
    return sum(isinstance(item, str) for item in match_files(file_patterns(sources.html)))


def _duration(seconds: float) -> str:
    minutes, hours = int(seconds) // 60, int(seconds) // 3600
    if hours:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{minutes} min {int(seconds) % 60:02d} s" if minutes else f"{int(seconds)} s"


def format_line(counts: dict[str, int], total: int | None, elapsed_s: float) -> str:
    extracted = counts["extracted"]
    rate = extracted / elapsed_s if elapsed_s else 0.0
    parts = [
        f"read {counts['read']:,}",
        f"extracted {extracted:,}" + (f"/{total:,}" if total else ""),
        f"clustered {counts['clustered']:,}",
        f"{rate:.1f} pages/s",
    ]
    if total and rate and extracted < total:
        parts.append(f"about {_duration((total - extracted) / rate)} left")
    return f"progress: {', '.join(parts)}, after {_duration(elapsed_s)}"


def _report(stream: TextIO, every_s: float, sources: SourcesConfig, stop: threading.Event) -> None:
    started, terminal = time.monotonic(), stream.isatty()
    total = input_size(sources)
    while not stop.wait(every_s):
        with _lock:
            line = format_line(_counts, total, time.monotonic() - started)
        stream.write(f"\r{line}\x1b[K" if terminal else f"{line}\n")
        stream.flush()
    if terminal:
        stream.write("\r\x1b[K")
        stream.flush()


@contextmanager
def shown(options: PipelineOptions, sources: SourcesConfig, stream: TextIO | None = None):
    """Write the counts to ``stream`` (stderr) while the block runs, when progress is enabled."""
    if not enabled(options):
        yield
        return
    stream = stream or sys.stderr
    every_s = TERMINAL_EVERY_S if stream.isatty() else options.view_as(ProgressOptions).progress_every_s
    with _lock:
        _counts.update(dict.fromkeys(STAGES, 0))
    stop = threading.Event()
    reporter = threading.Thread(target=_report, args=(stream, every_s, sources, stop), name="progress", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        stop.set()
        reporter.join()
