"""The current state of an output, whatever runs wrote it (batch, watch or streaming), as DuckDB views.

    con = current.connect("out")
    con.sql("select story_id, count(*) as copies from articles group by 1 order by 2 desc").show()

    newsbeam sql --output out "select * from stories order by article_count desc limit 10"

The tables are append-only events (``schemas.tables``); the views fold them:

- ``articles``: one row per article, its latest content (``new``/``update`` row) with its latest
  story fields (any row, ``correction`` included);
- ``stories``: one row per story that has members: its latest row;
- ``failures``: every failure row;
- ``reuse``: each article's passages taken from other stories: its latest set of rows (a
  ``retraction`` row: the set became empty);
- ``article_events``, ``story_events``, ``reuse_events``: the raw rows.

"Latest" is the greatest ``row_at`` (ties: the later ``run_id``).  A table with no files yet is an
empty view with its schema.  Rows written before schema version 2 have no ``row_kind``/``row_at``:
they count as ``new`` rows older than any later one.
"""

import argparse
import csv
import sys

import duckdb
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from pipelines.runstate import damaged
from schemas.tables import ARTICLES, FAILURES, REUSE, STORIES, TableSpec
from transforms.sinks.parquet import table_files, unreadable_files

_LATEST = "row_number() over (partition by {key} order by row_at desc nulls last, run_id desc) = 1"
_STORY_FIELDS = "story_id, is_canonical, similarity"
_EVENT_COLUMNS = "row_kind, row_at, run_id, schema_version"
VIEWS = {
    "articles": f"""
        with content as (
            select * exclude ({_STORY_FIELDS}, {_EVENT_COLUMNS}) from article_events
            where coalesce(row_kind, 'new') in ('new', 'update') qualify {_LATEST.format(key="article_id")}
        ), story as (
            select article_id, {_STORY_FIELDS} from article_events qualify {_LATEST.format(key="article_id")}
        )
        select content.*, {_STORY_FIELDS} from content join story using (article_id)
    """,
    "stories": f"""
        select * exclude (row_at, run_id, schema_version) from (
            select * from story_events qualify {_LATEST.format(key="story_id")}
        ) where article_count > 0
    """,
    "failures": "select * from failure_events",
    "reuse": f"""
        select * exclude ({_EVENT_COLUMNS}) from (
            select * from reuse_events
            qualify dense_rank() over (partition by article_id order by row_at desc nulls last, run_id desc) = 1
        ) where row_kind = 'new'
    """,
}


def _events(con: duckdb.DuckDBPyConnection, name: str, root: str, spec: TableSpec) -> None:
    pattern = table_files(root, spec)
    for path, problem in unreadable_files(root, spec)[:1]:
        raise damaged(root, path, f"not a readable Parquet file ({problem})")
    con.register(f"{name}_empty", pa.Table.from_pylist([], schema=spec.schema))  # every column of the schema
    query = f"select * from {name}_empty"
    if FileSystems.match([pattern])[0].metadata_list:  # (files of older schema versions lack some columns)
        literal = pattern.replace("'", "''")
        query = (
            f"select * exclude (ingest_date) from read_parquet('{literal}', hive_partitioning = 1, union_by_name = 1) "
            f"union all by name {query}"
        )
    con.execute(f"create or replace view {name} as {query}")


def connect(root: str, con: duckdb.DuckDBPyConnection = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (a new in-memory one, or ``con``) with the views of ``root``'s current state."""
    con = con or duckdb.connect()
    events = (("article_events", ARTICLES), ("story_events", STORIES), ("failure_events", FAILURES), ("reuse_events", REUSE))
    for name, spec in events:
        _events(con, name, root, spec)
    for name, query in VIEWS.items():
        con.execute(f"create or replace view {name} as {query}")
    return con


def main(argv=None) -> int:
    """``newsbeam sql``: run one query over an output's current state and print the result."""
    parser = argparse.ArgumentParser(prog="newsbeam sql", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("query", help="SQL over the views articles, stories, failures, reuse, article_events, story_events, "
                                      "reuse_events")
    parser.add_argument("--output", default="out", help="output root (default: out)")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    args = parser.parse_args(argv)
    try:
        result = connect(args.output).sql(args.query)
        if result is None:  # a statement without a result
            return 0
        if args.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(result.columns)
            writer.writerows(result.fetchall())
        else:
            result.show(max_rows=100, max_width=200)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
