from datetime import datetime, timezone

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from apache_beam.testing.test_pipeline import TestPipeline

from schemas.tables import FAILURES, SCHEMA_VERSION
from transforms.records import failure
from transforms.write import TableSpec, WriteTable, shard_of

SPEC = TableSpec("failures", FAILURES, ("source", "stage"))
AT = datetime(2026, 11, 16, tzinfo=timezone.utc)


def rows(n):
    return [failure(f"page-{i:03d}.html", "extract", "TooShort", "short", at=AT) for i in range(n)]


def write(tmp_path, data, shards):
    with TestPipeline(runner="FnApiRunner") as p:
        p | beam.Create(data) | WriteTable(SPEC, str(tmp_path), "run1", "2026-11-16", shards)


def test_shard_of_is_stable_and_in_range():
    row = rows(1)[0]
    assert shard_of(row, SPEC, 4) == shard_of(dict(row), SPEC, 4)
    assert {shard_of(r, SPEC, 4) for r in rows(50)} == {0, 1, 2, 3}


def test_write_table_hive_partitions_and_reads_back(tmp_path):
    write(tmp_path, rows(25), shards=3)
    folder = tmp_path / "failures" / "ingest_date=2026-11-16"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["part-run1-0000.parquet", "part-run1-0001.parquet", "part-run1-0002.parquet"]
    table = ds.dataset(tmp_path / "failures", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 25
    assert set(table.column("ingest_date").to_pylist()) == {"2026-11-16"}
    assert set(table.column("schema_version").to_pylist()) == {SCHEMA_VERSION}
    assert pq.read_schema(folder / names[0]).field("at").type == FAILURES.field("at").type
    for name in names:  # rows sorted within each file
        sources = pq.read_table(folder / name).column("source").to_pylist()
        assert sources == sorted(sources)


def test_rewriting_a_shard_replaces_it(tmp_path):
    write(tmp_path, rows(5), shards=1)
    write(tmp_path, rows(5), shards=1)
    folder = tmp_path / "failures" / "ingest_date=2026-11-16"
    assert [p.name for p in folder.iterdir()] == ["part-run1-0000.parquet"]
    assert pq.read_table(folder / "part-run1-0000.parquet").num_rows == 5
