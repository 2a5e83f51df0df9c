"""URL lists (text files, one URL per line) -> URL entries.

Blank lines and ``#`` comments (whole-line, or trailing after white space) are allowed.  Each
URL entry's ``source`` is ``<file>:<line number>``.  Lines that are no http(s) URL become
failures (stage ``urllist``, ``InvalidUrl``); a file that is not UTF-8 becomes one
``UnreadableFile`` failure.
"""

import re

import apache_beam as beam
from apache_beam.io import fileio

from transforms import records
from transforms.feeds import DedupEntries, url_entry
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


def _read_list(readable: fileio.ReadableFile):
    path = readable.metadata.path
    try:
        text = readable.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        yield beam.pvalue.TaggedOutput(
            records.FAILURES, records.failure(path, STAGE, "UnreadableFile", str(error))
        )
        return
    entries, failures = parse_url_list(text, path)
    yield from entries
    for row in failures:
        yield beam.pvalue.TaggedOutput(records.FAILURES, row)


class ReadUrlLists(beam.PTransform):
    """URL-list files matching a glob (any Beam filesystem; .gz is decompressed) ->
    (URL entries unique by canonical URL, failures)."""

    def __init__(self, file_pattern: str):
        super().__init__()
        self._file_pattern = file_pattern

    def expand(self, pbegin):
        parsed = (
            pbegin
            | "MatchFiles" >> fileio.MatchFiles(self._file_pattern)
            | "ReadMatches" >> fileio.ReadMatches()
            | "ParseLists" >> beam.FlatMap(_read_list).with_outputs(records.FAILURES, main="entries")
        )
        return parsed.entries | "Dedup" >> DedupEntries(), parsed[records.FAILURES]
