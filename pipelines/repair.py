"""``newsbeam repair``: set an output's damaged files aside and rebuild what its tables hold.

    newsbeam repair --output out [--config configs/default.yaml]

Runs refuse an output whose state (``_state/crawl_state.json``) or a table file is damaged, with
an error naming the file (``runstate.StateError``); this command is the way out.  Holding the
output's lease, it

1. moves each table file whose Parquet footer cannot be read, and a state document that is not
   valid, to ``<output>/_quarantine/<stamp>/`` (nothing is deleted);
2. rebuilds a set-aside state from the tables: ``files`` from the input files that have
   ``articles`` or ``failures`` rows, ``seen`` from the URLs of fetched articles; feed validators
   and pending retries start empty (each feed is downloaded once in full; an article met again
   is a ``DuplicateUrl`` row, not a second article);
3. writes story-index rows for the articles that have none left of the configuration's
   fingerprint version (fingerprints of their latest text, their current story fields), so later
   runs still know them, then sets aside index files of other versions: after a newsbeam upgrade
   or a change of ``dedup`` settings that changes fingerprints, runs refuse the output until
   this command has fingerprinted its articles again;
4. does the same for the passage index (``reuse`` settings and passage records): an output
   written before passage reuse existed, or articles a stream wrote, get their records, and the
   next batch run decides their reuse.

The rows of a set-aside ``articles``/``stories``/``failures`` file leave the current state: the
report lists the files (ingesting their inputs again brings them back).
"""

import argparse
import sys
from datetime import datetime, timezone
from typing import Optional

from apache_beam.io.filesystems import FileSystems

from pipelines import current, lease, runstate
from pipelines.bounded import stale_files
from pipelines.config import Config, load_config
from schemas.tables import ARTICLES, FAILURES, PASSAGE_INDEX, REUSE, STORIES, STORY_INDEX, TableSpec
from transforms.dedup import passages
from transforms.dedup.fingerprints import fingerprints, index_row
from transforms.fetch.crawl_state import empty_state, seen_key
from transforms.records import StoryFields
from transforms.sinks.parquet import partition_path, stamped, table_files, table_footers, unreadable_files, write_shard

TABLES = (ARTICLES, STORIES, FAILURES, STORY_INDEX, REUSE, PASSAGE_INDEX)


def repair(root: str, config: Config, now: Optional[datetime] = None) -> dict:
    """Repair ``root`` (see the module docstring); returns what was done."""
    now = now or datetime.now(timezone.utc)
    quarantine = FileSystems.join(root, "_quarantine", f"{now:%Y%m%dT%H%M%SZ}")
    set_aside = [set_file_aside(root, path, quarantine, problem) for spec in TABLES for path, problem in unreadable_files(root, spec)]
    state_rebuilt = False
    try:
        runstate.load_state(root)
    except runstate.StateError as exc:
        set_aside.append(set_file_aside(root, runstate.state_path(root), quarantine, exc.problem))
        runstate.save_state(root, rebuilt_state(root, now))
        state_rebuilt = True
    written, passages = rebuild_index(root, config, now), rebuild_passages(root, config, now)
    for spec, column, version in (
        (STORY_INDEX, "fingerprint_version", config.dedup.fingerprint_version),
        (PASSAGE_INDEX, "passage_version", config.reuse.passage_version),
    ):
        set_aside += [
            set_file_aside(root, path, quarantine, f"{column} {sorted(versions)}, not {version!r}")
            for path, versions in stale_files(table_footers(root, spec), column, version)
        ]
    return {"set_aside": set_aside, "state_rebuilt": state_rebuilt, "index_rows_written": written,
            "passage_rows_written": passages}


def set_file_aside(root: str, path: str, quarantine: str, problem: str) -> dict:
    """Move ``path`` (under ``root``) to the same relative place under ``quarantine``."""
    target = FileSystems.join(quarantine, path[len(root):].lstrip("/"))
    folder = target.rsplit("/", 1)[0]
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    FileSystems.rename([path], [target])
    return {"path": path, "moved_to": target, "problem": problem}


