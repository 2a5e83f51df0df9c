"""Parquet table writer: Hive partitions by ingest date, deterministic file names, atomic renames.

Beam's ``WriteToFiles`` loses files whose names contain a sub-folder and the unbounded
``WriteToParquet`` writes footer-less files (see BEAM-NOTES), so each shard is written here
through ``FileSystems`` (which creates parent folders, locally and on gs://) to a temporary
name and renamed into place.  A file's name depends only on the run id, partition and shard,
and its rows are sorted, so a retried bundle overwrites its own file instead of adding one.
"""

import zlib
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.tables import SCHEMA_VERSION


@dataclass(frozen=True)
class TableSpec:
    name: str
    schema: pa.Schema
    sort_by: tuple  # columns that order rows within a file and pick a row's shard


def shard_of(row: dict, spec: TableSpec, num_shards: int) -> int:
    key = "\x1f".join(str(row.get(column)) for column in spec.sort_by)
    return zlib.crc32(key.encode("utf-8")) % num_shards


def partition_path(root: str, table: str, ingest_date: str) -> str:
    return FileSystems.join(root, table, f"ingest_date={ingest_date}")


def write_shard(rows: list, spec: TableSpec, folder: str, file_stem: str) -> str:
    """Write sorted rows as one zstd Parquet file, atomically; returns its path."""
    rows = sorted(rows, key=lambda r: tuple("" if r.get(c) is None else str(r.get(c)) for c in spec.sort_by))
    table = pa.Table.from_pylist(rows, schema=spec.schema)
    final = FileSystems.join(folder, f"{file_stem}.parquet")
    temp = FileSystems.join(folder, f".tmp-{file_stem}.parquet")
    with FileSystems.create(temp) as handle:
        pq.write_table(table, handle, compression="zstd")
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temp], [final])
    return final


class WriteTable(beam.PTransform):
    """Rows -> Parquet files ``<root>/<table>/ingest_date=<date>/part-<run>-<shard>.parquet``.

    Every row is stamped with ``run_id`` and ``schema_version``; returns the written paths."""

    def __init__(self, spec: TableSpec, root: str, run_id: str, ingest_date: str, num_shards: int = 1):
        super().__init__()
        self._spec, self._root, self._run_id = spec, root, run_id
        self._ingest_date, self._num_shards = ingest_date, num_shards

    def expand(self, rows):
        spec, num_shards = self._spec, self._num_shards
        return (
            rows
            | "Stamp" >> beam.Map(lambda r: {**r, "run_id": self._run_id, "schema_version": SCHEMA_VERSION})
            | "KeyByShard" >> beam.WithKeys(lambda r: shard_of(r, spec, num_shards))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShard" >> beam.MapTuple(self._write)
        )

    def _write(self, shard, rows):
        rows = list(rows)
        Metrics.counter("write", self._spec.name).inc(len(rows))
        folder = partition_path(self._root, self._spec.name, self._ingest_date)
        return write_shard(rows, self._spec, folder, f"part-{self._run_id}-{shard:04d}")
