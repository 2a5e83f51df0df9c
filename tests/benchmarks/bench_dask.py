"""Batch job wall time: FnApiRunner (in-process) against ``pipelines.runners.dask_runner.DaskRunner`` on a
local ``dask.distributed`` cluster (scheduler + N worker processes on loopback).

    python tests/benchmarks/bench_dask.py [--workers 2] [--partitions 4] [--corpus sample|aeb]

``aeb`` = the 181 real pages of ../shared/data/extraction/scrapinghub-aeb.  Prints seconds and
pages/s per runner, cluster start-up apart, and whether both wrote the same articles.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import dask
import distributed
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines import batch  # noqa: E402

CORPORA = {
    "sample": None,  # the bundled sample (batch's default input)
    "aeb": REPO.parent / "shared" / "data" / "extraction" / "scrapinghub-aeb" / "html",
}


def articles(root: Path) -> list:
    table = ds.dataset(root / "articles", format="parquet", partitioning="hive").to_table()
    return sorted(table.drop_columns(["run_id", "ingest_date"]).to_pylist(), key=lambda r: r["article_id"])


def timed(argv) -> tuple[dict, float]:
    started = time.monotonic()
    summary = batch.run(argv)
    return summary, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="sample")
    args = parser.parse_args()
    corpus = CORPORA[args.corpus]
    if corpus is not None and not corpus.is_dir():
        sys.exit(f"skipped: corpus not found at {corpus}")
    inputs = ["--input", str(corpus)] if corpus else []

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        fnapi, fnapi_s = timed([*inputs, "--output", str(out / "fnapi")])
        started = time.monotonic()
        with dask.config.set({"distributed.worker.daemon": False}):  # the extractor starts child processes
            cluster = distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            )
        with cluster:
            startup_s = time.monotonic() - started
            dask_run, dask_s = timed(
                [*inputs, "--output", str(out / "dask"), "--runner=pipelines.runners.dask_runner.DaskRunner",
                 f"--dask_client_address={cluster.scheduler_address}", f"--dask_npartitions={args.partitions}"]
            )
        pages = fnapi["articles"] + fnapi["failures"]
        print(f"corpus {args.corpus}: {pages} pages, {fnapi['articles']} articles")
        print(f"  FnApiRunner (in-process)        {fnapi_s:6.1f} s  {pages / fnapi_s:6.1f} pages/s")
        print(f"  DaskRunner {args.workers} workers x 1 thread, {args.partitions} partitions "
              f"{dask_s:6.1f} s  {pages / dask_s:6.1f} pages/s  (+{startup_s:.1f} s cluster start-up)")
        print(f"  same articles: {articles(out / 'fnapi') == articles(out / 'dask')}; "
              f"same counts: {all(fnapi[k] == dask_run[k] for k in ('articles', 'stories', 'failures_by_reason'))}")


if __name__ == "__main__":
    main()
