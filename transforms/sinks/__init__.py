"""Parquet tables: Hive-partitioned, append-only, with deterministic file names."""
