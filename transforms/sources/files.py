"""Local (or gs://, s3://) HTML files as raw pages, read through Beam's FileSystems."""

import os
from typing import Iterable

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.records import FAILED, failure, raw_page
from transforms.sources.read import ReadFiles

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
_GLOB_CHARS = set("*?[")


def file_patterns(inputs: Iterable[str]) -> list[str]:
    """Expand folders to recursive globs over HTML files; globs and single files pass unchanged."""
    patterns = []
    for item in inputs:
        is_folder = item.endswith("/") or (not _GLOB_CHARS & set(item) and os.path.isdir(item))
        patterns.extend(item.rstrip("/") + f"/**{suffix}" for suffix in HTML_SUFFIXES) if is_folder else patterns.append(item)
    return patterns


def read_html_file(path: str):
    """The raw page of one file (``.gz`` decompressed), or its ``read`` failure."""
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.AUTO) as handle:
            body = handle.read()
    except Exception as exc:  # unreadable or corrupt (e.g. broken gzip): a failure row, not a crash
        Metrics.counter("read", "failed").inc()
        yield beam.pvalue.TaggedOutput(FAILED, failure(path, "read", type(exc).__name__, str(exc)))
        return
    Metrics.counter("read", "pages").inc()
    yield raw_page(path, body)


class ReadHtmlFiles(beam.PTransform):
    """Globs or folders -> (raw pages with ``source`` = file path, failures)."""

    def __init__(self, inputs: Iterable[str]):
        super().__init__()
        self._patterns = file_patterns(inputs)

    def expand(self, pbegin):
        return pbegin | "ReadFiles" >> ReadFiles(self._patterns, read_html_file)
