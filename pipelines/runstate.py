"""Everything a run keeps between runs, and the lifecycle that makes every run safe to kill.

    with hold_lease(root, run_id, wait_s=0):      # one writer at a time
        state = begin_run(root, run_id)
        ...                                       # write the tables
        commit_run(root, run_id, state)

The state lives under ``<output>/_state/``: one JSON document (``crawl_state.json``: the crawl
state of ``transforms.fetch.crawl_state``, the input files already ingested under ``files``, and
``pending_run``) plus, while a run is going, its crawl updates (``pending/<run_id>.json``).  The
story index is a table of its own (``story_index/``, written with the other tables).  Files are
read and written through Beam's ``FileSystems`` (local paths and ``gs://`` alike); the document
is replaced atomically (temporary name, then rename), so a crash leaves the previous one intact.

A run

1. rolls back the run a crash left pending (deletes its ``part-<run_id>-*`` files in every table),
2. records itself as pending,
3. writes its tables (deterministic file names, atomic renames) and its crawl updates,
4. commits: one atomic state write that adds what it ingested, forgets settled URLs older than
   ``SEEN_RETENTION`` (feeds list entries for days, not months) and clears ``pending_run``.

A crash before 4 leaves its inputs unrecorded, so the next run (after the rollback) ingests
them again: no row is lost and none is written twice.  Only one run writes to an output at a
time: it holds the output's lease (``_state/lease``, an exclusive lock the operating system
releases when the holder dies, even by kill -9), so a rollback never deletes a live run's files.
"""

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from apache_beam.io.filesystems import FileSystems

from transforms.fetch import crawl_state

STATE_FILE = ("_state", "crawl_state.json")
LEASE_FILE = ("_state", "lease")
SEEN_RETENTION = timedelta(days=90)  # settled URLs older than this leave the state: it stays bounded


@dataclass(frozen=True)
class RunContext:
    run_id: str
    ingest_date: str
    output: str
    started_at: datetime  # the row_at of the run's rows


def new_run_context(output: str, now: Optional[datetime] = None) -> RunContext:
    now = now or datetime.now(timezone.utc)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return RunContext(run_id=run_id, ingest_date=f"{now:%Y-%m-%d}", output=output, started_at=now)


# ---------------------------------------------------------------------------- the state document


def state_path(root: str) -> str:
    return FileSystems.join(root, *STATE_FILE)


def load_state(root: str) -> dict:
    """The saved state under ``root``, or an empty one on the first run."""
    path = state_path(root)
    if not FileSystems.exists(path):
        return crawl_state.empty_state()
    with FileSystems.open(path) as handle:
        saved = json.loads(handle.read().decode("utf-8"))
    return {**crawl_state.empty_state(), **saved}


def save_state(root: str, state: dict) -> None:
    """Write ``state`` under ``root`` atomically (temporary file + rename)."""
    path = state_path(root)
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    with FileSystems.create(temporary) as handle:
        handle.write(json.dumps(state, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8"))
    FileSystems.rename([temporary], [path])


# ---------------------------------------------------------------------------- a run's crawl updates


def pending_updates_path(root: str, run_id: str) -> str:
    return FileSystems.join(root, "_state", "pending", f"{run_id}.json")


def write_updates(updates: list, path: str) -> str:
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(sorted(updates, key=json.dumps), ensure_ascii=False).encode("utf-8"))
    return path


def read_updates(path: str) -> list:
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


# ---------------------------------------------------------------------------- the lifecycle


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
    state = load_state(root)
    aborted = state.get("pending_run")
    if aborted:
        files = run_files(root, aborted)
        if files:
            FileSystems.delete(files)
    state = {**state, "pending_run": run_id}
    save_state(root, state)
    return state


def commit_run(root: str, run_id: str, state: dict, ingested_files: Iterable[str] = ()) -> dict:
    """Fold the finished run's crawl updates and ingested input files into the state, atomically."""
    now = datetime.now(timezone.utc)
    updates_path = pending_updates_path(root, run_id)
    state = crawl_state.merge_updates(state, read_updates(updates_path), now)
    state = crawl_state.forget_seen_before(state, now - SEEN_RETENTION)
    files = dict(state.get("files", {}))
    files.update((path, now.isoformat()) for path in ingested_files if path not in files)
    state = {**state, "files": files, "pending_run": None}
    save_state(root, state)
    if FileSystems.exists(updates_path):
        FileSystems.delete([updates_path])
    return state


# ---------------------------------------------------------------------------- one writer at a time


class LeaseHeld(RuntimeError):
    """Another run holds the output's lease."""


@contextlib.contextmanager
def hold_lease(root: str, run_id: str, wait_s: float = 0.0, poll_s: float = 0.5):
    """Hold ``root``'s lease while the block runs: wait up to ``wait_s`` for a live holder to
    finish, else raise ``LeaseHeld`` naming it.  Local outputs only (an exclusive ``flock``);
    other filesystems run without a lease."""
    if FileSystems.get_scheme(root) not in (None, "file"):
        yield
        return
    path = os.path.join(root, *LEASE_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LeaseHeld(f"{root} is being written by {_holder(fd)}: wait for it (--wait) or stop it") from None
                time.sleep(poll_s)
        owner = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                 "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        owner = json.loads(os.pread(fd, 4096, 0))
        return f"run {owner['run_id']} (pid {owner['pid']} on {owner['host']}, since {owner['since']})"
    except (ValueError, KeyError, TypeError):
        return "another run"
