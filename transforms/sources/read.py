"""The shape every file source shares: globs -> matching files spread over workers -> records.

    pages, failures = pbegin | ReadFiles(["crawl/**/*.html"], read_file)

``read_file(path)`` yields the file's records, and its failures as ``TaggedOutput(FAILED, row)``;
``read_whole`` gives it a file's content, decompressed as it is read and capped.  Local globs are
listed here rather than by Beam, whose listing skips what it cannot see without a word: a folder
it cannot read or a broken link under the glob is a ``read`` failure row.
"""

import bz2
import contextlib
import gzip
import itertools
import lzma
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from transforms.records import FAILED, Failure, failure

_CHUNK_BYTES = 1 << 20
GLOB_CHARS = frozenset("*?[")
# Stream decompressors (bounded reads; EOFError when the data ends early), by Beam's suffix rule.
_DECOMPRESSORS = {
    CompressionTypes.UNCOMPRESSED: contextlib.nullcontext,
    CompressionTypes.GZIP: gzip.open,
    CompressionTypes.BZIP2: bz2.open,
    CompressionTypes.LZMA: lzma.open,
}


class TooLarge(ValueError):
    """Content over its byte cap (no more than the cap was read)."""


class Truncated(ValueError):
    """A compressed file that ends before its compressed data does: a cut download or copy."""


class UnsupportedCompression(ValueError):
    """A compression (.zst, .deflate) with no stream decompressor here."""


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    """All of ``stream``, a chunk at a time; ``TooLarge`` past ``max_bytes``, so memory stays bounded
    by the cap whatever the stream inflates to."""
    chunks, size = [], 0
    while chunk := stream.read(min(_CHUNK_BYTES, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
    if size > max_bytes:
        raise TooLarge(f"over {max_bytes} bytes")
    return b"".join(chunks)


def read_whole(path: str, max_bytes: int) -> bytes:
    """A file's content (any Beam filesystem), decompressed when its suffix says .gz, .bz2, .xz or
    .lzma (any case); ``TooLarge`` past ``max_bytes`` decompressed bytes, ``Truncated`` when cut."""
    decompress = _DECOMPRESSORS.get(CompressionTypes.detect_compression_type(path))
    if decompress is None:
        raise UnsupportedCompression(f"{path}: only .gz, .bz2, .xz and .lzma files are decompressed")
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw, decompress(raw) as stream:
        try:
            return read_capped(stream, max_bytes)
        except EOFError as exc:
            raise Truncated(str(exc)) from exc


def _may_hold_matches(pattern: str, folder: str) -> bool:
    """Whether files matching ``pattern`` could lie under ``folder``."""
    parts, depth = pattern.split(os.sep), folder.count(os.sep) + 1
    leading = os.sep.join(parts[:depth])
    return "**" in pattern or (depth < len(parts) and re.match(FileSystem.translate_pattern(leading), folder) is not None)


def _list_local(root: str, patterns: list[str]) -> Iterator[str | Failure]:
    """The paths under ``root`` matching any of the local ``patterns`` (as Beam matches them), and
    a failure row for each folder that cannot be listed and could hold matches, and each matching
    entry that cannot be opened (a broken link)."""
    if not os.path.isdir(root):
        return
    regexes = [re.compile(FileSystem.translate_pattern(pattern)) for pattern in patterns]
    unlisted: list[OSError] = []
    for folder, _, names in os.walk(root, onerror=unlisted.append):
        for path in (os.path.join(folder, name) for name in names):
            if not any(regex.match(path) for regex in regexes):
                continue
            try:
                os.stat(path)
            except OSError as exc:
                yield failure(path, "read", type(exc).__name__, str(exc))
            else:
                yield path
    for error in unlisted:
        if any(_may_hold_matches(pattern, error.filename) for pattern in patterns):
            yield failure(error.filename, "read", type(error).__name__, f"cannot list the folder: {error}")


def match_files(patterns: list[str]):
    """Each path matching any of the globs once (any Beam filesystem; no match is no error), and
    the ``read`` failures (tagged ``FAILED``) of what a local listing cannot see.  Local globs are
    listed here, each folder once for all the globs that start listing there."""
    local: dict[str, list[str]] = {}
    others = []
    links = []  # local paths given as they are that exist but cannot be opened (broken links)
    for pattern in patterns:
        is_local = isinstance(FileSystems.get_filesystem(pattern), LocalFileSystem)
        if GLOB_CHARS & set(pattern) and is_local:
            root = os.path.dirname(re.match(r"[^[*?]*", pattern).group(0))  # where Beam starts listing
            local.setdefault(root, []).append(pattern)
        elif is_local and os.path.lexists(pattern) and not os.path.exists(pattern):
            links.append(failure(pattern, "read", "FileNotFoundError", f"{pattern}: a link to a file that does not exist"))
        else:
            others.append(pattern)
    found = itertools.chain(
        (metadata.path for result in FileSystems.match(others) for metadata in result.metadata_list),
        *(_list_local(root, group) for root, group in local.items()),
        links,
    )
    seen = set()
    for item in found:
        key = item if isinstance(item, str) else item["source"]
        if key not in seen:
            seen.add(key)
            yield item if isinstance(item, str) else beam.pvalue.TaggedOutput(FAILED, item)


class ReadFiles(beam.PTransform):
    """Globs (any Beam filesystem) -> (records, failures) of every matching file; patterns that
    match nothing read nothing (the CLI checks its inputs before a run)."""

    def __init__(self, patterns: Iterable[str], read_file: Callable[[str], Iterable]):
        super().__init__()
        self._patterns, self._read_file = list(patterns), read_file

    def expand(self, pbegin):
        listed = (
            pbegin
            | "Patterns" >> beam.Create([self._patterns])
            | "Match" >> beam.FlatMap(match_files).with_outputs(FAILED, main="paths")
        )
        read = (
            listed.paths
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(self._read_file).with_outputs(FAILED, main="records")
        )
        return read.records, (listed[FAILED], read[FAILED]) | "Failures" >> beam.Flatten()
