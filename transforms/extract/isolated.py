"""Extraction in child processes with a per-page time budget: one pathological page cannot stall
a worker on any runner or thread, and the pages' work (decoding, trafilatura, every scan and
normalisation: ``articles.extract_article``) runs beside the worker's own, on other cores.
"""

import contextlib
import multiprocessing
import time
from multiprocessing.connection import wait

from transforms.extract import wire
from transforms.extract.articles import ExtractConfig, extract_article
from transforms.extract.decode import PageRejected
from transforms.records import Article, RawPage


def _child_loop(conn, config: ExtractConfig) -> None:
    """Answer pages until the parent is gone: its end of the pipe closed (EOF), or its death broke
    the pipe or reset it over an unread answer (an OSError), all of which end the child quietly."""
    import trafilatura  # noqa: F401 -- imported while the first page is on its way

    agencies = wire.agency_lookup(config.wire_agencies)
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
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._process = ctx.Process(target=_child_loop, args=(child_conn, self._config), daemon=True)
        self._process.start()
        child_conn.close()

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
