"""Local (or gs://, s3://) HTML files as raw pages, read through Beam's FileSystems."""

import os
from typing import Iterable

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from transforms.records import FAILURES, failure, raw_page

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
_GLOB_CHARS = set("*?[")


def file_patterns(inputs: Iterable[str]) -> list[str]:
    """Expand folders to recursive globs over HTML files; globs and single files pass unchanged."""
    patterns = []
    for item in inputs:
        is_folder = item.endswith("/") or (not _GLOB_CHARS & set(item) and os.path.isdir(item))
        patterns.extend(item.rstrip("/") + f"/**{suffix}" for suffix in HTML_SUFFIXES) if is_folder else patterns.append(item)
    return patterns


class _ReadFileFn(beam.DoFn):
    def process(self, readable: fileio.ReadableFile):
        path = readable.metadata.path
        try:
            body = readable.read()
        except Exception as exc:  # unreadable or corrupt (e.g. broken gzip): a failure row, not a crash
            Metrics.counter("read", "failed").inc()
            yield beam.pvalue.TaggedOutput(FAILURES, failure(path, "read", type(exc).__name__, str(exc)))
            return
        Metrics.counter("read", "pages").inc()
        yield raw_page(path, body)


class ReadHtmlFiles(beam.PTransform):
    """Globs or folders -> (raw pages with ``source`` = file path, failures).

    ``.gz`` files are decompressed transparently; files are spread over workers before reading."""

    def __init__(self, inputs: Iterable[str]):
        super().__init__()
        self._patterns = file_patterns(inputs)

    def expand(self, pbegin):
        results = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Open" >> fileio.ReadMatches(compression=CompressionTypes.AUTO, skip_directories=True)
            | "Read" >> beam.ParDo(_ReadFileFn()).with_outputs(FAILURES, main="pages")
        )
        return results.pages, results[FAILURES]
