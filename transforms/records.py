"""The records every stage exchanges, declared once: URL entries, raw pages, articles, failures.

Records are plain dicts at run time (cheap to pickle, direct to write as Parquet rows); their
keys are declared here as ``TypedDict``s, and built only by the constructors below, so a stage
cannot grow one silently.

    sources ─► UrlEntry ─► fetch ─► RawPage ─► extract ─► Article ─► dedup ─► StoryArticle ─► sinks
                                       every stage also ─► Failure (its ``FAILED`` output)

A ``Failure`` is a row of the ``failures`` table (``schemas.tables.FAILURES``); ``run_id`` and
``schema_version`` are stamped by the writer.
"""

from datetime import datetime, timedelta, timezone
from typing import Optional, TypedDict

FAILED = "failures"  # the tag of every multi-output stage's dead-letter output
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UrlEntry(TypedDict):
    """A URL to fetch, from a feed, a URL list or a Pub/Sub message."""

    url: str  # canonical (``transforms.urls.canonical_url``)
    source: str  # where it was listed: feed URL, ``<file>:<line>``, ``<subscription>#<message id>``
    feed_url: Optional[str]
    title: Optional[str]  # the feed's title of the entry
    published_at: Optional[datetime]  # the feed's date of the entry
    guid: Optional[str]


class RawPage(TypedDict):
    """A page as read or fetched, before extraction."""

    source: str  # where it came from: file path, fetched URL, ``<warc file>#offset=N``
    body: bytes
    url: Optional[str]  # the URL it was served from, when known
    fetched_at: Optional[datetime]
    feed_url: Optional[str]
    charset: Optional[str]  # the transport's declared charset
    feed_title: Optional[str]
    feed_published_at: Optional[datetime]


class Article(TypedDict):
    """An extracted article (the ``articles`` table without its story columns)."""

    article_id: str
    url: Optional[str]
    source: str
    domain: Optional[str]
    feed_url: Optional[str]
    title: Optional[str]
    author: Optional[str]
    published_at: Optional[datetime]
    published_at_source: str  # page / feed / none
    published_at_precision: str  # second / minute / day (a bare date: 00:00 UTC of that day) / none
    published_at_zone: str  # stated (the page gives the zone) / guessed (its country's or language's) / none
    fetched_at: Optional[datetime]
    language: Optional[str]
    text: str
    word_count: int
    content_sha1: str
    wire_source: Optional[str]  # the news agency it credits (transforms.extract.wire)


class StoryFields(TypedDict):
    """What reprint detection adds to an article."""

    story_id: str
    is_canonical: bool
    similarity: float


class StoryArticle(Article, StoryFields):
    """A row of the ``articles`` table."""


class Failure(TypedDict):
    """A row of the ``failures`` table: which input, which stage, why."""

    source: str
    stage: str
    error_type: str
    message: str
    http_status: Optional[int]
    attempts: Optional[int]
    at: datetime


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def epoch_seconds(when: Optional[datetime]) -> Optional[float]:
    return None if when is None else (when - EPOCH).total_seconds()


def from_epoch_seconds(seconds: Optional[float]) -> Optional[datetime]:
    return None if seconds is None else EPOCH + timedelta(seconds=seconds)


def url_entry(url, source, *, feed_url=None, title=None, published_at=None, guid=None) -> UrlEntry:
    return UrlEntry(url=url, source=source, feed_url=feed_url, title=title, published_at=published_at, guid=guid)


def raw_page(
    source: str,
    body: bytes,
    *,
    url: Optional[str] = None,
    fetched_at: Optional[datetime] = None,
    feed_url: Optional[str] = None,
    charset: Optional[str] = None,
    feed_title: Optional[str] = None,
    feed_published_at: Optional[datetime] = None,
) -> RawPage:
    return RawPage(
        source=source, body=body, url=url, fetched_at=fetched_at, feed_url=feed_url, charset=charset,
        feed_title=feed_title, feed_published_at=feed_published_at,
    )


def failure(
    source: str,
    stage: str,
    error_type: str,
    message: str,
    *,
    http_status: Optional[int] = None,
    attempts: Optional[int] = None,
    at: Optional[datetime] = None,
) -> Failure:
    return Failure(
        source=source, stage=stage, error_type=error_type, message=(message or "")[:2000],
        http_status=http_status, attempts=attempts, at=at or utcnow(),
    )
