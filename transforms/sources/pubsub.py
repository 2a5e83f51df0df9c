"""Pub/Sub messages (the streaming job's push source) -> URL entries and raw pages.

A message's payload is either one http(s) URL (fetched like a feed entry) or a page's HTML
(attributes: ``url`` where it was served from, ``charset``); anything else is a ``pubsub``
``UnrecognisedMessage`` failure.
"""

import apache_beam as beam
from apache_beam.io.gcp.pubsub import ReadFromPubSub

from transforms.records import FAILED, failure, raw_page, url_entry
from transforms.urls import canonical_url, is_http_url


def parse_message(message, subscription: str):
    """A Pub/Sub message -> a URL entry (main), a raw page (tagged "pages") or a failure."""
    data, attributes = message.data or b"", message.attributes or {}
    source = attributes.get("url") or f"{subscription}#{message.message_id}"
    stripped = data.strip()
    if stripped.startswith(b"<"):
        url = canonical_url(attributes.get("url")) if is_http_url(attributes.get("url")) else None
        fetched_at = message.publish_time or None
        yield beam.pvalue.TaggedOutput(
            "pages", raw_page(source, data, url=url, fetched_at=fetched_at, charset=attributes.get("charset"))
        )
        return
    text = stripped.decode("utf-8", errors="replace")
    if is_http_url(text) and not any(c.isspace() for c in text):
        yield url_entry(canonical_url(text), f"{subscription}#{message.message_id}")
        return
    yield beam.pvalue.TaggedOutput(
        FAILED, failure(source, "pubsub", "UnrecognisedMessage", f"neither a URL nor HTML: {text[:200]!r}")
    )


class ReadPubSubMessages(beam.PTransform):
    """A subscription -> (URL entries, raw pages, failures)."""

    def __init__(self, subscription: str):
        super().__init__()
        self._subscription = subscription

    def expand(self, pbegin):
        messages = (
            pbegin
            | "Read" >> ReadFromPubSub(subscription=self._subscription, with_attributes=True)
            | "Parse" >> beam.FlatMap(parse_message, self._subscription).with_outputs("pages", FAILED, main="entries")
        )
        return messages.entries, messages.pages, messages[FAILED]
