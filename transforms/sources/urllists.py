"""URL lists (text files, one URL per line) -> URL entries.

Blank lines and ``#`` comments (whole-line, or trailing after white space) are allowed.  Each
URL entry's ``source`` is ``<file>:<line number>``.  Lines that are no http(s) URL become
failures (stage ``urllist``, ``InvalidUrl``); a file that is not UTF-8 becomes one
``UnreadableFile`` failure.
"""

import re
from typing import Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms import records
from transforms.records import url_entry
from transforms.sources.feeds import DedupEntries
from transforms.sources.read import ReadFiles
from transforms.urls import canonical_url

STAGE = "urllist"
_TRAILING_COMMENT = re.compile(r"\s#.*$")


def parse_url_list(text: str, source: str) -> tuple[list[dict], list[dict]]:
    """(URL entries, failures) of one list; a URL listed twice keeps its first line."""
    entries, failures, seen = [], [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        candidate = _TRAILING_COMMENT.sub("", line).strip()
        if not candidate or candidate.startswith("#"):
            continue
        location = f"{source}:{number}"
        url = None if any(char.isspace() for char in candidate) else canonical_url(candidate)
        if url is None:
            failures.append(
                records.failure(location, STAGE, "InvalidUrl", f"not an http(s) URL: {candidate[:300]!r}")
            )
        elif url not in seen:
            seen.add(url)
            entries.append(url_entry(url, location))
    return entries, failures


def read_url_list(path: str):
    """The URL entries of one list file (``.gz`` decompressed) and its failures."""
    try:
        with FileSystems.open(path) as handle:
            text = handle.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        yield beam.pvalue.TaggedOutput(
            records.FAILED, records.failure(path, STAGE, "UnreadableFile", str(error))
        )
        return
    entries, failures = parse_url_list(text, path)
    yield from entries
    for row in failures:
        yield beam.pvalue.TaggedOutput(records.FAILED, row)


class ReadUrlLists(beam.PTransform):
    """URL-list files matching globs (any Beam filesystem; .gz is decompressed) ->
    (URL entries unique by canonical URL, failures)."""

    def __init__(self, patterns: Iterable[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        entries, failures = pbegin | "ReadFiles" >> ReadFiles(self._patterns, read_url_list)
        return entries | "Dedup" >> DedupEntries(), failures
