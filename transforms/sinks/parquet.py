"""Parquet table writers: Hive partitions by ingest date, deterministic file names, atomic renames.

Beam's ``WriteToFiles`` loses files whose names contain a sub-folder and the unbounded
``WriteToParquet`` writes footer-less files (see BEAM-NOTES), so each shard is written here
through ``FileSystems`` (which creates parent folders, locally and on gs://) to a temporary
name and renamed into place.  A file's name depends only on the run id, partition and shard,
and its rows are sorted, so a retried bundle overwrites its own file instead of adding one.

``WriteWindowedTable`` is the unbounded version: a file per event-time window and shard (and
per late firing), named from the window start and its rows' content.
"""

import hashlib
import zlib
from datetime import datetime, timezone
from typing import Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.coders import PickleCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import FixedWindows, GlobalWindows
from apache_beam.typehints import Any, Tuple
from apache_beam.utils.timestamp import Timestamp

from schemas.tables import SCHEMA_VERSION, TableSpec
from transforms.dedup.batch import BatchByShard
from transforms.dedup.fingerprints import unpacked
from transforms.dedup.spill import loaded


def stamped(row: dict, run_id: str, row_at: Optional[datetime] = None) -> dict:
    """``row`` with the run that wrote it and the schema version it was written with, and
    ``row_at`` when it has none of its own."""
    return {"row_at": row_at, **row, "run_id": run_id, "schema_version": SCHEMA_VERSION}


def file_shard(row: dict, spec: TableSpec, num_shards: int) -> int:
    """The file of a partition that ``row`` goes to."""
    key = "\x1f".join(str(row.get(column)) for column in spec.sort_by)
    return zlib.crc32(key.encode("utf-8")) % num_shards


def table_files(root: str, spec: TableSpec) -> str:
    """The glob of a table's finished files under ``root`` (not the temporary ones being written)."""
    return FileSystems.join(root, spec.name, "*", "part-*.parquet")


def table_footers(root: str, spec: TableSpec) -> list:
    """(path, Parquet metadata, or the error that stopped reading it) of each finished file of a
    table: one read of each footer."""
    footers = []
    for found in FileSystems.match([table_files(root, spec)])[0].metadata_list:
        try:
            with FileSystems.open(found.path) as handle:
                footers.append((found.path, pq.read_metadata(handle)))
        except (OSError, ValueError, pa.ArrowException) as exc:
            footers.append((found.path, f"{type(exc).__name__}: {exc}"))
    return footers


def unreadable_files(root: str, spec: TableSpec) -> list:
    """(path, error) for each finished file of a table whose Parquet footer cannot be read."""
    return [(path, footer) for path, footer in table_footers(root, spec) if isinstance(footer, str)]


def column_values(metadata: pq.FileMetaData, column: str) -> set:
    """The values a Parquet file's column takes, as far as its footer's statistics say: the min and
    max of each row group (a column holding one value gives exactly it); None where a row group
    has no statistics."""
    if column not in metadata.schema.names:
        return {None}
    index = metadata.schema.names.index(column)
    values = set()
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        values |= {statistics.min, statistics.max} if statistics is not None and statistics.has_min_max else {None}
    return values


def read_rows(path: str, batch_size: int = 4096):
    """The rows of one Parquet file as dicts, a record batch at a time."""
    with FileSystems.open(path) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


class ReadTable(beam.PTransform):
    """The rows of a table's finished files under ``root``, file by file; unlike Beam's
    splittable Parquet source it also runs in a streaming pipeline on the DirectRunner."""

    def __init__(self, root: str, spec: TableSpec):
        super().__init__()
        self._pattern = table_files(root, spec)

    def expand(self, pbegin):
        return (
            pbegin
            | "Pattern" >> beam.Create([self._pattern])
            | "Match" >> beam.FlatMap(lambda pattern: sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list))
            | "Spread" >> beam.Reshuffle()
            | "Rows" >> beam.FlatMap(read_rows)
        )


def partition_path(root: str, table: str, ingest_date: str) -> str:
    return FileSystems.join(root, table, f"ingest_date={ingest_date}")


def write_shard(rows: list, spec: TableSpec, folder: str, file_stem: str) -> str:
    """Write rows as one zstd Parquet file sorted by ``spec.sort_by``, atomically; returns its path."""
    return write_batches([rows], spec, folder, file_stem)[0]


_SORT_KEY = "__sort_key"
_ROW_GROUP = 65536  # rows taken out of sort order at a time


def write_batches(batches, spec: TableSpec, folder: str, file_stem: str) -> tuple:
    """Write the rows of ``batches`` (lists of rows, each turned into Arrow columns as it comes, so
    only those stay in memory) as one zstd Parquet file sorted by ``spec.sort_by`` (each value as
    text, None first), atomically: (its path, its row count)."""
    held = _large_offsets(spec.schema)
    tables = [_with_sort_key(rows, spec, held) for rows in batches] or [_with_sort_key([], spec, held)]
    table = pa.concat_tables(tables)
    order = pc.sort_indices(table[_SORT_KEY])
    table = table.drop_columns([_SORT_KEY])
    final = FileSystems.join(folder, f"{file_stem}.parquet")
    temp = FileSystems.join(folder, f".tmp-{file_stem}.parquet")
    with FileSystems.create(temp) as handle, pq.ParquetWriter(handle, spec.schema, compression="zstd") as writer:
        for start in range(0, max(len(order), 1), _ROW_GROUP):
            writer.write_table(table.take(order[start : start + _ROW_GROUP]).cast(spec.schema))
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temp], [final])
    return final, len(table)


