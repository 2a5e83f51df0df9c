from datetime import UTC, datetime

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup.by_url import DedupByUrl, pick_representative
from transforms.dedup.fingerprints import variant_id

STORY = "The city council approved a new plan on Monday to expand the bus network into the northern districts"
OTHER = "Heavy rain flooded several streets in the old town overnight and the river rose above its banks"


def article(source, article_id="a1", published=None, words=100, sha="s1", domain="x.example", text=STORY):
    return {
        "text": text,
        "article_id": article_id,
        "source": source,
        "published_at": published and datetime(2026, 11, published, tzinfo=UTC),
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


def test_distinct_content_under_one_url_is_kept_under_its_variant_id():
    """Different stories claiming one URL (a canonical link to a shared page, a URL reused day
    after day) are all articles: the first keeps the URL's id, the others get ids of their own
    content, naming the URL's id in ``url_article_id``."""
    third = "Schools in the province will close on Friday as the storm approaches the coast with strong winds"
    copies = [
        article("a.html", published=1, sha="1"), article("b.html", published=2, sha="2", text=OTHER),
        article("a.html", published=3, sha="3", text=third),
    ]
    for order in (copies, copies[::-1]):
        kept = pick_representative("a1", order)
        assert [(a["source"], a["article_id"], a.get("url_article_id")) for a in kept] == [
            ("a.html", "a1", None), ("b.html", variant_id("a1", "2" * 20), "a1"), ("a.html", variant_id("a1", "3" * 20), "a1"),
        ]


def test_an_edited_copy_under_one_url_is_still_a_duplicate():
    edited = STORY.replace("Monday", "Tuesday") + " after a long debate"
    kept, dup = pick_representative("a1", [article("a.html", published=1, sha="1"), article("b.html", sha="2", text=edited)])
    assert kept["source"] == "a.html" and (dup.value["source"], dup.value["error_type"]) == ("b.html", "DuplicateUrl")
