from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup.by_url import DedupByUrl, pick_representative


def article(source, article_id="a1", published=None, words=100, sha="s1", domain="x.example"):
    return {
        "article_id": article_id,
        "source": source,
        "published_at": published and datetime(2026, 11, published, tzinfo=timezone.utc),
        "word_count": words,
        "content_sha1": sha * 20,
        "domain": domain,
        "title": f"title {source}",
    }


def test_pick_representative_is_order_independent():
    copies = [article("b.html", published=2), article("a.html", published=2), article("c.html", published=1)]
    for order in (copies, copies[::-1]):
        kept, *dups = pick_representative("a1", order)
        assert kept["source"] == "c.html"
        assert sorted(d.value["source"] for d in dups) == ["a.html", "b.html"]
        assert {d.value["error_type"] for d in dups} == {"DuplicateUrl"}


def test_dedup_by_url_pipeline():
    inputs = [
        article("a.html", "id-a", published=1, sha="1"),
        article("a-copy.html", "id-a", published=3, sha="1"),
        article("b.html", "id-b", published=2, sha="1"),
        article("c.html", "id-c", published=2, sha="2"),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        unique, dup_failures = p | beam.Create(inputs) | DedupByUrl()
        assert_that(
            unique | beam.Map(lambda a: (a["source"], a["article_id"])),
            equal_to([("a.html", "id-a"), ("b.html", "id-b"), ("c.html", "id-c")]),
            label="articles",
        )
        assert_that(
            dup_failures | "Dups" >> beam.Map(lambda f: (f["source"], f["stage"], f["error_type"])),
            equal_to([("a-copy.html", "dedup", "DuplicateUrl")]),
            label="failures",
        )
