"""Every table the pipeline writes: its name, pyarrow schema and row order, defined once.

Tables are append-only event tables, Hive-partitioned by ``ingest_date`` (the partition
column lives in the folder name, not in the files); batch, watch and streaming outputs share
one schema.  A row says why it was written (``row_kind``) and when (``row_at``: the run's start
in batch, the decision's event time in streaming); the latest row per id is the current state
(``pipelines.current`` reads it).  Bump ``SCHEMA_VERSION`` whenever a column is added, removed or
changes type; every row carries the version it was written with.
"""

from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 5  # 3: articles.published_at_zone; 4: articles.wire_source, reuse, passage_index;
# 5: articles.url_article_id, story_index.url_article_id


@dataclass(frozen=True)
class TableSpec:
    name: str  # the table's folder under the output root
    schema: pa.Schema
    sort_by: tuple  # columns that order rows within a file and pick a row's file shard


_UTC = pa.timestamp("us", tz="UTC")
_STAMP = [pa.field("run_id", pa.string()), pa.field("schema_version", pa.int16())]

# row_kind: "new" (an article seen for the first time), "update" (new content of a known article,
# the older version stays readable) or "correction" (its story, canonical flag or similarity
# changed, e.g. its original arrived late: in batch such a row carries the ids and the story
# columns only, in streaming the whole article).
_ARTICLES = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        # the id of the article holding this URL, when this one (of other content) claims it too
        pa.field("url_article_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("domain", pa.string()),
        pa.field("feed_url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("published_at", _UTC),
        pa.field("published_at_source", pa.string()),
        pa.field("published_at_precision", pa.string()),
        pa.field("published_at_zone", pa.string()),
        pa.field("fetched_at", _UTC),
        pa.field("language", pa.string()),
        pa.field("text", pa.string()),
        pa.field("word_count", pa.int32()),
        pa.field("content_sha1", pa.string()),
        pa.field("wire_source", pa.string()),
        pa.field("story_id", pa.string()),
        pa.field("is_canonical", pa.bool_()),
        pa.field("similarity", pa.float32()),
        pa.field("row_kind", pa.string()),
        pa.field("row_at", _UTC),
        *_STAMP,
    ]
)

# A row whenever a story's members or canonical change; article_count 0: the story is gone (its
# members joined other stories).
_STORIES = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("canonical_article_id", pa.string()),
        pa.field("title", pa.string()),
        pa.field("first_published_at", _UTC),
        pa.field("article_count", pa.int32()),
        pa.field("domain_count", pa.int32()),
        pa.field("domains", pa.list_(pa.string())),
        pa.field("row_at", _UTC),
        *_STAMP,
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
        *_STAMP,
    ]
)

# Passage reuse (transforms/dedup/reuse.py): an article's passages taken from other stories, as
# offsets into its ``text`` and into the source article's.  An article's rows are written as one
# set whenever the set changes (row_kind "new"); a set that became empty is one row with no source
# (row_kind "retraction").  The current state is each article's latest set.
_REUSE = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
        pa.field("source_article_id", pa.string()),
        pa.field("source_story_id", pa.string()),
        pa.field("source_start", pa.int32()),
        pa.field("source_end", pa.int32()),
        pa.field("similarity", pa.float32()),
        pa.field("row_kind", pa.string()),
        pa.field("row_at", _UTC),
        *_STAMP,
    ]
)

# Passage-reuse state read by the next batch run: an article's sampled passage seeds and a digest
# of its reuse set; a row when an article is first seen, its content changes or its reuse set
# changes (<= 2 KB a row, docs/scale.md).
_PASSAGE_INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("content_sha1", pa.string()),
        pa.field("seeds", pa.binary()),
        pa.field("reuse_digest", pa.string()),
        pa.field("passage_version", pa.string()),
        pa.field("row_at", _UTC),
        *_STAMP,
    ]
)

# Reprint-detection state read by the next batch run (transforms/dedup/batch.py): a row when an
# article is first clustered and whenever its content or story changes; the latest row_at per
# article is its current fingerprint and story (<= 1 KB a row with the defaults, docs/scale.md).
_STORY_INDEX = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("url_article_id", pa.string()),  # as in ``articles``
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_()),
        pa.field("similarity", pa.float32()),
        pa.field("content_sha1", pa.string()),
        pa.field("published_at", _UTC),
        pa.field("published_at_precision", pa.string()),
        pa.field("wire_rank", pa.int8()),
        pa.field("domain", pa.string()),
        pa.field("title", pa.string()),
        pa.field("shingle_count", pa.int32()),
        pa.field("signature", pa.binary()),
        pa.field("lead_band_keys", pa.binary()),
        pa.field("number_sketch", pa.binary()),
        pa.field("fingerprint_version", pa.string()),
        pa.field("row_at", _UTC),
        *_STAMP,
    ]
)

ARTICLES = TableSpec("articles", _ARTICLES, ("article_id", "row_at"))
STORIES = TableSpec("stories", _STORIES, ("story_id", "row_at"))
FAILURES = TableSpec("failures", _FAILURES, ("source", "stage", "error_type"))
STORY_INDEX = TableSpec("story_index", _STORY_INDEX, ("article_id", "row_at"))
REUSE = TableSpec("reuse", _REUSE, ("article_id", "row_at", "start"))
PASSAGE_INDEX = TableSpec("passage_index", _PASSAGE_INDEX, ("article_id", "row_at"))
