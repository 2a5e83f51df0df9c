"""Extraction in child processes with a per-page time budget: one pathological page cannot stall
a worker on any runner or thread, and the pages' work (decoding, trafilatura, every scan and
normalisation: ``articles.extract_article``) runs beside the worker's own, on other cores.

A child imports trafilatura and warms up on a page of its own (htmldate's and the language
model's first use cost more than a page) before it takes the first page.  A job that runs in
this process starts its children ahead (``start_early``), so they warm up while it is built.
"""

import contextlib
import multiprocessing
import time
from multiprocessing.connection import wait

from transforms.extract import wire
from transforms.extract.articles import ExtractConfig, extract_article
from transforms.extract.decode import PageRejected
from transforms.records import Article, RawPage

_WARM_UP_PAGE = {"source": "warm-up", "body": (
    "<html><body><article><h1>Warm-up</h1><p>Published on 12 March 2024, this page exercises the "
    "date search, the language model and the text extraction before the first real page.</p>"
    "<p>Nothing of it is kept: the child only answers the pages it is sent afterwards.</p></article></body></html>"
).encode()}


def _child_loop(conn, config: ExtractConfig) -> None:
    """Warm up, then answer pages until the parent is gone: its end of the pipe closed (EOF), or
    its death broke the pipe or reset it over an unread answer (an OSError), all of which end
    the child quietly."""
    agencies = wire.agency_lookup(config.wire_agencies)
    with contextlib.suppress(PageRejected):
        extract_article(_WARM_UP_PAGE, config, agencies)
    try:
        while True:
            page = conn.recv()
            try:
                answer = ("ok", extract_article(page, config, agencies))
            except PageRejected as exc:
                answer = ("rejected", exc.error_type, str(exc))
            except Exception as exc:  # noqa: BLE001 -- a bug or a page we did not foresee: the parent records it
                answer = ("rejected", type(exc).__name__, repr(exc))
            conn.send(answer)
    except (EOFError, OSError):
        return


def _spawn(config: ExtractConfig) -> tuple:
    """A new child: (its process, the parent's end of its pipe)."""
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    process = ctx.Process(target=_child_loop, args=(child_conn, config), daemon=True)
    process.start()
    child_conn.close()
    return process, conn


_EARLY: list = []  # (config, process, conn) of children started ahead of their extractor (``start_early``)


def start_early(config: ExtractConfig, count: int) -> None:
    """Have ``count`` children of this config started (and warming up) for the extractors this
    process will make: a job that runs in this process calls it before it builds its graph."""
    _EARLY[:] = [(c, process, conn) for c, process, conn in _EARLY if process.is_alive()]
    waiting = sum(c == config for c, _, _ in _EARLY)
    _EARLY.extend((config, *_spawn(config)) for _ in range(count - waiting))


def _started(config: ExtractConfig) -> tuple:
    """A child for an extractor of this config: one started early, else a new one."""
    while (found := next((e for e in _EARLY if e[0] == config), None)) is not None:
        _EARLY.remove(found)
        if found[1].is_alive():
            return found[1:]
    return _spawn(config)


class IsolatedExtractor:
    """``extract_article`` in a child process with a per-page time limit.

    ``submit`` hands one page over without waiting and ``result`` collects it, so the caller can
    go on meanwhile (``ready`` says which of several extractors have an answer); a page that
    overruns its budget gets the child killed."""

    def __init__(self, config: ExtractConfig):
        self._config = config
        self._process = self._conn = None  # started by the first page (a DirectRunner bundle may have none)
        self.deadline = None  # when the page in hand is out of time

    def _start(self) -> None:
        self._process, self._conn = _started(self._config)

    def submit(self, page: RawPage) -> None:
        if self._process is None or not self._process.is_alive():
            self._start()
        with contextlib.suppress(OSError):  # the child died meanwhile: ``result`` finds its pipe closed
            self._conn.send(page)
        self.deadline = time.monotonic() + self._config.timeout_s

    def result(self) -> Article:
        """The article of the page in hand; ``PageRejected`` when it has none, ran out of time or
        killed its child."""
        if not self._conn.poll(max(0.0, self.deadline - time.monotonic())):
            self.close()
            raise PageRejected("ExtractionTimeout", f"no result within {self._config.timeout_s:g} s")
        try:
            status, *value = self._conn.recv()
        except (EOFError, OSError):  # closed, or reset over a page the child never read
            self.close()
            raise PageRejected("ExtractorCrashed", "extraction process died") from None
        if status == "rejected":
            raise PageRejected(*value)
        return value[0]

    def __call__(self, page: RawPage) -> Article:
        self.submit(page)
        return self.result()

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._conn.close()
        self._process = self._conn = None

    @staticmethod
    def ready(busy: list) -> list:
        """Those of the ``busy`` extractors whose answer is in, or whose time is up, waiting until
        one is (never past the earliest deadline)."""
        timeout = max(0.0, min(e.deadline for e in busy) - time.monotonic())
        answered = set(wait([e._conn for e in busy], timeout))
        now = time.monotonic()
        return [e for e in busy if e._conn in answered or e.deadline <= now]
