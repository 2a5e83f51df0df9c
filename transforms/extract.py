"""Extraction stage: raw page bytes -> clean text and metadata with trafilatura.

Pure functions (``check_page``, ``decode_html``, ``extract_document``) do the work; ``Extract`` is
the composite transform.  trafilatura runs with ``deduplicate=False`` (its dedup cache is
process-global and would make output depend on order).  Each page gets a wall-clock budget: the
extraction runs in a child process (``IsolatedExtractor``) that is killed and restarted when a
pathological page overruns, so one page cannot stall a worker on any runner or thread.
"""

import collections
import multiprocessing
import re
import time
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue
from charset_normalizer import from_bytes

from transforms import normalize
from transforms.records import FAILURES, failure

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
_WHATWG_CODECS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252",
    "latin_1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874",
    "iso-8859-11": "cp874", "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "shift_jis": "cp932", "sjis": "cp932",
}
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


class PageRejected(ValueError):
    """A page that cannot become an article; ``error_type`` names the reason for the failures table."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class ExtractConfig:
    max_page_bytes: int = 20_000_000
    timeout_s: float = 30.0
    processes: int = 1  # extraction processes per worker thread; pages overlap with the worker's own work
    min_words: int = 20
    favor_precision: bool = False
    include_tables: bool = True
    include_comments: bool = False


def check_page(body: bytes, max_bytes: int) -> None:
    """Reject inputs no extractor should see: empty, oversized or binary."""
    if not body or not body.strip():
        raise PageRejected("EmptyPage", "page has no content")
    if len(body) > max_bytes:
        raise PageRejected("PageTooLarge", f"{len(body)} bytes > limit {max_bytes}")
    head = body[:4096]
    if len(_CONTROL_BYTES.findall(head)) > len(head) // 100:
        raise PageRejected("BinaryContent", "page looks binary (control bytes in the first 4 KB)")


def _codec(label: str) -> str:
    """The codec browsers use for a charset label (WHATWG Encoding Standard: gb2312 means gb18030,
    iso-8859-1 means windows-1252 ...)."""
    label = label.strip().lower()
    return _WHATWG_CODECS.get(label, label)


def decode_html(body: bytes, declared_charset: Optional[str] = None) -> str:
    """Bytes -> text: transport charset, then ``<meta charset>``, then UTF-8 (also when only a few
    bytes are broken), then detection.

    The result is NFC (Vietnamese legacy code pages such as windows-1258 decode to combining
    tone marks)."""
    candidates = [declared_charset]
    match = _META_CHARSET.search(body[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for charset in (*candidates, "utf-8"):
        if not charset:
            continue
        try:
            return normalize.nfc(body.decode(_codec(charset)))
        except (LookupError, UnicodeDecodeError):
            continue
    mostly_utf8 = body.decode("utf-8", errors="replace")
    if mostly_utf8.count("\ufffd") <= max(3, len(mostly_utf8) // 2000):
        return normalize.nfc(mostly_utf8)
    best = from_bytes(body[:200_000]).best()
    if best is not None:
        try:
            return normalize.nfc(body.decode(_codec(best.encoding)))
        except (LookupError, UnicodeDecodeError):
            pass
    return normalize.nfc(mostly_utf8)


def extract_document(html: str, url: Optional[str], config: ExtractConfig) -> Optional[dict]:
    """Run trafilatura on one page; the fields we keep, or None when it finds no main text."""
    import trafilatura  # imported here: the isolated child process imports it once

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        deduplicate=False,
        favor_precision=config.favor_precision,
        include_tables=config.include_tables,
        include_comments=config.include_comments,
        date_extraction_params=_DATE_PARAMS,
    )
    if doc is None:
        return None
    return {
        "text": doc.text,
        "title": doc.title,
        "author": doc.author,
        "url": doc.url,
        "date": doc.date,
        "sitename": doc.sitename,
    }


def _child_loop(conn, config: ExtractConfig) -> None:
    while True:
        try:
            html, url = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", extract_document(html, url, config)))
        except Exception as exc:  # reported to the parent, which records a failure
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class IsolatedExtractor:
    """``extract_document`` in a child process with a per-page time limit.

    ``submit`` hands one page over without waiting and ``result`` collects it, so the caller can
    prepare the next page meanwhile; a page that overruns its budget gets the child killed."""

    def __init__(self, config: ExtractConfig):
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

    def submit(self, html: str, url: Optional[str]) -> None:
        if self._process is None or not self._process.is_alive():
            self._start()
        self._conn.send((html, url))
        self._deadline = time.monotonic() + self._config.timeout_s

    def result(self) -> Optional[dict]:
        if not self._conn.poll(max(0.0, self._deadline - time.monotonic())):
            self.close()
            raise PageRejected("ExtractionTimeout", f"no result within {self._config.timeout_s:g} s")
        try:
            status, value = self._conn.recv()
        except EOFError:
            self.close()
            raise PageRejected("ExtractorCrashed", "extraction process died") from None
        if status == "error":
            raise PageRejected("ExtractionError", value)
        return value

    def __call__(self, html: str, url: Optional[str]) -> Optional[dict]:
        self.submit(html, url)
        return self.result()

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._conn.close()
        self._process = self._conn = None


def page_to_article(page: dict, doc: Optional[dict], min_words: int) -> dict:
    """Turn trafilatura's fields plus the raw page's context into a normalised article dict."""
    if doc is None or not doc.get("text"):
        raise PageRejected("NoMainText", "trafilatura found no main text")
    text = normalize.clean_text(doc["text"])
    word_count = normalize.word_count(text)
    if word_count < min_words:
        raise PageRejected("TooShort", f"{word_count} words < {min_words}")
    url = normalize.article_url(doc.get("url"), page.get("url"))
    language = normalize.language(text, page.get("html_lang"))
    page_dates = [page.get("structured_date"), normalize.visible_time(page.get("visible_date"), language), doc.get("date")]
    published_at, published_source = normalize.published_time(page_dates, page.get("feed_published_at"))
    title = normalize.clean_title(doc.get("title") or page.get("feed_title"), doc.get("sitename"))
    return {
        "article_id": normalize.article_id(url, page["source"]),
        "url": url,
        "source": page["source"],
        "domain": normalize.domain(url),
        "feed_url": page.get("feed_url"),
        "title": title,
        "author": normalize.clean_title(doc.get("author"), None),
        "published_at": published_at,
        "published_at_source": published_source,
        "fetched_at": page.get("fetched_at"),
        "language": language,
        "text": text,
        "word_count": word_count,
        "content_sha1": normalize.content_sha1(text),
    }


def _rejected(source: str, error_type: str, message: str):
    Metrics.counter("extract", f"failed_{error_type}").inc()
    return beam.pvalue.TaggedOutput(FAILURES, failure(source, "extract", error_type, message))


class _ExtractFn(beam.DoFn):
    """Keeps up to ``config.processes`` pages in flight in isolated extractors; results are
    emitted in submission order, the last ones when the bundle finishes."""

    def __init__(self, config: ExtractConfig):
        self._config = config

    def setup(self):
        self._idle = [IsolatedExtractor(self._config) for _ in range(self._config.processes)]
        self._in_flight = collections.deque()

    def process(self, page, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        try:
            check_page(page["body"], self._config.max_page_bytes)
            html = decode_html(page["body"], page.get("charset"))
        except PageRejected as exc:
            yield _rejected(page["source"], exc.error_type, str(exc))
            return
        page = {
            **page,
            "body": None,
            "html_lang": normalize.html_lang(html),
            "structured_date": normalize.structured_date(html),
            "visible_date": normalize.visible_date(html),
        }
        ready = self._receive_oldest() if not self._idle else None
        extractor = self._idle.pop()
        extractor.submit(html, page.get("url"))  # the child works while we finish the previous page
        self._in_flight.append((extractor, page, window, timestamp))
        if ready:
            yield self._output(*ready[:2])

    def finish_bundle(self):
        while self._in_flight:
            page, result, window, timestamp = self._receive_oldest()
            output = self._output(page, result)
            if isinstance(output, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(output.tag, WindowedValue(output.value, timestamp, [window]))
            else:
                yield WindowedValue(output, timestamp, [window])

    def _receive_oldest(self):
        """Free the oldest in-flight extractor: (page, its trafilatura fields or rejection, window, timestamp)."""
        extractor, page, window, timestamp = self._in_flight.popleft()
        self._idle.append(extractor)
        try:
            result = extractor.result()
        except PageRejected as exc:
            result = exc
        return page, result, window, timestamp

    def _output(self, page: dict, result):
        """The article for an extraction result, or its failures row."""
        try:
            if isinstance(result, PageRejected):
                raise result
            article = page_to_article(page, result, self._config.min_words)
        except PageRejected as exc:
            return _rejected(page["source"], exc.error_type, str(exc))
        except Exception as exc:  # a bug or a page we did not foresee: record it, keep the run alive
            return _rejected(page["source"], type(exc).__name__, repr(exc))
        Metrics.counter("extract", "articles").inc()
        return article

    def teardown(self):
        for extractor, *_ in self._in_flight:
            extractor.close()
        for extractor in self._idle:
            extractor.close()


class Extract(beam.PTransform):
    """Raw pages -> (articles, failures)."""

    def __init__(self, config: ExtractConfig = ExtractConfig()):
        super().__init__()
        self._config = config

    def expand(self, pages):
        results = pages | "ExtractPages" >> beam.ParDo(_ExtractFn(self._config)).with_outputs(FAILURES, main="articles")
        return results.articles, results[FAILURES]
