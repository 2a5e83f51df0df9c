"""Extraction stage: raw pages -> articles (clean text and metadata with trafilatura).

    articles, failures = pages | Extract(ExtractConfig(timeout_s=30))

Each page is checked and decoded (``decode``), scanned for hints and extracted by trafilatura in
an isolated child process with a wall-clock budget (``isolated``), and its fields normalised into
an article (``metadata``).  Every page ends as an article or a failures row with stage ``extract``.
"""

import collections
from dataclasses import dataclass, field

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.extract import metadata, wire
from transforms.extract.dates import Page, own_item, published_time
from transforms.extract.decode import PageRejected, check_page, decode_html
from transforms.extract.isolated import IsolatedExtractor
from transforms.extract.metadata import PageHints
from transforms.records import FAILED, Article, RawPage, failure
from transforms.settings import check_ranges, setting
from transforms.windowing import in_window_of


@dataclass(frozen=True)
class ExtractConfig:
    """Extraction settings; field names are the keys of the YAML ``extract:`` section."""

    max_page_bytes: int = setting(20_000_000, at_least=1)
    timeout_s: float = setting(30.0, above=0)
    processes: int = setting(1, at_least=1)  # extraction processes per worker thread: pages overlap with the worker's work
    min_words: int = setting(20, at_least=0)
    favor_precision: bool = False
    include_tables: bool = True
    include_comments: bool = False
    wire_agencies: dict = field(default_factory=lambda: dict(wire.AGENCIES))  # agency code -> the names crediting it

    def __post_init__(self):
        check_ranges(self, "extract")
        object.__setattr__(self, "wire_agencies", wire.check_agencies(self.wire_agencies))


def page_to_article(page: RawPage, hints: PageHints, doc: dict | None, min_words: int,
                    agencies: wire.Agencies = wire.DEFAULT_AGENCIES) -> Article:
    """Turn trafilatura's fields plus the raw page's context into a normalised article; ``agencies``:
    the agencies ``wire_source`` names (``wire.agency_lookup`` of ``ExtractConfig.wire_agencies``)."""
    if doc is None or not doc.get("text"):
        raise PageRejected("NoMainText", "trafilatura found no main text")
    text = metadata.clean_text(metadata.with_lead(doc["text"], hints.lead))
    word_count = metadata.word_count(text)
    if word_count < min_words:
        raise PageRejected("TooShort", f"{word_count} words < {min_words}")
    url = metadata.article_url(doc.get("url"), page.get("url"))
    language = metadata.language(text, hints.html_lang)
    meta_title = doc.get("title") or page.get("feed_title")
    own = own_item(hints.dates.items, Page(url or page.get("url"), meta_title, hints.html_lang, language))
    site_names = metadata.site_names(hints, doc.get("sitename"), url or doc.get("url") or page.get("url"))
    title = metadata.article_title(meta_title, hints, own, *site_names)
    context = Page(url or page.get("url"), title, hints.html_lang, language)
    published = published_time(hints.dates, doc.get("date"), page.get("feed_published_at"), context)
    author = metadata.authors(own, doc.get("author"), doc.get("byline"), text, language, *site_names)
    return Article(
        article_id=metadata.article_id(url, page["source"]),
        url=url,
        source=page["source"],
        domain=metadata.domain(url or doc.get("url")),  # a canonical naming the site's home still names the site
        feed_url=page.get("feed_url"),
        title=title,
        author=author,
        published_at=published.at,
        published_at_source=published.source,
        published_at_precision=published.precision,
        published_at_zone=published.zone,
        fetched_at=page.get("fetched_at"),
        language=language,
        text=text,
        word_count=word_count,
        content_sha1=metadata.content_sha1(text),
        wire_source=wire.wire_source(
            text, (doc.get("author"), doc.get("byline"), author), agencies, doc.get("after_text", ()),
        ),
    )


def _rejected(source: str, error_type: str, message: str):
    Metrics.counter("extract", f"failed_{error_type}").inc()
    return beam.pvalue.TaggedOutput(FAILED, failure(source, "extract", error_type, message))


class _ExtractFn(beam.DoFn):
    """Keeps up to ``config.processes`` pages in flight in isolated extractors; results are
    emitted in submission order, the last ones when the bundle finishes."""

    def __init__(self, config: ExtractConfig):
        self._config = config

    def setup(self):
        self._idle = [IsolatedExtractor(self._config) for _ in range(self._config.processes)]
        self._agencies = wire.agency_lookup(self._config.wire_agencies)
        self._in_flight = collections.deque()

    def process(self, page, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        try:
            check_page(page["body"], self._config.max_page_bytes)
            html = decode_html(page["body"], page.get("charset"))
        except PageRejected as exc:
            yield _rejected(page["source"], exc.error_type, str(exc))
            return
        page = {**page, "body": None}  # the bytes are not needed any more
        ready = self._receive_oldest() if not self._idle else None
        extractor = self._idle.pop()
        extractor.submit(html, page.get("url"))  # the child works while we finish the previous page
        self._in_flight.append((extractor, page, window, timestamp))
        if ready:
            yield self._windowed_output(*ready)

    def finish_bundle(self):
        while self._in_flight:
            yield self._windowed_output(*self._receive_oldest())

    def _windowed_output(self, page, result, window, timestamp):
        return in_window_of(self._output(page, result), timestamp, window)

    def _receive_oldest(self):
        """Free the oldest in-flight extractor: (page, its (hints, trafilatura fields) or rejection,
        window, timestamp)."""
        extractor, page, window, timestamp = self._in_flight.popleft()
        self._idle.append(extractor)
        try:
            result = extractor.result()
        except PageRejected as exc:
            result = exc
        return page, result, window, timestamp

    def _output(self, page: RawPage, result):
        """The article for an extraction result, or its failures row."""
        try:
            if isinstance(result, PageRejected):
                raise result
            article = page_to_article(page, *result, self._config.min_words, self._agencies)
        except PageRejected as exc:
            return _rejected(page["source"], exc.error_type, str(exc))
        except Exception as exc:  # noqa: BLE001 -- a bug or a page we did not foresee: record it, keep the run alive
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
        results = pages | "ExtractPages" >> beam.ParDo(_ExtractFn(self._config)).with_outputs(FAILED, main="articles")
        return results.articles, results[FAILED]
