"""The batch job on a real ``dask.distributed`` cluster (scheduler + 2 worker processes on loopback)
through ``pipelines.runners.dask_runner.DaskRunner``: same tables and failures as on the FnApiRunner."""

import time
import uuid
from pathlib import Path

import pytest

dask = pytest.importorskip("dask", reason="needs apache-beam[dask]")
distributed = pytest.importorskip("distributed", reason="needs apache-beam[dask]")

import apache_beam as beam  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
from apache_beam.metrics import Metrics  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402

from pipelines import batch  # noqa: E402

VOLATILE = {"run_id", "ingest_date", "at", "row_at"}  # run stamps, and when a failure was recorded
RUNNER = "pipelines.runners.dask_runner.DaskRunner"


@pytest.fixture(scope="module")
def scheduler_address():
    # Non-daemonic workers: the extractor starts child processes, which daemonic processes cannot.
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    with cluster:
        yield cluster.scheduler_address


def table_rows(root: Path, name: str) -> list:
    table = ds.dataset(root / name, format="parquet", partitioning="hive").to_table()
    columns = [c for c in table.column_names if c not in VOLATILE]
    return sorted(table.select(columns).to_pylist(), key=repr)


def test_sample_on_dask_cluster_matches_fnapi_runner(scheduler_address, sample_run, tmp_path):
    fnapi = sample_run.output  # `newsbeam --sample` on the FnApiRunner (tests/support/samples.py)
    # The sample's files come from one glob: its Reshuffle must spread them over both workers, one
    # partition each (each partition starts the extractor's processes again: ~5 s a partition more)
    started = time.monotonic()
    dask_summary = batch.run(
        ["--sample", "--output", str(tmp_path / "dask"), f"--runner={RUNNER}", f"--dask_client_address={scheduler_address}",
         "--dask_npartitions=2"]
    )
    print(f"\nsample: DaskRunner on 2 local workers {time.monotonic() - started:.1f} s; "
          f"FnApiRunner {sample_run.stdout.strip().splitlines()[-2].strip()}")
    for table in ("articles", "stories", "failures"):
        assert table_rows(tmp_path / "dask", table) == table_rows(fnapi, table), table
    # the FnApiRunner's summary, as its run printed it
    reasons = ", ".join(f"{k}={v}" for k, v in dask_summary["failures_by_reason"].items()) or "none"
    assert f"  articles {dask_summary['articles']}, stories {dask_summary['stories']}," in sample_run.stdout
    assert f"  failures {dask_summary['failures']} ({reasons})\n" in sample_run.stdout
    assert dask_summary["articles"] > 30


class _HoldLast(beam.DoFn):
    """Emits each element one call late, the last one from finish_bundle; odd numbers are 'odd'."""

    def start_bundle(self):
        self._held = None

    def process(self, n):
        held, self._held = self._held, n
        if held is not None:
            yield self._tagged(held)

    def finish_bundle(self):
        if self._held is not None:
            yield beam.transforms.window.GlobalWindows.windowed_value(self._tagged(self._held))

    @staticmethod
    def _tagged(n):
        Metrics.counter("test", "emitted").inc()
        return beam.pvalue.TaggedOutput("odd", n) if n % 2 else n


def test_tagged_outputs_finish_bundle_and_every_sink(scheduler_address, tmp_path):
    def touch(n, kind):
        (tmp_path / f"{kind}-{n}").touch()

    options = beam.options.pipeline_options.PipelineOptions(
        [f"--runner={RUNNER}", f"--dask_client_address={scheduler_address}", "--dask_npartitions=3"]
    )
    pipeline = beam.Pipeline(options=options)
    numbers = pipeline | "Numbers" >> beam.Create(range(10))
    split = numbers | "Split" >> beam.ParDo(_HoldLast()).with_outputs("odd", main="even")
    split.even | "TouchEven" >> beam.Map(touch, "even")
    split.odd | "TouchOdd" >> beam.Map(touch, "odd")
    result = pipeline.run()
    result.wait_until_finish()
    expected = {f"even-{n}" for n in range(0, 10, 2)} | {f"odd-{n}" for n in range(1, 10, 2)}
    assert {p.name for p in tmp_path.iterdir()} == expected
    (emitted,) = result.metrics().query(MetricsFilter().with_name("emitted"))["counters"]
    assert emitted.attempted == 10


class _CountBundle(beam.DoFn):
    """Writes one file per non-empty bundle holding its element count."""

    def __init__(self, folder: str):
        self._folder = folder

    def start_bundle(self):
        self._count = 0

    def process(self, element):
        self._count += 1

    def finish_bundle(self):
        if self._count:
            (Path(self._folder) / uuid.uuid4().hex).write_text(str(self._count))


def test_reshuffle_spreads_one_partition_over_many(scheduler_address, tmp_path):
    options = beam.options.pipeline_options.PipelineOptions(
        [f"--runner={RUNNER}", f"--dask_client_address={scheduler_address}", "--dask_npartitions=4"]
    )
    pipeline = beam.Pipeline(options=options)
    (
        pipeline
        | "One" >> beam.Create([40])
        | "Expand" >> beam.FlatMap(lambda n: list(range(n)))  # all 40 in the one non-empty partition
        | "Spread" >> beam.Reshuffle()
        | "Count" >> beam.ParDo(_CountBundle(str(tmp_path)))
    )
    pipeline.run().wait_until_finish()
    counts = [int(p.read_text()) for p in tmp_path.iterdir()]
    assert sum(counts) == 40
    assert len(counts) >= 3  # 40 random keys leave a partition empty with probability ~1e-4
