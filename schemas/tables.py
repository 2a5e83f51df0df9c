"""Every table the pipeline writes: its name, pyarrow schema and row order, defined once.

Tables are append-only event tables, Hive-partitioned by ``ingest_date`` (the partition
column lives in the folder name, not in the files).  Bump ``SCHEMA_VERSION`` whenever a
column is added, removed or changes type; every row carries the version it was written with.
"""

from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TableSpec:
    name: str  # the table's folder under the output root
    schema: pa.Schema
    sort_by: tuple  # columns that order rows within a file and pick a row's file shard


_UTC = pa.timestamp("us", tz="UTC")

_ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("domain", pa.string()),
        pa.field("feed_url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("published_at", _UTC),
        pa.field("published_at_source", pa.string()),
        pa.field("fetched_at", _UTC),
        pa.field("language", pa.string()),
        pa.field("text", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("content_sha1", pa.string()),
        pa.field("story_id", pa.string()),
        pa.field("is_canonical", pa.bool_()),
        pa.field("similarity", pa.float32()),
        pa.field("run_id", pa.string()),
        pa.field("schema_version", pa.int16()),
    ]
)

_STORIES = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("canonical_article_id", pa.string()),
        pa.field("title", pa.string()),
        pa.field("first_published_at", _UTC),
        pa.field("article_count", pa.int32()),
        pa.field("domain_count", pa.int32()),
        pa.field("domains", pa.list_(pa.string())),
        pa.field("run_id", pa.string()),
        pa.field("schema_version", pa.int16()),
    ]
)

_FAILURES = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_type", pa.string(), nullable=False),
        pa.field("message", pa.string()),
        pa.field("http_status", pa.int32()),
        pa.field("attempts", pa.int32()),
        pa.field("at", _UTC),
        pa.field("run_id", pa.string()),
        pa.field("schema_version", pa.int16()),
    ]
)

# Reprint-detection state read by the next run (transforms/dedup/batch.py): one row per clustered
# article, written once (when the article is first clustered); <= 1 KB per row with the defaults
# (docs/scale.md).
_STORY_INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("is_anchor", pa.bool_(), nullable=False),
        pa.field("published_at", _UTC),
        pa.field("wire_rank", pa.int8()),
        pa.field("domain", pa.string()),
        pa.field("title", pa.string()),
        pa.field("shingle_count", pa.int32()),
        pa.field("signature", pa.binary()),
        pa.field("lead_band_keys", pa.binary()),
        pa.field("number_sketch", pa.binary()),
        pa.field("fingerprint_version", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("schema_version", pa.int16()),
    ]
)

# Streaming tables (pipelines/stream.py): append-only, so a row says why it was written and when.
# row_kind: "new", "update" (new content of a known article) or "correction" (its story or canonical
# flag changed, e.g. its original arrived late); row_at: event time of the decision.  The latest
# row_at per article_id / story_id is the current state.
_ROW_EVENT = [pa.field("row_kind", pa.string()), pa.field("row_at", _UTC)]
_STREAM_ARTICLES = pa.schema(list(_ARTICLES)[:-2] + _ROW_EVENT + list(_ARTICLES)[-2:])
_STREAM_STORIES = pa.schema(list(_STORIES)[:-2] + _ROW_EVENT[1:] + list(_STORIES)[-2:])

ARTICLES = TableSpec("articles", _ARTICLES, ("article_id",))
STORIES = TableSpec("stories", _STORIES, ("story_id",))
FAILURES = TableSpec("failures", _FAILURES, ("source", "stage", "error_type"))
STORY_INDEX = TableSpec("story_index", _STORY_INDEX, ("article_id",))
STREAM_ARTICLES = TableSpec("articles", _STREAM_ARTICLES, ("article_id", "row_at"))
STREAM_STORIES = TableSpec("stories", _STREAM_STORIES, ("story_id", "row_at"))