def _with_sort_key(rows: list, spec: TableSpec, schema: pa.Schema) -> pa.Table:
    keys = ["\x00".join("" if r.get(c) is None else str(r.get(c)) for c in spec.sort_by) for r in rows]
    return pa.Table.from_pylist(rows, schema=schema).append_column(_SORT_KEY, pa.array(keys, pa.large_string()))


def _large_offsets(schema: pa.Schema) -> pa.Schema:
    """``schema`` with 64-bit offsets for its text and bytes columns: taking rows out of a file's
    gathered rows concatenates their chunks, and a column over 2 GiB (a million articles' text)
    overflows 32-bit offsets."""
    wider = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}
    return pa.schema([field.with_type(wider.get(field.type, field.type)) for field in schema], metadata=schema.metadata)


class WriteTable(beam.PTransform):
    """Rows -> Parquet files ``<root>/<table>/ingest_date=<date>/part-<run>-<shard>.parquet``.

    Every row is stamped with ``run_id``, ``schema_version`` and (tables with that column) the
    run's ``row_at`` unless it has its own; returns the written paths.  Rows travel to their
    file's writer in batches (``BatchByShard``), kept in files of ``spill_dir`` when it is set (a
    run in this process: the runner then holds references, not every row of the run)."""

    def __init__(self, spec: TableSpec, root: str, run_id: str, ingest_date: str, num_shards: int = 1,
                 row_at: Optional[datetime] = None, spill_dir: Optional[str] = None):
        super().__init__()
        self._spec, self._root, self._run_id = spec, root, run_id
        self._ingest_date, self._num_shards, self._row_at, self._spill_dir = ingest_date, num_shards, row_at, spill_dir

    def expand(self, rows):
        spec, num_shards = self._spec, self._num_shards
        return (
            rows
            | "Stamp" >> beam.Map(stamped, self._run_id, self._row_at)
            | "BatchByShard" >> beam.ParDo(BatchByShard(lambda r: file_shard(r, spec, num_shards), num_shards, folder=self._spill_dir))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShard" >> beam.MapTuple(self._write).with_output_types(str)  # (declared: not inferred from bytecode)
        )

    def _write(self, shard, batches):
        folder = partition_path(self._root, self._spec.name, self._ingest_date)
        rows = (list(unpacked([loaded(batch)])) for batch in batches)
        path, count = write_batches(rows, self._spec, folder, f"part-{self._run_id}-{shard:04d}")
        Metrics.counter("write", self._spec.name).inc(count)
        return path


def content_tag(rows: list) -> str:
    """8 hex digits naming a set of rows whatever their order: a retried write of the same rows
    reuses its file name, a late firing of the same window gets its own."""
    digest = hashlib.sha1()
    for text in sorted(repr(sorted(r.items())) for r in rows):
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()[:8]


def window_label(start: float) -> str:
    return f"{datetime.fromtimestamp(start, timezone.utc):%Y%m%dT%H%M%SZ}"


@beam.typehints.with_input_types(Tuple[Tuple[int, int], Any])
class _WriteAtWindowEnd(beam.DoFn):
    """Keyed by (window start, shard): buffers rows until the watermark passes the window end,
    then writes them as one file.  Rows arriving after that (late data) are buffered again and
    written as another file of the same window at the next watermark advance: nothing is
    dropped for lateness, and no file is ever rewritten with other content."""

    ROWS = BagStateSpec("rows", PickleCoder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def __init__(self, spec: TableSpec, root: str, run_id: str, window_s: float):
        self._spec, self._root, self._run_id, self._window_s = spec, root, run_id, window_s

    def process(self, item, rows=beam.DoFn.StateParam(ROWS), flush=beam.DoFn.TimerParam(FLUSH)):
        (start, _), row = item
        rows.add(row)
        flush.set(Timestamp(start + self._window_s))

    @on_timer(FLUSH)
    def on_flush(self, key=beam.DoFn.KeyParam, rows=beam.DoFn.StateParam(ROWS)):
        start, shard = key
        buffered = list(rows.read())
        rows.clear()
        if not buffered:
            return
        Metrics.counter("write", self._spec.name).inc(len(buffered))
        day = f"{datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d}"
        stem = f"part-{self._run_id}-{window_label(start)}-{shard:04d}-{content_tag(buffered)}"
        yield write_shard(buffered, self._spec, partition_path(self._root, self._spec.name, day), stem)


class WriteWindowedTable(beam.PTransform):
    """Unbounded rows -> Parquet files per fixed event-time window of ``window_s`` seconds:
    ``<root>/<table>/ingest_date=<window start date>/part-<run>-<window start>-<shard>-<tag>.parquet``.

    Rows are stamped like ``WriteTable``; returns the written paths."""

    def __init__(self, spec: TableSpec, root: str, run_id: str, window_s: float, num_shards: int = 1):
        super().__init__()
        self._spec, self._root, self._run_id = spec, root, run_id
        self._window_s, self._num_shards = window_s, num_shards

    def expand(self, rows):
        spec, num_shards = self._spec, self._num_shards
        return (
            rows
            | "Stamp" >> beam.Map(stamped, self._run_id)
            | "Window" >> beam.WindowInto(FixedWindows(self._window_s))
            | "KeyByWindowShard"
            >> beam.Map(_key_by_window, spec, num_shards).with_output_types(Tuple[Tuple[int, int], Any])
            | "Global" >> beam.WindowInto(GlobalWindows())
            | "WriteAtWindowEnd" >> beam.ParDo(_WriteAtWindowEnd(spec, self._root, self._run_id, self._window_s))
        )


def _key_by_window(row, spec, num_shards, window=beam.DoFn.WindowParam):
    return (int(window.start), file_shard(row, spec, num_shards)), row
