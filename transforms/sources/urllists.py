"""URL lists (text files, one URL per line) -> URL entries.

Blank lines and ``#`` comments (whole-line, or trailing after white space) are allowed.  Each
URL entry's ``source`` is ``<file>:<line number>``.  Lines that are no http(s) URL become
failures (stage ``urllist``, ``InvalidUrl``); a file that cannot be read whole becomes one
failure: ``UnreadableFile`` (not UTF-8), ``Truncated`` (compressed data cut short), ``TooLarge``
(over ``MAX_LIST_BYTES`` decompressed) or the error's type.
"""

import re
from collections.abc import Iterable

import apache_beam as beam

from transforms import records
from transforms.records import url_entry
from transforms.sources.feeds import DedupEntries
from transforms.sources.read import ReadFiles, read_whole
from transforms.urls import canonical_url

STAGE = "urllist"
MAX_LIST_BYTES = 256 << 20  # about 3 million URLs
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
    """The URL entries of one list file (decompressed by its suffix) and its failures."""
    try:
        text = read_whole(path, MAX_LIST_BYTES).decode("utf-8-sig")
    except Exception as exc:  # noqa: BLE001 -- unreadable, corrupt, cut or too large: a failure row, not a crash
        error_type = "UnreadableFile" if isinstance(exc, UnicodeDecodeError) else type(exc).__name__
        yield beam.pvalue.TaggedOutput(records.FAILED, records.failure(path, STAGE, error_type, str(exc)))
        return
    entries, failures = parse_url_list(text, path)
    yield from entries
    for row in failures:
        yield beam.pvalue.TaggedOutput(records.FAILED, row)


class ReadUrlLists(beam.PTransform):
    """URL-list files matching globs (any Beam filesystem; .gz, .bz2, .xz are decompressed) ->
    (URL entries unique by canonical URL, failures)."""

    def __init__(self, patterns: Iterable[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        entries, failures = pbegin | "ReadFiles" >> ReadFiles(self._patterns, read_url_list)
        return entries | "Dedup" >> DedupEntries(), failures
