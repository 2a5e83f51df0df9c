"""Writing a job's tables, the same way in batch and streaming.

    failures = [read_failures, extract_failures] | "Failures" >> CollectFailures()
    write_tables([(ARTICLES, articles), (FAILURES, failures)], lambda spec: WriteTable(spec, ...))
"""

from typing import Callable, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.tables import TableSpec
from transforms.records import Failure
from transforms.windowing import FlattenInto


def count_failure(row: Failure) -> Failure:
    """Count a failures row by ``stage.error_type`` (the run summary's failure reasons)."""
    Metrics.counter("failures", f"{row['stage']}.{row['error_type']}").inc()
    return row


class CollectFailures(FlattenInto):
    """Every stage's failures PCollection -> one, each row counted (``count_failure``);
    ``windowfn``: the window the failures table is written in (streaming)."""

    def expand(self, pcolls):
        return super().expand(pcolls) | "Count" >> beam.Map(count_failure)


def write_tables(tables: Iterable[tuple], writer: Callable[[TableSpec], beam.PTransform]) -> None:
    """Write each (spec, rows) of ``tables`` with ``writer(spec)`` (``WriteTable`` in batch,
    ``WriteWindowedTable`` in streaming), as a step named after the table."""
    for spec, rows in tables:
        label = "".join(part.title() for part in spec.name.split("_"))
        rows | f"Write{label}" >> writer(spec)