def rebuilt_state(root: str, now: datetime) -> dict:
    """A crawl state rebuilt from the tables (feed validators and retries start empty)."""
    con = current.connect(root)
    sources = con.sql("select source from article_events union select source from failure_events").fetchall()
    files = sorted({source.split("#offset=")[0] for (source,) in sources if source})  # (WARC records: path#offset=N)
    fetched = con.sql(
        "select url, min(fetched_at) from article_events where fetched_at is not null and url is not null group by url"
    ).fetchall()
    return {
        **empty_state(),
        "files": {path: now.isoformat() for path in files if FileSystems.exists(path)},
        "seen": {seen_key(url): at.isoformat() for url, at in sorted(fetched)},
        "pending_run": None,
    }


def rebuild_index(root: str, config: Config, now: datetime) -> int:
    """Write story-index rows for the current articles that have none of this configuration's
    fingerprint version; returns how many."""
    articles = _unindexed(root, STORY_INDEX, "fingerprint_version", config.dedup.fingerprint_version)
    rows = [
        index_row(node, StoryFields(
            story_id=article["story_id"], is_canonical=article["is_canonical"], similarity=article["similarity"],
        ), config.dedup)
        for article, node in zip(articles, fingerprints(articles, config.dedup))
    ]
    return _write_state(root, STORY_INDEX, rows, now)


def rebuild_passages(root: str, config: Config, now: datetime) -> int:
    """Write passage-index rows for the current articles that have none of this configuration's
    passage version (outputs written before passage reuse, streamed articles); their reuse sets are
    decided by the next batch run.  Returns how many."""
    if not config.reuse.enabled:
        return 0
    articles = _unindexed(root, PASSAGE_INDEX, "passage_version", config.reuse.passage_version)
    return _write_state(root, PASSAGE_INDEX, passages.index_rows(articles, config.reuse), now)


def _unindexed(root: str, spec: TableSpec, version_column: str, version: str) -> list:
    """The current articles with no row of ``version`` in the state table ``spec``."""
    con = current.connect(root)
    missing, params = "select * from articles", None
    if FileSystems.match([table_files(root, spec)])[0].metadata_list:
        literal = table_files(root, spec).replace("'", "''")
        indexed = f"select article_id from read_parquet('{literal}', union_by_name = 1) where {version_column} = $version"
        missing, params = f"{missing} where article_id not in ({indexed})", {"version": version}
    return con.sql(missing + " order by article_id", params=params).fetch_arrow_table().to_pylist()


def _write_state(root: str, spec: TableSpec, rows: list, now: datetime) -> int:
    if rows:
        run_id = f"repair-{now:%Y%m%dT%H%M%SZ}"
        rows = [stamped(row, run_id, now) for row in rows]
        write_shard(rows, spec, partition_path(root, spec.name, f"{now:%Y-%m-%d}"), f"part-{run_id}-0000")
    return len(rows)


def format_report(root: str, report: dict) -> str:
    lines = [f"repaired {root}"]
    lines += [f"  set aside {item['path']} -> {item['moved_to']} ({item['problem']})" for item in report["set_aside"]]
    if report["state_rebuilt"]:
        lines.append("  state rebuilt from the tables (feed validators and retries start empty)")
    lines.append(f"  story index rows written for {report['index_rows_written']} articles that had none")
    lines.append(f"  passage index rows written for {report['passage_rows_written']} articles that had none")
    state = (f"/{STORY_INDEX.name}/", f"/{PASSAGE_INDEX.name}/", "/_state/")
    lost = [item["path"] for item in report["set_aside"] if not any(part in item["path"] for part in state)]
    if lost:
        lines.append("  the rows of the set-aside table files are no longer in the current state: ingest their inputs again")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="newsbeam repair", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="the output to repair")
    parser.add_argument("--config", help="YAML configuration the runs use (its dedup settings fingerprint)")
    parser.add_argument("--wait", type=float, nargs="?", const=float("inf"), default=0.0, metavar="SECONDS",
                        help="wait for a run holding the output (for ever, or SECONDS)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    with lease.hold_lease(args.output, f"repair-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}", args.wait):
        print(format_report(args.output, repair(args.output, config)))
    return 0


if __name__ == "__main__":
    from pipelines import cli

    sys.exit(cli.run_command("repair", sys.argv[1:]))
