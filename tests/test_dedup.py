from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from transforms.dedup import DedupByUrl, ExactStories, pick_representative, story_rows


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


def test_story_rows_canonical_is_earliest_then_longest():
    members = [
        article("late.html", "id-late", published=5, words=900, domain="b.example"),
        article("early-short.html", "id-early-short", published=1, words=100),
        article("early-long.html", "id-early-long", published=1, words=300),
    ]
    articles, story = story_rows("story1", members)
    canonical = [a["article_id"] for a in articles if a["is_canonical"]]
    assert canonical == ["id-early-long"] == [story["canonical_article_id"]]
    assert story["article_count"] == 3 and story["domains"] == ["b.example", "x.example"]


def test_dedup_and_exact_stories_pipeline():
    inputs = [
        article("a.html", "id-a", published=1, sha="1"),
        article("a-copy.html", "id-a", published=3, sha="1"),
        article("b.html", "id-b", published=2, sha="1"),
        article("c.html", "id-c", published=2, sha="2"),
    ]
    with TestPipeline(runner="FnApiRunner") as p:
        unique, dup_failures = p | beam.Create(inputs) | DedupByUrl()
        with_story, stories = unique | ExactStories()
        assert_that(
            with_story | beam.Map(lambda a: (a["source"], a["story_id"], a["is_canonical"])),
            equal_to([("a.html", "1" * 20, True), ("b.html", "1" * 20, False), ("c.html", "2" * 20, True)]),
            label="articles",
        )
        assert_that(
            stories | "StoryCounts" >> beam.Map(lambda s: (s["story_id"], s["article_count"])),
            equal_to([("1" * 20, 2), ("2" * 20, 1)]),
            label="stories",
        )
        assert_that(
            dup_failures | "Dups" >> beam.Map(lambda f: (f["source"], f["stage"], f["error_type"])),
            equal_to([("a-copy.html", "dedup", "DuplicateUrl")]),
            label="failures",
        )
