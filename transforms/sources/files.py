"""Local (or gs://, s3://) HTML files as raw pages, read through Beam's FileSystems."""

import functools
import os
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.extract.articles import ExtractConfig
from transforms.records import FAILED, failure, raw_page
from transforms.sources.read import GLOB_CHARS, ReadFiles, TooLarge, read_whole

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")


def _any_case(suffix: str) -> str:
    """A glob for ``suffix`` in any letter case: ``.htm`` -> ``.[hH][tT][mM]``."""
    return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else char for char in suffix)


def file_patterns(inputs: Iterable[str]) -> list[str]:
    """Expand folders to recursive globs over HTML files (suffixes in any case); globs and single
    files pass unchanged."""
    patterns = []
    for item in inputs:
        is_folder = item.endswith("/") or (not GLOB_CHARS & set(item) and os.path.isdir(item))
        if is_folder:
            patterns.extend(item.rstrip("/") + f"/**{_any_case(suffix)}" for suffix in HTML_SUFFIXES)
        else:
            patterns.append(item)
    return patterns


def read_html_file(path: str, max_bytes: int = ExtractConfig.max_page_bytes):
    """The raw page of one file (decompressed by its suffix), or its ``read`` failure: unreadable,
    corrupt, cut short (``Truncated``) or over ``max_bytes`` (``PageTooLarge``)."""
    try:
        body = read_whole(path, max_bytes)
    except Exception as exc:  # noqa: BLE001 -- unreadable, corrupt, cut or too large: a failure row, not a crash
        Metrics.counter("read", "failed").inc()
        error_type = "PageTooLarge" if isinstance(exc, TooLarge) else type(exc).__name__
        yield beam.pvalue.TaggedOutput(FAILED, failure(path, "read", error_type, str(exc)))
        return
    Metrics.counter("read", "pages").inc()
    yield raw_page(path, body)


class ReadHtmlFiles(beam.PTransform):
    """Globs or folders -> (raw pages with ``source`` = file path, failures); pages over
    ``max_page_bytes`` (decompressed) are failures, read no further than that."""

    def __init__(self, inputs: Iterable[str], max_page_bytes: int = ExtractConfig.max_page_bytes):
        super().__init__()
        self._patterns = file_patterns(inputs)
        self._read = functools.partial(read_html_file, max_bytes=max_page_bytes)

    def expand(self, pbegin):
        return pbegin | "ReadFiles" >> ReadFiles(self._patterns, self._read)
