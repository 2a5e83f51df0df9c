"""One writer per output: the lease a run holds on its ``--output`` while it writes.

    with hold_lease(root, run_id, wait_s=0) as lease:
        ...                      # write the tables
        lease.check()            # still ours? (raises LeaseLost)
        commit_run(...)

- Local outputs: an exclusive ``flock`` on ``_state/lease`` (the file says who holds it).  The
  operating system releases it when the holder dies, even by kill -9.
- ``gs://`` outputs: the object ``_state/lease``, created only if it does not exist (generation
  precondition 0).  The holder rewrites it every ``heartbeat_s`` seconds, each write conditional
  on the generation it wrote last.  A lease not rewritten for ``stale_s`` (its ``updated`` time,
  by the local clock: clocks must agree to well within ``stale_s``) belongs to a dead run: a
  waiter takes it over with a write conditional on the generation it read, so only one waiter
  wins.  A holder whose heartbeat finds another generation, or that could not renew it for
  ``stale_s``, has lost the lease: ``check`` raises ``LeaseLost`` and the run stops before it
  commits (its files are rolled back by the next run).

A second run waits up to ``wait_s`` for the holder to finish, else raises ``LeaseHeld`` naming it.
"""

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone

from apache_beam.io.filesystems import FileSystems

LEASE_FILE = ("_state", "lease")
HEARTBEAT_S = 30.0
STALE_S = 150.0

log = logging.getLogger(__name__)


class LeaseHeld(RuntimeError):
    """Another run holds the output's lease."""


class LeaseLost(RuntimeError):
    """The lease was taken over (this run looked dead): the run must not commit."""


def owner_record(run_id: str) -> dict:
    return {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def describe(owner: dict) -> str:
    try:
        return f"run {owner['run_id']} (pid {owner['pid']} on {owner['host']}, since {owner['since']})"
    except (KeyError, TypeError):
        return "another run"


@contextlib.contextmanager
def hold_lease(root: str, run_id: str, wait_s: float = 0.0, poll_s: float = 0.5,
               heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S):
    """Hold ``root``'s lease while the block runs; yields an object whose ``check()`` raises
    ``LeaseLost`` once the lease is no longer this run's."""
    scheme = FileSystems.get_scheme(root)
    if scheme in (None, "file"):
        with _local_lease(root, run_id, wait_s, poll_s) as lease:
            yield lease
    elif scheme == "gs":
        lease = GcsLease(root, run_id, heartbeat_s, stale_s)
        lease.acquire(wait_s, poll_s)
        try:
            yield lease
        finally:
            lease.release()
    else:
        log.warning("%s:// outputs have no lease: run one writer at a time", scheme)
        yield _Unguarded()


class _Unguarded:
    def check(self):
        pass


@contextlib.contextmanager
def _local_lease(root: str, run_id: str, wait_s: float, poll_s: float):
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
                    raise LeaseHeld(f"{root} is being written by {_local_holder(fd)}: wait for it (--wait) or stop it") from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner_record(run_id)).encode("utf-8"), 0)
        yield _Unguarded()  # a flock is held until the process ends: it cannot be lost
    finally:
        os.close(fd)  # releases the lock


def _local_holder(fd: int) -> str:
    try:
        return describe(json.loads(os.pread(fd, 4096, 0)))
    except ValueError:
        return "another run"


class GcsLease:
    """The lease object of a ``gs://`` output (see the module docstring)."""

    def __init__(self, root: str, run_id: str, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S, client=None):
        from google.cloud import storage  # (the gcp extra: only gs:// outputs need it)

        bucket, _, prefix = root[len("gs://"):].partition("/")
        name = "/".join(part for part in (prefix.strip("/"), *LEASE_FILE) if part)
        self.root, self.run_id, self.heartbeat_s, self.stale_s = root, run_id, heartbeat_s, stale_s
        self.bucket = (client or storage.Client()).bucket(bucket)
        self.name, self.generation, self.renewed = name, None, 0.0
        self.lost, self.stop = None, threading.Event()
        self.beats = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def acquire(self, wait_s: float, poll_s: float) -> None:
        from google.api_core.exceptions import PreconditionFailed

        deadline = time.monotonic() + wait_s
        while True:
            held = self.bucket.get_blob(self.name)
            expected = 0 if held is None else held.generation
            if held is None or self._stale(held):
                try:
                    self._write(expected)
                    if held is not None:
                        log.warning("took over the lease of %s from %s (no heartbeat for %.0f s)",
                                    self.root, describe(self._owner(held)), self.stale_s)
                    self.beats.start()
                    return
                except PreconditionFailed:
                    continue  # another run was quicker: look again
            if time.monotonic() >= deadline:
                raise LeaseHeld(f"{self.root} is being written by {describe(self._owner(held))}: wait for it (--wait) or stop it")
            time.sleep(poll_s)

    def check(self) -> None:
        if self.lost is None and time.monotonic() - self.renewed > self.stale_s:
            self.lost = f"not renewed for {self.stale_s:.0f} s"
        if self.lost is not None:
            raise LeaseLost(f"the lease of {self.root} is no longer run {self.run_id}'s ({self.lost}): not committing")

    def release(self) -> None:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        self.stop.set()
        if self.beats.is_alive():
            self.beats.join()
        if self.lost is None:
            with contextlib.suppress(NotFound, PreconditionFailed):
                self.bucket.blob(self.name).delete(if_generation_match=self.generation)

    def _write(self, expected_generation: int) -> None:
        blob = self.bucket.blob(self.name)
        blob.upload_from_string(json.dumps(owner_record(self.run_id)), content_type="application/json",
                                if_generation_match=expected_generation)
        self.generation, self.renewed = blob.generation, time.monotonic()

    def _beat(self) -> None:
        from google.api_core.exceptions import GoogleAPIError, NotFound, PreconditionFailed

        while not self.stop.wait(self.heartbeat_s):
            try:
                self._write(self.generation)
            except (PreconditionFailed, NotFound):
                self.lost = "taken over by another run"
                return
            except GoogleAPIError as exc:  # transient: the next beat tries again; check() times out
                log.warning("lease heartbeat of %s failed: %s", self.root, exc)

    def _stale(self, held) -> bool:
        return (datetime.now(timezone.utc) - held.updated).total_seconds() > self.stale_s

    @staticmethod
    def _owner(held) -> dict:
        try:
            return json.loads(held.download_as_bytes(if_generation_match=held.generation))
        except Exception:  # gone or rewritten meanwhile, or not JSON: the message stays generic
            return {}
