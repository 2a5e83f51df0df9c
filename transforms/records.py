"""The two record shapes every stage exchanges: raw pages in, failures out.

Records are plain dicts (cheap to pickle, direct to write as Parquet rows).

A *raw page* is what every source (HTML files, fetcher, WARC) emits and the extractor
consumes.  A *failure* is a row of the ``failures`` table (see ``schemas.tables.FAILURES``);
``run_id``/``schema_version`` are stamped by the writer.
"""

from datetime import datetime, timezone
from typing import Optional

FAILURES = "failures"  # tag of the dead-letter output of every multi-output stage


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


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
) -> dict:
    """A page as read or fetched: ``source`` is where it came from (path, URL, WARC file+offset);
    ``url`` the URL it was served from when known; ``charset`` the transport's declared charset."""
    return {
        "source": source,
        "body": body,
        "url": url,
        "fetched_at": fetched_at,
        "feed_url": feed_url,
        "charset": charset,
        "feed_title": feed_title,
        "feed_published_at": feed_published_at,
    }


def failure(
    source: str,
    stage: str,
    error_type: str,
    message: str,
    *,
    http_status: Optional[int] = None,
    attempts: Optional[int] = None,
    at: Optional[datetime] = None,
) -> dict:
    """One row of the failures table: which input, which stage, why."""
    return {
        "source": source,
        "stage": stage,
        "error_type": error_type,
        "message": (message or "")[:2000],
        "http_status": http_status,
        "attempts": attempts,
        "at": at or utcnow(),
    }
