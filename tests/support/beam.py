"""Beam helpers shared by tests: a streaming pipeline for TestStream, tables read back."""

from datetime import datetime
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions


def streaming_pipeline():
    options = PipelineOptions(runner="BundleBasedDirectRunner")
    options.view_as(StandardOptions).streaming = True
    return beam.Pipeline(options=options)


def epoch(when: datetime) -> float:
    return when.timestamp()


def read_table(root, table):
    return ds.dataset(Path(root) / table, format="parquet", partitioning="hive").to_table().to_pylist()
