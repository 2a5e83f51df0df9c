"""Everything a run keeps between runs, and the lifecycle that makes every run safe to kill.

    with lease.hold_lease(root, run_id) as held:  # one writer at a time (pipelines.lease)
        state = begin_run(root, run_id)
        ...                                       # write the tables
        held.check()
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
time: it holds the output's lease (``pipelines.lease``), so a rollback never deletes a live
run's files.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from apache_beam.io.filesystems import FileSystems

from transforms.fetch import crawl_state

STATE_FILE = ("_state", "crawl_state.json")
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


class StateError(RuntimeError):
    """A file an output's runs depend on (its state, a table file) is damaged: ``problem`` says how."""

    def __init__(self, message: str, problem: str):
        super().__init__(message)
        self.problem = problem


def damaged(root: str, path: str, problem: str) -> StateError:
    return StateError(
        f"{path}: {problem}. `newsbeam repair --output {root}` sets the damaged file aside and rebuilds "
        "what the tables hold (see README: Repair)",
        problem,
    )


def load_state(root: str) -> dict:
    """The saved state under ``root``, or an empty one on the first run; ``StateError`` when the
    file is damaged (never a silent reset)."""
    path = state_path(root)
    if not FileSystems.exists(path):
        return crawl_state.empty_state()
    with FileSystems.open(path) as handle:
        raw = handle.read()
    try:
        saved = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # (UnicodeDecodeError is one)
        raise damaged(root, path, f"not a JSON document ({exc})") from None
    problem = state_problem(saved)
    if problem:
        raise damaged(root, path, problem)
    return {**crawl_state.empty_state(), **saved}


_SECTIONS = {"validators": dict, "seen": str, "retry": dict, "files": str}  # section: type of its values
_TIMESTAMPED = ("seen", "files")


def state_problem(saved) -> Optional[str]:
    """What is wrong with a saved state document, or None."""
    if not isinstance(saved, dict):
        return f"a JSON {type(saved).__name__}, not an object"
    for name, value_type in _SECTIONS.items():
        section = saved.get(name, {})
        if not isinstance(section, dict):
            return f'"{name}" is a {type(section).__name__}, not an object'
        for key, value in section.items():
            if not isinstance(value, value_type):
                return f'"{name}" entry {key!r} is a {type(value).__name__}, not a {value_type.__name__}'
            if name in _TIMESTAMPED and not _is_timestamp(value):
                return f'"{name}" entry {key!r} has {value!r}, not a timestamp'
    pending = saved.get("pending_run")
    if pending is not None and not isinstance(pending, str):
        return f'"pending_run" is {pending!r}, not a run id'
    return None


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


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
