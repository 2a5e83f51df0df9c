"""Feeds (RSS/Atom/RDF) -> URL entries, with feedparser.

Each entry becomes a URL entry (``records.UrlEntry``) with its canonical URL (see
``transforms.urls``).  Failures (stage ``feed``): at most
one row per feed (``FeedMalformed`` when entries were still recovered, ``FeedUnparseable``
when none were, ``NotAFeed`` for a well-formed body that is no feed), plus one per entry
without a usable http(s) link (``EntryWithoutLink``), a blank one included: it resolves to the
feed's own URL, which is no article.  A feed's document type declaration is dropped before
parsing (``without_prolog``): no entity it declares is ever expanded.
"""

import io
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import urljoin

import apache_beam as beam
import feedparser
from apache_beam.metrics import Metrics

from transforms import records
from transforms.records import EPOCH, url_entry
from transforms.urls import canonical_url

STAGE = "feed"
# Bozo notices about transport metadata (declared charset or media type) on a feed that parsed fine.
_TRANSPORT_NOTICES = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


def _clean_text(value) -> str | None:
    text = unicodedata.normalize("NFC", " ".join(str(value).split())) if value else ""
    return text or None


def _published_at(entry) -> datetime | None:
    """feedparser's parsed date (a UTC struct_time) as an aware datetime."""
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


_XML_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_ELEMENT = re.compile(rb"<[A-Za-z_]")


def without_prolog(body: bytes) -> bytes:
    """The feed from its root element on, after its XML declaration (which names the encoding):
    the document type declaration between them is dropped.  A feed needs none (feedparser knows
    HTML's named entities), and its entity declarations are how entity bombs get in: feedparser's
    lenient parser expands a declared entity with no limit once expat has refused it."""
    declaration = _XML_DECLARATION.match(body)
    root = _ELEMENT.search(body, declaration.end() if declaration else 0)
    if root is None:
        return body
    return (declaration.group(0) if declaration else b"") + body[root.start():]


def parse_feed(
    body: bytes, feed_url: str, content_type: str | None = None
) -> tuple[list[dict], list[dict]]:
    """Parse one feed body into (URL entries, failures); entries deduplicated by canonical URL,
    the first in document order kept.  ``content_type`` is the HTTP header when known."""
    headers = {"content-location": feed_url, "content-type": content_type or "application/xml"}
    # A file object, never bytes/str: feedparser would open a str/bytes that looks like a path or URL.
    # Leading white space before the XML declaration (a common CMS bug) would make it malformed.
    parsed = feedparser.parse(io.BytesIO(without_prolog((body or b"").lstrip())), response_headers=headers)

    entries, failures, seen = [], [], set()
    itself = canonical_url(feed_url)
    for index, entry in enumerate(parsed.entries):
        link = entry.get("link")
        url = canonical_url(urljoin(feed_url, link.strip())) if isinstance(link, str) else None
        url = None if url == itself else url  # a blank link (feedparser resolves an empty Atom href too)
        title = _clean_text(entry.get("title"))
        guid = _clean_text(entry.get("id"))
        if url is None:
            failures.append(
                records.failure(
                    f"{feed_url}#entry={index}",
                    STAGE,
                    "EntryWithoutLink",
                    f"entry {index} has no http(s) link of its own (link={link!r}, guid={guid!r}, title={title!r})",
                )
            )
        elif url not in seen:
            seen.add(url)
            entries.append(
                url_entry(
                    url,
                    feed_url,
                    feed_url=feed_url,
                    title=title,
                    published_at=_published_at(entry),
                    guid=guid,
                )
            )
    failures.extend(_feed_failures(parsed, feed_url))
    return entries, failures


def _feed_failures(parsed, feed_url: str) -> list[dict]:
    """At most one row about the feed as a whole: malformed, or not a feed at all."""
    error = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(error, _TRANSPORT_NOTICES):
        error_type = "FeedMalformed" if parsed.entries else "FeedUnparseable"
        return [records.failure(feed_url, STAGE, error_type, f"{type(error).__name__}: {error}")]
    if not parsed.get("version") and not parsed.entries:
        return [records.failure(feed_url, STAGE, "NotAFeed", "no RSS, Atom or RDF feed found in the body")]
    return []


def _entry_rank(entry: dict) -> tuple:
    """Total order used to pick one entry per URL: earliest published, then smallest source."""
    published = entry.get("published_at")
    return (
        published is None,
        published or EPOCH,
        entry.get("source") or "",
        entry.get("feed_url") or "",
        entry.get("title") or "",
        entry.get("guid") or "",
    )


def first_entry(entries) -> dict:
    """The entry to keep among those sharing a URL (associative, so usable as a combiner)."""
    return min(entries, key=_entry_rank)


class DedupEntries(beam.PTransform):
    """One URL entry per canonical URL, chosen deterministically (see ``first_entry``)."""

    def expand(self, entries):
        return (
            entries
            | "KeyByUrl" >> beam.Map(lambda entry: (entry["url"], entry))
            | "KeepFirst" >> beam.CombinePerKey(first_entry)
            | "DropKey" >> beam.Values()
        )


def _parse_feed_element(element: dict):
    if element.get("not_modified"):  # conditional GET said 304, or the body hash is unchanged
        Metrics.counter(STAGE, "feeds_not_modified").inc()
        return
    entries, failures = parse_feed(element["body"], element["feed_url"], element.get("content_type"))
    yield from entries
    for row in failures:
        yield beam.pvalue.TaggedOutput(records.FAILED, row)


class ParseFeeds(beam.PTransform):
    """Feed bodies ``{"feed_url", "body": bytes, "content_type"?: str, "not_modified"?: bool}``
    (see ``transforms.fetch.client.feed_body``) -> (URL entries, failures); not-modified feeds are skipped.

    Entries are unique per feed; apply ``DedupEntries`` for uniqueness across feeds (bounded input).
    """

    def expand(self, feeds):
        parsed = feeds | "ParseFeed" >> beam.FlatMap(_parse_feed_element).with_outputs(
            records.FAILED, main="entries"
        )
        return parsed.entries, parsed[records.FAILED]
