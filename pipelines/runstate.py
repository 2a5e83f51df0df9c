"""Run lifecycle that makes every run safe to kill at any moment.

All state shared between runs lives in one JSON document (``transforms.crawlstate``: feed
validators, settled URLs, entries to retry, input files already ingested) plus one key here,
``pending_run``.  A run

1. rolls back the run a crash left pending (deletes its ``part-<run_id>-*`` files in every table),
2. records itself as pending,
3. writes its tables (deterministic file names, atomic renames),
4. commits: one atomic state write that adds what it ingested, forgets settled URLs older than
   ``SEEN_RETENTION`` (feeds list entries for days, not months) and clears ``pending_run``.

A crash before 4 leaves its inputs unrecorded, so the next run (after the rollback) ingests
them again: no row is lost and none is written twice.
"""

from datetime import datetime, timedelta, timezone
from typing import Iterable

from apache_beam.io.filesystems import FileSystems

from transforms import crawlstate
from transforms.crawl import merge_updates, pending_updates_path, read_updates


SEEN_RETENTION = timedelta(days=90)  # settled URLs older than this leave the state: it stays bounded


def run_files(root: str, run_id: str) -> list:
    """Every file a run wrote under ``root`` (tables, index, state updates), temporary ones included."""
    patterns = [
        FileSystems.join(root, "**", f"part-{run_id}-*.parquet"),
        FileSystems.join(root, "**", f".tmp-part-{run_id}-*.parquet"),
        pending_updates_path(root, run_id),
    ]
    return sorted({m.path for result in FileSystems.match(patterns) for m in result.metadata_list})


def begin_run(root: str, run_id: str) -> dict:
    """Roll back a run left pending by a crash, record ``run_id`` as pending; returns the state."""
    state = crawlstate.load_state(root)
    aborted = state.get("pending_run")
    if aborted:
        files = run_files(root, aborted)
        if files:
            FileSystems.delete(files)
    state = {**state, "pending_run": run_id}
    crawlstate.save_state(root, state)
    return state


def commit_run(root: str, run_id: str, state: dict, ingested_files: Iterable[str] = ()) -> dict:
    """Fold the finished run's crawl updates and ingested input files into the state, atomically."""
    now = datetime.now(timezone.utc)
    updates_path = pending_updates_path(root, run_id)
    state = crawlstate.forget_seen_before(merge_updates(state, read_updates(updates_path), now), now - SEEN_RETENTION)
    files = dict(state.get("files", {}))
    files.update((path, now.isoformat()) for path in ingested_files if path not in files)
    state = {**state, "files": files, "pending_run": None}
    crawlstate.save_state(root, state)
    if FileSystems.exists(updates_path):
        FileSystems.delete([updates_path])
    return state
