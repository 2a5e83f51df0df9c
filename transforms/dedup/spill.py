"""Shuffled batches kept in files instead of the runner's memory (pure functions, no Beam).

A job run in this process (the FnApiRunner) holds every PCollection between its stages, and
every shuffle, in its own memory: at a million articles the dedup and reuse shuffles alone
took 16 GB and more.  In such a run the dedup steps (``batch.PoolStep``, ``batch.BatchByShard``)
write each large bytes value they emit to a file of the run's spill folder and emit a
``Spilled`` reference in its place, and read the references of their input back: the runner
then moves and groups references of ~100 bytes, and a step holds only its own shard's data.
The folder lives as long as the run (``spill_folder``); runners with workers of their own
(Dataflow, Dask) shuffle the bytes themselves.
"""

import contextlib
import os
import shutil
import tempfile
import uuid
from typing import NamedTuple, Optional

MIN_BYTES = 4096  # smaller values stay in the element (a file costs more than they do)


class Spilled(NamedTuple):
    """A bytes value written to a file: where it starts and how long it is."""

    path: str
    offset: int
    size: int


class _Writer:
    """One file of the spill folder, created at the first value put in it (creating a file costs
    ~1 ms on a VM's disk: a step's values share one)."""

    def __init__(self, folder: str):
        self.path, self.file, self.offset = os.path.join(folder, uuid.uuid4().hex), None, 0

    def put(self, value: bytes) -> Spilled:
        if self.file is None:
            self.file = open(self.path, "wb")
        self.file.write(value)
        self.offset += len(value)
        return Spilled(self.path, self.offset - len(value), len(value))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


@contextlib.contextmanager
def _writer(folder: str):
    writer = _Writer(folder)
    try:
        yield writer
    finally:
        writer.close()


def spilled(value, folder: Optional[str]):
    """``value`` with each bytes object of at least ``MIN_BYTES`` in it (at any depth of plain
    tuples and lists) written to a new file of ``folder`` and replaced by its ``Spilled``; as it
    is when ``folder`` is None."""
    if folder is None:
        return value
    with _writer(folder) as writer:
        return _spill(value, writer)


def _spill(value, writer: _Writer):
    if isinstance(value, bytes):
        return value if len(value) < MIN_BYTES else writer.put(value)
    if type(value) in (tuple, list):
        return type(value)(_spill(item, writer) for item in value)
    return value


def loaded(value):
    """``value`` with each ``Spilled`` in it (at any depth of plain tuples, lists, dicts and
    other iterables of a grouped input) read back."""
    if isinstance(value, Spilled):
        with open(value.path, "rb") as file:
            file.seek(value.offset)
            return file.read(value.size)
    if isinstance(value, (bytes, str, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        return {key: loaded(item) for key, item in value.items()}
    if type(value) is tuple:
        return tuple(loaded(item) for item in value)
    if hasattr(value, "__iter__") and not hasattr(value, "_fields"):  # lists, a grouped input's values
        return [loaded(item) for item in value]
    return value


def payload_bytes(value) -> int:
    """The bytes an element carries, its spilled values' included (as ``loaded`` walks it)."""
    if isinstance(value, Spilled):
        return value.size
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(payload_bytes(item) for item in value.values())
    if isinstance(value, (str, int, float)) or value is None or hasattr(value, "_fields"):
        return 0
    if hasattr(value, "__iter__"):
        return sum(payload_bytes(item) for item in value)
    return 0


def spilling(fn, element, folder: Optional[str], *args) -> list:
    """The (output tag, value) pairs of a step ``fn(element, *args)``, its input read back and its
    values spilled to one file of ``folder`` (None: neither)."""
    if folder is None:
        return list(fn(element, *args))
    with _writer(folder) as writer:
        return [(tag, _spill(value, writer)) for tag, value in fn(loaded(element), *args)]


@contextlib.contextmanager
def spill_folder(parent: Optional[str] = None):
    """A new folder for one run's spilled batches (under ``parent``, else the system's temporary
    folder), removed with everything in it when the run ends."""
    folder = tempfile.mkdtemp(prefix="newsbeam-spill-", dir=parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
