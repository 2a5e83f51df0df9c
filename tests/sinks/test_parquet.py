from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue

from schemas.tables import FAILURES, SCHEMA_VERSION, TableSpec
from tests.support.beam import epoch, read_table, stage_inputs, streaming_pipeline
from transforms.dedup.spill import spill_folder
from transforms.records import failure
from transforms.sinks.parquet import (
    WriteTable,
    WriteWindowedTable,
    content_tag,
    file_shard,
    write_batches,
    write_shard,
)

SPEC = TableSpec("failures", FAILURES.schema, ("source", "stage"))
AT = datetime(2026, 11, 16, tzinfo=timezone.utc)


def rows(n):
    return [failure(f"page-{i:03d}.html", "extract", "TooShort", "short", at=AT) for i in range(n)]


def write(tmp_path, data, shards):
    with TestPipeline(runner="FnApiRunner") as p:
        p | beam.Create(data) | WriteTable(SPEC, str(tmp_path), "run1", "2026-11-16", shards)


def test_file_shard_is_stable_and_in_range():
    row = rows(1)[0]
    assert file_shard(row, SPEC, 4) == file_shard(dict(row), SPEC, 4)
    assert {file_shard(r, SPEC, 4) for r in rows(50)} == {0, 1, 2, 3}


def test_write_table_hive_partitions_and_reads_back(tmp_path):
    write(tmp_path, rows(25), shards=3)
    folder = tmp_path / "failures" / "ingest_date=2026-11-16"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["part-run1-0000.parquet", "part-run1-0001.parquet", "part-run1-0002.parquet"]
    table = ds.dataset(tmp_path / "failures", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 25
    assert set(table.column("ingest_date").to_pylist()) == {"2026-11-16"}
    assert set(table.column("schema_version").to_pylist()) == {SCHEMA_VERSION}
    assert pq.read_schema(folder / names[0]).field("at").type == FAILURES.schema.field("at").type
    for name in names:  # rows sorted within each file
        sources = pq.read_table(folder / name).column("source").to_pylist()
        assert sources == sorted(sources)


def test_rewriting_a_shard_replaces_it(tmp_path):
    write(tmp_path, rows(5), shards=1)
    write(tmp_path, rows(5), shards=1)
    folder = tmp_path / "failures" / "ingest_date=2026-11-16"
    assert [p.name for p in folder.iterdir()] == ["part-run1-0000.parquet"]
    assert pq.read_table(folder / "part-run1-0000.parquet").num_rows == 5


def test_rows_are_sorted_by_the_sort_columns_as_text_none_first(tmp_path):
    spec = TableSpec("failures", FAILURES.schema, ("http_status", "source"))
    data = [failure(source, "fetch", "HTTPError", "", http_status=status, at=AT)
            for source, status in (("b", 503), ("a", 503), ("z", None), ("é", 1000), ("e", 1000), ("f", 404))]
    path = write_shard(data, spec, str(tmp_path), "part")
    expected = sorted(data, key=lambda r: ("" if r["http_status"] is None else str(r["http_status"]), r["source"]))
    assert pq.read_table(path).column("source").to_pylist() == [r["source"] for r in expected]
    assert pq.read_table(write_shard([], spec, str(tmp_path), "empty")).num_rows == 0


@pytest.mark.slow  # 2.3 GB of text in memory
def test_a_file_of_over_2_gib_of_text_is_written_whole(tmp_path):
    """A file's rows gathered from batches hold more text than 32-bit Arrow offsets reach (a
    million articles in one file): taking them out in sort order must not overflow."""
    message = "x" * 2000
    batches = ([failure(f"p{b:02d}-{i:06d}", "extract", "TooShort", message, at=AT) for i in range(40_000)]
               for b in range(30))
    path, count = write_batches(batches, SPEC, str(tmp_path), "part")
    assert count == 1_200_000 and pq.read_metadata(path).num_rows == count
    first = pq.ParquetFile(path).read_row_group(0, columns=["source", "message"])
    assert first.column("source")[0].as_py() == "p00-000000" and first.column("message")[0].as_py() == message


def test_with_a_spill_folder_the_runner_holds_references_not_rows(tmp_path, monkeypatch):
    """Rows reach their file's writer in batches kept in the spill folder: the in-process runner
    holds ~100-byte references, not every row of the run (a Parquet file still gets them all)."""
    held = stage_inputs(monkeypatch)
    data = [failure(f"page-{i:04d}.html", "extract", "TooShort", "x" * 2000, at=AT) for i in range(600)]
    with spill_folder(str(tmp_path)) as folder:
        with beam.Pipeline(runner="FnApiRunner") as p:
            p | beam.Create(data) | "Write" >> WriteTable(SPEC, str(tmp_path / "out"), "run1", "2026-11-16", 2, spill_dir=folder)
    grouped = sum(size for name, size in held.items() if name.startswith("Write/"))
    assert 0 < grouped < 600 * 2000 / 20, held
    table = ds.dataset(tmp_path / "out" / "failures", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("source").to_pylist()) == [r["source"] for r in data]


# ---------------------------------------------------------------- windowed (streaming) writer

WINDOWED = TableSpec("failures", FAILURES.schema, ("source",))
HOUR = 3600
T = datetime(2026, 11, 16, 23, 0, tzinfo=timezone.utc)


def row(name, at):
    return TimestampedValue(failure(name, "extract", "TooShort", "short", at=at), epoch(at))


def test_content_tag_ignores_row_order():
    rows = [{"a": 1}, {"a": 2}]
    assert content_tag(rows) == content_tag(rows[::-1]) != content_tag(rows[:1])


def test_windowed_writer_writes_a_file_per_window_and_keeps_late_rows(tmp_path):
    events = (
        TestStream()
        .add_elements([row("a", T), row("b", T + timedelta(minutes=10))])
        .advance_watermark_to(epoch(T + timedelta(minutes=61)))  # window 23:00 closes
        .add_elements([row("c", T + timedelta(minutes=75)), row("late", T + timedelta(minutes=5))])
        .advance_watermark_to(epoch(T + timedelta(days=1)))
        .add_elements([row("very-late", T - timedelta(hours=13))])  # 14 h behind the watermark
        .advance_watermark_to(epoch(T + timedelta(days=2)))
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        p | events | WriteWindowedTable(WINDOWED, str(tmp_path), "run1", HOUR)
    root = tmp_path / "failures"
    files = sorted(str(f.relative_to(root)) for f in root.rglob("*") if f.is_file())
    assert all(f.endswith(".parquet") and "/part-run1-" in f for f in files)  # no temp file left behind
    by_window = {}
    for name in files:
        folder, file = name.split("/")
        sources = sorted(r["source"] for r in pq.read_table(root / name).to_pylist())
        by_window.setdefault((folder, file.split("-")[2]), []).append(sources)
    by_window = {window: sorted(files) for window, files in by_window.items()}
    assert by_window == {
        ("ingest_date=2026-11-16", "20261116T100000Z"): [["very-late"]],
        ("ingest_date=2026-11-16", "20261116T230000Z"): [["a", "b"], ["late"]],
        ("ingest_date=2026-11-17", "20261117T000000Z"): [["c"]],
    }
    table = read_table(tmp_path, "failures")
    assert len(table) == 5 and {r["run_id"] for r in table} == {"run1"}
