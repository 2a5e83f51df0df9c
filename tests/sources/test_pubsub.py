"""Pub/Sub messages -> URL entries, raw pages or failures (transforms/sources/pubsub.py)."""

from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage

from transforms.records import FAILED
from transforms.sources.pubsub import parse_message
from transforms.urls import canonical_url

SUBSCRIPTION = "projects/newsbeam-test/subscriptions/news"


def run_parse(message):
    outputs = list(parse_message(message, SUBSCRIPTION))
    assert len(outputs) == 1
    out = outputs[0]
    return (out.tag, out.value) if isinstance(out, beam.pvalue.TaggedOutput) else ("entries", out)


def test_pubsub_messages_are_urls_pages_or_failures():
    url = b" https://Site.example/a?utm_source=zalo \n"
    tag, entry = run_parse(PubsubMessage(url, {}, message_id="7"))
    assert tag == "entries" and entry["url"] == canonical_url("https://site.example/a") and entry["source"] == f"{SUBSCRIPTION}#7"
    html = "<html><body><p>Hòa bình</p></body></html>".encode()
    published = datetime(2026, 11, 17, 8, tzinfo=UTC)
    message = PubsubMessage(html, {"url": "https://site.example/x", "charset": "utf-8"}, message_id="8", publish_time=published)
    tag, page = run_parse(message)
    assert tag == "pages" and page["body"] == html and page["source"] == "https://site.example/x"
    assert page["fetched_at"] == published
    assert page["url"] == "https://site.example/x" and page["charset"] == "utf-8"
    tag, row = run_parse(PubsubMessage(b"hello world", {}, message_id="9"))
    assert tag == FAILED and (row["stage"], row["error_type"], row["source"]) == (
        "pubsub", "UnrecognisedMessage", f"{SUBSCRIPTION}#9",
    )
