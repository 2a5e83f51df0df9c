"""Beam helpers shared by tests: a streaming pipeline for TestStream, tables read back, what the
in-process runner holds between stages."""

from datetime import datetime
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.portability.fn_api_runner import fn_runner


def streaming_pipeline():
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def epoch(when: datetime) -> float:
    return when.timestamp()


def read_table(root, table):
    return ds.dataset(Path(root) / table, format="parquet", partitioning="hive").to_table().to_pylist()


def stage_inputs(monkeypatch) -> dict:
    """{transform id: bytes} the FnApiRunner sends to each stage of the pipelines run next (the
    stage inputs it holds in its own memory), filled as they run."""
    held = {}
    send = fn_runner.BundleManager._send_input_to_worker

    def counting(self, bundle_id, transform_id, byte_streams):
        byte_streams = list(byte_streams or [])
        held[transform_id] = held.get(transform_id, 0) + sum(len(s) for s in byte_streams)
        return send(self, bundle_id, transform_id, byte_streams)

    monkeypatch.setattr(fn_runner.BundleManager, "_send_input_to_worker", counting)
    return held
