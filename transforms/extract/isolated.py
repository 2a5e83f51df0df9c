"""trafilatura, and every other scan of a page's HTML (``metadata.page_hints``), in a child process
with a per-page time budget: one pathological page cannot stall a worker on any runner or thread.

trafilatura runs with ``deduplicate=False`` (its dedup cache is process-global and would make
output depend on order).
"""

import contextlib
import multiprocessing
import time
from typing import TYPE_CHECKING

from transforms.extract.decode import PageRejected
from transforms.extract.metadata import (
    PageHints,
    names_only_site,
    other_stories,
    page_hints,
    site_names,
)
from transforms.extract.wire import lines_after

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from transforms.extract.articles import ExtractConfig

DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def extract_document(page: "str | HtmlElement", url: str | None, config: "ExtractConfig") -> dict | None:
    """Run trafilatura on one page (its HTML, or its tree from trafilatura's ``load_html``); the fields
    we keep, or None when it finds no main text.  Other stories' ``<article>``s beside the page's own
    (``metadata.other_stories``) are pruned first."""
    import trafilatura  # imported here: the isolated child process imports it once
    from trafilatura.utils import load_html

    tree = load_html(page)
    if tree is None:
        return None
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        deduplicate=False,
        favor_precision=config.favor_precision,
        include_tables=config.include_tables,
        include_comments=config.include_comments,
        date_extraction_params=DATE_PARAMS,
        prune_xpath=[f"(//article)[{i}]" for i in other_stories(tree)] or None,
    )
    if doc is None:
        return None
    return {"text": doc.text, "title": doc.title, "author": doc.author, "url": doc.url, "date": doc.date, "sitename": doc.sitename}


def extract_page(html: str, url: str | None, config: "ExtractConfig") -> tuple[PageHints, dict | None]:
    """What the child computes for one page (parsed once): its HTML's hints and trafilatura's fields,
    with ``byline``, the names trafilatura reads from the byline markup (rel, itemprop or class
    "author"), when its author (from the metas) is the site's name only, and ``after_text``, the
    short blocks right after the text that trafilatura left out (``wire.lines_after``: a sign-off
    "— AP" as a heading)."""
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return page_hints(html), None
    hints = page_hints(html, tree)
    doc = extract_document(tree, url, config)
    if doc:
        doc["after_text"] = lines_after(tree, doc["text"])
    if doc and names_only_site(doc["author"], *site_names(hints, doc["sitename"], doc["url"] or url)):
        doc["byline"] = extract_author(tree)
    return hints, doc


def _child_loop(conn, config: "ExtractConfig") -> None:
    """Answer pages until the parent is gone: its end of the pipe closed (EOF), or its death broke
    the pipe or reset it over an unread answer (an OSError), all of which end the child quietly."""
    try:
        while True:
            html, url = conn.recv()
            try:
                answer = ("ok", extract_page(html, url, config))
            except Exception as exc:  # noqa: BLE001 -- reported to the parent, which records a failure
                answer = ("error", f"{type(exc).__name__}: {exc}")
            conn.send(answer)
    except (EOFError, OSError):
        return


class IsolatedExtractor:
    """``extract_page`` in a child process with a per-page time limit.

    ``submit`` hands one page over without waiting and ``result`` collects it, so the caller can
    prepare the next page meanwhile; a page that overruns its budget gets the child killed."""

    def __init__(self, config: "ExtractConfig"):
        self._config = config
        self._process = None
        self._conn = None
        self._deadline = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._process = ctx.Process(target=_child_loop, args=(child_conn, self._config), daemon=True)
        self._process.start()
        child_conn.close()

    def submit(self, html: str, url: str | None) -> None:
        if self._process is None or not self._process.is_alive():
            self._start()
        with contextlib.suppress(OSError):  # the child died meanwhile: ``result`` finds its pipe closed
            self._conn.send((html, url))
        self._deadline = time.monotonic() + self._config.timeout_s

    def result(self) -> tuple[PageHints, dict | None]:
        if not self._conn.poll(max(0.0, self._deadline - time.monotonic())):
            self.close()
            raise PageRejected("ExtractionTimeout", f"no result within {self._config.timeout_s:g} s")
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError):  # closed, or reset over a page the child never read
            self.close()
            raise PageRejected("ExtractorCrashed", "extraction process died") from None
        if status == "error":
            raise PageRejected("ExtractionError", value)
        return value

    def __call__(self, html: str, url: str | None) -> tuple[PageHints, dict | None]:
        self.submit(html, url)
        return self.result()

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._conn.close()
        self._process = self._conn = None
