"""The shape every file source shares: globs -> matching files spread over workers -> records.

    pages, failures = pbegin | ReadFiles(["crawl/**/*.html"], read_file)

``read_file(path)`` yields the file's records, and its failures as ``TaggedOutput(FAILED, row)``.
"""

from typing import Callable, Iterable

import apache_beam as beam
from apache_beam.io import fileio

from transforms.records import FAILED


class ReadFiles(beam.PTransform):
    """Globs (any Beam filesystem) -> (records, failures) of every matching file; patterns that
    match nothing read nothing (the CLI checks its inputs before a run)."""

    def __init__(self, patterns: Iterable[str], read_file: Callable[[str], Iterable]):
        super().__init__()
        self._patterns, self._read_file = list(patterns), read_file

    def expand(self, pbegin):
        read = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
            | "Paths" >> beam.Map(lambda metadata: metadata.path)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.FlatMap(self._read_file).with_outputs(FAILED, main="records")
        )
        return read.records, read[FAILED]
